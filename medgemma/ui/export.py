"""The Export tab: turn a trained adapter into the files people serve, verify each one, download them.

The export runs `python -m medgemma export` as a child process (it loads models and llama.cpp; a crash there
must not take the app down); its output lines are the per-step progress, and `export_report.json` holds the
checks the tab shows at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from ..config import ROOT
from ..export.cli import FORMATS
from ..export.quantize import QTYPES
from ..runtime import Runtime
from .guard import Guard
from .models import adapter_names

CHOICES = [*FORMATS, *QTYPES]


def build_export_tab(runtime: Runtime, guard: Guard) -> None:
    """Add the export form, its live output, the verification table and the downloads (admins only in public
    mode)."""
    adapters_dir = runtime.cfg.adapters_dir
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
        dtype = gr.Dropdown(["float16", "bfloat16", "float32"], value="float16", label="Merged precision")
        outtype = gr.Dropdown(["f16", "bf16", "f32", "q8_0"], value="f16", label="GGUF type")
    run = gr.Button("Export and verify", variant="primary", interactive=guard.open)
    guard.protect(run)
    log = gr.Textbox(label="Progress", lines=12, max_lines=12, autoscroll=True)
    checks = gr.Dataframe(headers=["file", "check", "result"], label="Verification", interactive=False)
    files = gr.File(label="Files", file_count="multiple", interactive=False)

    def export(name: str | None, chosen: list[str], dtype_: str, outtype_: str,
               request: gr.Request) -> Iterator[tuple[Any, ...]]:
        guard.admin(request)
        if not name:
            raise gr.Error("Choose an adapter.")
        if not chosen:
            raise gr.Error("Choose at least one format.")
        cmd = [sys.executable, "-m", "medgemma", "export", "--adapter", name, "--formats", ",".join(chosen),
               "--dtype", dtype_, "--gguf-outtype", outtype_, "--adapters-dir", str(adapters_dir), "--out", str(exports_dir / name)]
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, text=True, errors="replace")
        lines: list[str] = []
        assert child.stdout is not None
        for line in child.stdout:
            # tqdm redraws with carriage returns: keep the last state of each line.
            lines.append(line.rstrip("\n").split("\r")[-1])
            yield "\n".join(lines[-200:]), None, None
        code = child.wait()
        folder = exports_dir / name
        rows, paths = _report(folder)
        if code not in (0, 1):
            raise gr.Error(f"The export stopped with an error; see its output. {lines[-1] if lines else ''}")
        yield "\n".join(lines[-200:]), rows, paths

    run.click(export, [adapter, formats, dtype, outtype], [log, checks, files], concurrency_limit=1,
              api_visibility="private")
    refresh.click(lambda: gr.update(choices=adapter_names(runtime)), None, adapter, api_visibility="private")


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
