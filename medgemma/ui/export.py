"""The Export tab: turn a trained adapter into the files people serve, verify each one, download them.

The export runs `python -m medgemma export` as a child process (`medgemma.export.jobs`): it loads models and
llama.cpp, and a crash there must not take the app down. The tab polls the export's `export_progress.json` every
two seconds, so a page reload, or a restart of the app, shows the export under way; at the end
`export_report.json` holds the checks the tab shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import gradio as gr

from .. import jobs
from ..export import jobs as export_jobs
from ..export.cli import FORMATS
from ..export.quantize import QTYPES
from ..errors import InputError, MedGemmaError
from ..runtime import Runtime
from .guard import Guard
from .models import adapter_names

CHOICES = [*FORMATS, *QTYPES]


def build_export_tab(runtime: Runtime, guard: Guard, command: Sequence[str] = jobs.CLI) -> None:
    """Add the export form, its live output, the verification table and the downloads (admins only in public
    mode)."""
    exports_dir = runtime.cfg.exports_dir
    gr.Markdown("Export a trained adapter: the PEFT adapter, merged safetensors, GGUF for llama.cpp (and a GGUF "
                "LoRA the CPU backend applies over the shipped model), quantized GGUF and ONNX. Every file is "
                "checked against transformers: top-1 next-token agreement and the chat template.")
    with gr.Row():
        adapter = gr.Dropdown(adapter_names(runtime), label="Adapter", scale=2)
        refresh = gr.Button("Refresh", scale=1)
    formats = gr.CheckboxGroup(CHOICES, value=["adapter", "merged", "gguf", "gguf-lora", "q4_k_m"], label="Formats",
                               info="gguf-lora: a LoRA file for llama.cpp; q4_k_m etc. quantize the GGUF.")
    with gr.Row():
        dtype = gr.Dropdown(list(export_jobs.DTYPES), value="float16", label="Merged precision")
        outtype = gr.Dropdown(list(export_jobs.OUTTYPES), value="f16", label="GGUF type")
    with gr.Row():
        run = gr.Button("Export and verify", variant="primary", interactive=guard.open)
        halt_button = gr.Button("Stop", interactive=guard.open)
    guard.protect(run, halt_button)
    note = gr.Markdown()
    line = gr.Markdown()
    log = gr.Textbox(label="Progress", lines=12, max_lines=12, autoscroll=True)
    checks = gr.Dataframe(headers=["file", "check", "result"], label="Verification", interactive=False)
    files = gr.File(label="Files", file_count="multiple", interactive=False)
    shown = gr.State("")  # what the views show now, so a poll leaves them alone until something moves
    timer = gr.Timer(2.0)

    def begin(name: str | None, chosen: list[str], dtype_: str, outtype_: str, request: gr.Request) -> str:
        guard.admin(request)
        try:
            return start(runtime, name, chosen, dtype_, outtype_, command=command)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc

    def halt(request: gr.Request) -> str:
        guard.admin(request)
        return stop_job(exports_dir)

    run.click(begin, [adapter, formats, dtype, outtype], note, concurrency_limit=1, api_visibility="private")
    halt_button.click(halt, None, note, api_visibility="private")
    timer.tick(lambda seen: poll(exports_dir, seen), shown, [shown, line, log, checks, files],
               api_visibility="private", show_progress="hidden")
    refresh.click(lambda: gr.update(choices=adapter_names(runtime)), None, adapter, api_visibility="private")


def start(runtime: Runtime, name: str | None, chosen: list[str] | None, dtype: str, outtype: str, *,
          command: Sequence[str] = jobs.CLI) -> str:
    """Check the choices and start the export child; raises InputError (shown to the user) on bad input."""
    if not name:
        raise InputError("Choose an adapter.")
    if not chosen:
        raise InputError("Choose at least one format.")
    cfg = runtime.cfg
    args = export_jobs.cli_args(name, chosen, dtype, outtype, cfg.adapters_dir, cfg.exports_dir)
    export_jobs.start(cfg.exports_dir, args, command=command)
    return f"Started the export of {name} ({', '.join(chosen)})."


def stop_job(exports_dir: Path) -> str:
    """Stop the running export; what is left is the previous complete output, or none."""
    if export_jobs.stop(exports_dir):
        return "Stopping the export: the step under way is dropped, earlier steps stay."
    return "No export is running."


def poll(exports_dir: Path, seen: str) -> tuple[Any, ...]:
    """(key, status line, the child's output, verification rows, files) for the last export started here.

    The table and files are sent once when the export ends (the key names the job and its state) and skipped
    on later polls: sending the files again would copy them into Gradio's cache every two seconds."""
    job = export_jobs.status(exports_dir)
    if not job.started:
        return "", "", "", gr.skip(), gr.skip()
    p = job.progress
    state = "running" if job.running else (p.get("state") or "ended")
    key = f"{jobs.record(export_jobs.job_folder(exports_dir)).get('pid')}|{state}"
    if job.running:
        shown = (f"Export running: step {min(int(p.get('done') or 0) + 1, int(p.get('total') or 1))}/"
                 f"{p.get('total', '?')}, {p.get('step') or 'starting'}." if p else "Export starting...")
        if key != seen:  # a new export: the last one's table and files no longer apply
            return key, shown, job.tail, [], None
        return key, shown, job.tail, gr.skip(), gr.skip()
    shown = f"Export {state}: {p.get('done', 0)}/{p.get('total', '?')} steps." if p else f"Export {state}."
    if key == seen:
        return key, shown, job.tail, gr.skip(), gr.skip()
    rows, paths = _report(job.out) if job.out else ([], [])
    return key, shown, job.tail, rows, paths


def _report(folder: Path) -> tuple[list[list[str]], list[str]]:
    """Rows of the verification table and the exported files (small enough to download) from a report."""
    try:
        report = json.loads((folder / "export_report.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return [], []
    rows = []
    for name, check in (report.get("checks") or {}).items():
        if not isinstance(check, dict):
            continue
        for key in ("top1_agreement", "max_abs_logit_diff", "lora_delta_correlation"):
            if key in check:
                value = check[key]
                rows.append([name, key, f"{value:.4f}" if isinstance(value, float) else str(value)])
        template = check.get("chat_template")
        if isinstance(template, dict) and "renders_same" in template:
            rows.append([name, "chat template renders the same prompt", str(template["renders_same"])])
        if "passed" in check:
            rows.append([name, "passed", str(check["passed"])])
    paths = [str(p) for p in sorted(folder.rglob("*")) if p.is_file() and p.stat().st_size < 2_000_000_000]
    return rows, paths
