"""The sources panel: pick which index the chat answers from, or build one from uploaded documents.

Uploads are ingested into a new index folder (written atomically), so a bad file changes nothing: the
error names the file and the existing indices stay as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import MedGemmaError
from ..rag.indexes import build_index, list_indices
from ..rag.ingest import SUPPORTED
from ..runtime import Runtime
from .guard import Guard

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # larger collections belong to `python -m medgemma ingest`


def build_documents_panel(runtime: Runtime, status: gr.Markdown, guard: Guard) -> None:
    """Add the index chooser and the upload form to the current Blocks; in public mode only admins change
    indices (the index is shared by every visitor)."""
    with gr.Accordion("Knowledge base", open=False):
        with gr.Row():
            choice = gr.Dropdown(list_indices(runtime.cfg) or ["default"], value=runtime.cfg.retrieval.index,
                                 label="Answer from index", allow_custom_value=False, scale=2)
            use = gr.Button("Use this index", scale=1, interactive=guard.open)
        with gr.Row():
            files = gr.File(label=f"Add documents ({', '.join(SUPPORTED)}; up to 20 MB in all)",
                            file_count="multiple", file_types=list(SUPPORTED), scale=2)
            with gr.Column(scale=1):
                name = gr.Textbox(label="New index name", placeholder="my-notes")
                build = gr.Button("Build index", variant="secondary", interactive=guard.open)
        report = gr.Markdown()
    guard.protect(use, build)

    def use_index(index: str, request: gr.Request) -> tuple[str, str]:
        guard.admin(request)
        try:
            line = runtime.switch_index(index)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        return line, "**Backend:** " + runtime.assistant().backend.info().line()

    def build_from_uploads(paths: list[str] | None, index: str, request: gr.Request,
                           progress: Any = gr.Progress()) -> tuple[Any, str]:
        guard.admin(request)
        if not paths:
            raise gr.Error("Choose one or more files to add.")
        index = (index or "").strip()
        if index == "default":
            raise gr.Error("'default' is rebuilt from the shipped corpus; choose another name.")
        paths = [str(Guard.uploaded(p)) for p in paths]
        total = sum(Path(p).stat().st_size for p in paths)
        if total > MAX_UPLOAD_BYTES:
            raise gr.Error(f"The files add up to {total / 1e6:.1f} MB; the limit here is 20 MB. "
                           "Use `python -m medgemma ingest` for larger collections.")
        progress(0, desc="Reading documents")

        def on_batch(done: int, count: int) -> None:
            progress(done / count, desc=f"Embedding {done}/{count} passages")

        try:
            # Uploads are copied into this visitor's own folder under safe names before anything reads them.
            kept = [guard.access.keep_upload(guard.visitor(request), Path(p), SUPPORTED) for p in paths]
            retriever = build_index(kept, index, runtime.cfg, on_batch=on_batch)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        names = list_indices(runtime.cfg)
        return gr.update(choices=names, value=index), (
            f"Built index **{index}** with {len(retriever)} passages. Choose it above to answer from it.")

    use.click(use_index, choice, [report, status], api_visibility="private")
    build.click(build_from_uploads, [files, name], [choice, report], concurrency_limit=1, api_visibility="private")
