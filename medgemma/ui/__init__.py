"""The Gradio interface. This package and app.py are the only places that import gradio."""

from __future__ import annotations

import gradio as gr

from ..runtime import Runtime
from .chat import build_chat_tab
from .evaluation import build_evaluation_tab
from .export import build_export_tab
from .training import build_training_tab
from .render import CSS

TITLE = "MedGemma Studio"


def build_ui(runtime: Runtime) -> gr.Blocks:
    """The full app: a header, then the chat, evaluation, training and export tabs."""
    with gr.Blocks(title=TITLE, fill_width=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nAsk a medical question: the answer is written from trusted educational passages "
            "and cites them by number. For learning only, not for medical decisions."
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                build_chat_tab(runtime, demo)
            with gr.Tab("Evaluation", id="evaluation"):
                build_evaluation_tab(runtime)
            with gr.Tab("Training", id="training"):
                build_training_tab(runtime)
            with gr.Tab("Export", id="export"):
                build_export_tab(runtime)
    return demo


def launch_kwargs() -> dict[str, object]:
    """Styling passed to `launch()` (Gradio 6 takes theme and CSS there)."""
    return {"css": CSS, "theme": gr.themes.Soft()}
