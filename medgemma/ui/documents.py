"""The sources panel: pick which index the chat answers from, or build one from uploaded documents.

Uploads are ingested into a new index folder (written atomically), so a bad file changes nothing: the
error names the file and the existing indices stay as they were.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..errors import MedGemmaError
from ..rag.indexes import build_index, list_indices
from ..rag.ingest import SUPPORTED
from ..runtime import Runtime
from .guard import Guard

LARGER = "Use `python -m medgemma ingest` for larger collections."


def build_documents_panel(runtime: Runtime, status: gr.Markdown, guard: Guard) -> None:
    """Add the index chooser and the upload form to the current Blocks; in public mode only admins change
    indices (the index is shared by every visitor). The files of one upload share the one upload limit."""
    limits = guard.access.cfg
    with gr.Accordion("Knowledge base", open=False):
        with gr.Row():
            choice = gr.Dropdown(list_indices(runtime.cfg) or ["default"], value=runtime.cfg.retrieval.index,
                                 label="Answer from index", allow_custom_value=False, scale=2)
            use = gr.Button("Use this index", scale=1, interactive=guard.open)
        with gr.Row():
            files = gr.File(label=f"Add documents ({', '.join(SUPPORTED)}; up to {limits.upload_mb} MB in all)",
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
        uploads = [u for u in map(Guard.uploaded, paths) if u is not None]
        progress(0, desc="Reading documents")

        def on_batch(done: int, count: int) -> None:
            progress(done / count, desc=f"Embedding {done}/{count} passages")

        try:
            guard.access.check_uploads(uploads, SUPPORTED, LARGER)
            # Uploads are copied into this visitor's own folder under safe names before anything reads them.
            kept = [guard.access.keep_upload(guard.visitor(request), p, SUPPORTED) for p in uploads]
            # What a document may decompress to is bounded by the same limit as what was sent.
            retriever = build_index(kept, index, runtime.cfg, on_batch=on_batch, max_bytes=limits.upload_bytes)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        names = list_indices(runtime.cfg)
        return gr.update(choices=names, value=index), (
            f"Built index **{index}** with {len(retriever)} passages. Choose it above to answer from it.")

    use.click(use_index, choice, [report, status], api_visibility="private")
    build.click(build_from_uploads, [files, name], [choice, report], concurrency_limit=1, api_visibility="private")
