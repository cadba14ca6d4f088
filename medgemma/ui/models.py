"""The model panel: choose backend, model and adapter while the app runs; the status line shows the result."""

from __future__ import annotations

from dataclasses import replace

import gradio as gr

from ..backends import BACKENDS
from ..backends.openai import public_url
from ..config import BackendConfig, field_help
from ..prompts import STYLES
from ..runtime import Runtime
from .guard import Guard


def adapter_names(runtime: Runtime) -> list[str]:
    """Adapter folders under adapters/ (any folder holding adapter files)."""
    root = runtime.cfg.adapters_dir
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def build_model_panel(runtime: Runtime, status: gr.Markdown, guard: Guard) -> None:
    """Add the backend switcher to the current Blocks; in public mode only admins can load a model."""
    h = field_help(BackendConfig)
    b = runtime.cfg.backend
    with gr.Accordion("Model", open=False):
        with gr.Row():
            backend = gr.Radio(list(BACKENDS), value=b.backend, label="Backend", info=h["backend"])
            model = gr.Textbox(value=b.model, label="Model", info=h["model"])
            adapter = gr.Dropdown([("auto (the shipped adapter, when present)", "auto"), ("none", ""),
                                   *adapter_names(runtime)], value=b.adapter, label="Adapter",
                                  info=h["adapter"], allow_custom_value=False)
        with gr.Row():
            device = gr.Dropdown(["auto", "cpu", "cuda", "mps"], value=b.device, label="Device (hf)",
                                 info=h["device"])
            quant = gr.Dropdown(["none", "4bit", "8bit"], value=b.quantization, label="Quantization (hf)",
                                info=h["quantization"])
            style = gr.Dropdown(["auto", *STYLES], value=b.prompt_style, label="Prompt style",
                                info=h["prompt_style"])
        with gr.Row():
            # Every visitor receives this page, so a user:password in the URL stays on the server.
            shown_url = public_url(b.base_url) if b.base_url else ""
            base_url = gr.Textbox(value=shown_url, label="Server URL (openai)", info=h["base_url"])
            api_model = gr.Textbox(value=b.api_model, label="Server model (openai)", info=h["api_model"])
            api_key = gr.Textbox(value="", label="API key (openai)", type="password",
                                 info="Kept in memory for this app only; never logged.")
            fold = gr.Checkbox(value=b.system_in_user_turn, label="Instruction in the user turn (openai)",
                               info=h["system_in_user_turn"])
        load = gr.Button("Load model", interactive=guard.open, elem_id="mg-load-model")
        guard.protect(load)

    def switch(backend_: str, model_: str, adapter_: str, device_: str, quant_: str, style_: str,
               url_: str, api_model_: str, key_: str, fold_: bool, request: gr.Request) -> str:
        guard.admin(request)
        current = runtime.cfg.backend
        url_ = url_.strip()
        if current.base_url and url_ == public_url(current.base_url):
            url_ = current.base_url  # the shown URL, unchanged: keep the credentials it was shown without
        wanted = replace(
            current, backend=backend_, model=model_.strip(), adapter=adapter_ or "", device=device_,
            quantization=quant_, prompt_style=style_, base_url=url_, api_model=api_model_.strip(),
            api_key=key_ or current.api_key, system_in_user_turn=bool(fold_),
        )
        return "**Backend:** " + runtime.switch_backend(wanted)

    load.click(switch, [backend, model, adapter, device, quant, style, base_url, api_model, api_key, fold], status,
               concurrency_limit=1, api_visibility="private")
