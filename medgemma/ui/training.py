"""The Training tab: set up a LoRA fine-tuning run, start, stop and resume it, and watch its loss.

Training runs as a child process of the CLI (`medgemma.train.jobs`), so the app stays responsive; the tab
reads the run's files every two seconds, so a page reload, or a restart of the app, loses nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from ..access import Access
from ..config import field_help, shown_path
from ..errors import MedGemmaError
from ..train import jobs
from ..train.config import METHODS, TrainConfig
from ..train.recipes import RECIPES
from ..runtime import Runtime
from .guard import Guard

# Files the training reader (train/data.py) reads, gzipped or not; anything else would fail later, in the job.
UPLOAD_TYPES = (".jsonl", ".json", ".csv", ".jsonl.gz", ".json.gz", ".csv.gz")
LARGER = "Give the path of a larger file on this machine instead."
HELP = field_help(TrainConfig)
# Settings shown in the form, in order; the rest keep their defaults (the CLI and YAML files reach them all).
FORM = ("lora_r", "lora_alpha", "lora_dropout", "learning_rate", "epochs", "max_steps", "per_device_batch_size",
        "gradient_accumulation_steps", "max_seq_length", "save_steps", "eval_steps", "val_fraction")


def build_training_tab(runtime: Runtime, guard: Guard) -> None:
    """Add the training form and the run monitor to the current Blocks; in public mode only admins start or
    stop runs (anyone may watch them)."""
    adapters_dir = runtime.cfg.adapters_dir
    defaults = TrainConfig()
    gr.Markdown("Fine-tune a LoRA adapter for the chat model. Runs in the background and saves a checkpoint "
                f"every few steps: stop it any time and press Start again to resume. Adapters land in "
                f"`{shown_path(adapters_dir)}/<name>/` with their provenance and card.")
    with gr.Row():
        name = gr.Textbox(value=defaults.output_name, label="Adapter name", info=HELP["output_name"])
        base = gr.Textbox(value="", label="Base model", placeholder="embedded Gemma 3 270M",
                          info=HELP["base_model"])
        quantization = gr.Dropdown(["none", "4bit", "8bit"], value="none", label="Quantization",
                                   info=HELP["quantization"])
    with gr.Row():
        method = gr.Dropdown(list(METHODS), value=defaults.method, label="Method", info=HELP["method"])
        init_adapter = gr.Textbox(value="", label="Start from adapter", placeholder="empty: train a new adapter",
                                  info=HELP["init_adapter"])
    with gr.Row():
        source = gr.Radio(["recipe", "upload", "path"], value="recipe", label="Training data",
                          info="A built-in recipe over the public data sets, a file you upload, or a path here.")
        recipe = gr.Dropdown(list(RECIPES), value="grounded", label="Recipe", info=HELP["recipe"])
        limit = gr.Number(value=500, precision=0, minimum=0, label="Examples (0 = all)", info=HELP["limit"])
    with gr.Row():
        upload = gr.File(label=f"Upload (jsonl, json, csv; up to {guard.access.cfg.upload_mb} MB)",
                         file_types=[".jsonl", ".json", ".csv", ".gz"])
        path = gr.Textbox(label="Path on this machine", placeholder="data/train.jsonl")
    with gr.Accordion("Hyperparameters", open=False):
        fields_: dict[str, Any] = {}
        for chunk in (FORM[:4], FORM[4:8], FORM[8:]):
            with gr.Row():
                for key in chunk:
                    value = getattr(defaults, key)
                    fields_[key] = gr.Number(value=value, label=key.replace("_", " "), info=HELP[key],
                                             precision=0 if isinstance(value, int) else None)
        with gr.Row():
            packing = gr.Checkbox(value=defaults.packing, label="packing", info=HELP["packing"])
            target = gr.Number(value=None, label="target loss", info=HELP["target_loss"])
    with gr.Row():
        start = gr.Button("Start or resume", variant="primary", interactive=guard.open)
        over = gr.Button("Start over", interactive=guard.open)
        stop = gr.Button("Stop (saves a checkpoint)", variant="stop", interactive=guard.open)
    guard.protect(start, over, stop)
    message = gr.Markdown()
    gr.Markdown("### Runs")
    with gr.Row():
        job = gr.Dropdown(jobs.list_jobs(adapters_dir), label="Run", scale=3)
        refresh = gr.Button("Refresh", scale=1)
    state = gr.Markdown()
    loss_plot = gr.Plot(label="Loss")
    tail = gr.Textbox(label="Output (last lines)", lines=10, max_lines=10, autoscroll=True)
    timer = gr.Timer(2.0)

    def launch(resume: bool, name_: str, base_: str, quant: str, method_: str, init_: str, source_: str,
               recipe_: str, limit_: float | None, upload_: str | None, path_: str, packing_: bool,
               target_: float | None, *numbers: float) -> tuple[Any, str]:
        try:
            cfg = TrainConfig(output_name=(name_ or "").strip(), base_model=(base_ or "").strip(),
                              quantization=quant, method=method_ or "sft", init_adapter=(init_ or "").strip(),
                              packing=bool(packing_),
                              target_loss=float(target_) if target_ else None,
                              **{k: _number(getattr(defaults, k), v) for k, v in zip(FORM, numbers)})
            folder = jobs.job_folder(adapters_dir, cfg.output_name)
            cfg = _with_data(cfg, folder, source_, recipe_, int(limit_ or 0), upload_, path_, guard.access)
            jobs.start(cfg, adapters_dir, resume=resume)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        return gr.update(choices=jobs.list_jobs(adapters_dir), value=cfg.output_name), (
            f"Started **{cfg.output_name}** ({'resuming its checkpoints if any' if resume else 'from scratch'}).")

    def start_run(request: gr.Request, *values: Any) -> tuple[Any, str]:
        guard.admin(request)
        return launch(True, *values)

    def start_over(request: gr.Request, *values: Any) -> tuple[Any, str]:
        guard.admin(request)
        return launch(False, *values)

    def halt(name_: str | None, request: gr.Request) -> str:
        guard.admin(request)
        try:
            stopped = bool(name_) and jobs.stop(adapters_dir, name_)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        return "Stopping at the next step, after a checkpoint." if stopped else "That run is not running."

    def show(name_: str | None) -> tuple[str, Any, str]:
        if not name_:
            return "Choose a run.", None, ""
        try:
            st = jobs.status(adapters_dir, name_)
        except MedGemmaError as exc:
            return str(exc), None, ""
        return _state_line(st), _loss_figure(st.log), st.tail

    inputs = [name, base, quantization, method, init_adapter, source, recipe, limit, upload, path, packing, target, *fields_.values()]
    start.click(start_run, inputs, [job, message], api_visibility="private")
    over.click(start_over, inputs, [job, message], api_visibility="private")
    stop.click(halt, job, message, api_visibility="private")
    refresh.click(lambda: gr.update(choices=jobs.list_jobs(adapters_dir)), None, job, api_visibility="private")
    job.change(show, job, [state, loss_plot, tail], api_visibility="private")
    timer.tick(show, job, [state, loss_plot, tail], api_visibility="private", show_progress="hidden")


def _number(default: Any, value: float | None) -> Any:
    if value is None:
        return default
    return int(value) if isinstance(default, int) and not isinstance(default, bool) else float(value)


def _with_data(cfg: TrainConfig, folder: Path, source: str, recipe: str, limit: int, upload: str | None,
               path: str, access: Access) -> TrainConfig:
    """`cfg` reading the chosen data; an upload is checked against the upload limit, then copied into `folder`."""
    if source == "recipe":
        args = {"limit": limit} if limit else {}
        return replace(cfg, recipe=recipe, recipe_args=args, data=())
    if source == "upload":
        src = Guard.uploaded(upload)
        if src is None:
            raise gr.Error("Choose a file to upload, or pick a recipe.")
        access.check_upload(src, UPLOAD_TYPES, LARGER)
        keep = folder / "data"
        keep.mkdir(parents=True, exist_ok=True)
        target = keep / Path(src.name).name  # the upload's own name, never a path it carries
        shutil.copyfile(src, target)
        return replace(cfg, data=(str(target),), recipe="", limit=limit)
    if not path or not Path(path).expanduser().is_file():
        raise gr.Error(f"No file at {path!r}.")
    return replace(cfg, data=(str(Path(path).expanduser()),), recipe="", limit=limit)


def _state_line(st: jobs.JobStatus) -> str:
    last = st.last
    head = "running" if st.running else ("finished: adapter saved" if st.finished else "not running")
    if not last:
        return f"**{st.name}**: {head}."
    parts = [f"step {last.get('step')}/{last.get('max_steps')}"]
    if last.get("loss") is not None:
        parts.append(f"loss {last['loss']:.3f}")
    if last.get("eval_loss") is not None:
        parts.append(f"validation loss {last['eval_loss']:.3f}")
    if st.running and last.get("eta") is not None:
        parts.append(f"about {last['eta'] / 60:.0f} min left")
    return f"**{st.name}**: {head} · " + " · ".join(parts)


def _loss_figure(log: list[dict[str, Any]]) -> go.Figure | None:
    train = [(r["step"], r["loss"]) for r in log if r.get("event") == "log" and r.get("loss") is not None]
    val = [(r["step"], r["eval_loss"]) for r in log if r.get("event") == "eval" and r.get("eval_loss") is not None]
    if not train and not val:
        return None
    fig = go.Figure()
    if train:
        fig.add_scatter(x=[s for s, _ in train], y=[v for _, v in train], mode="lines+markers", name="training")
    if val:
        fig.add_scatter(x=[s for s, _ in val], y=[v for _, v in val], mode="lines+markers", name="validation")
    fig.update_layout(xaxis_title="step", yaxis_title="loss", height=340, margin={"t": 30})
    return fig
