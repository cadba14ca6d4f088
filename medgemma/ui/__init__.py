"""The Gradio interface. This package and app.py are the only places that import gradio."""

from __future__ import annotations

import gradio as gr

from ..access import Access
from ..runtime import Runtime
from .chat import build_chat_tab
from .evaluation import build_evaluation_tab
from .export import build_export_tab
from .guard import Guard
from .render import CSS, EMBED_CSS
from .training import build_training_tab

TITLE = "MedGemma Studio"
PUBLIC_NOTE = ("This is a public demo: chat freely (a few questions a minute each); training, export, evaluation "
               "runs and model or index changes need an admin sign-in (at the bottom of the page).")


def build_ui(runtime: Runtime, access: Access | None = None) -> gr.Blocks:
    """The full app: a header, then the chat, evaluation, training and export tabs."""
    guard = Guard(access or Access(runtime.cfg.access, runtime.cfg.uploads_dir))
    with gr.Blocks(title=TITLE, fill_width=False, delete_cache=cache_lifetime(runtime), analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {TITLE}\nAsk a medical question: the answer is written from trusted educational passages "
            "and cites them by number. For learning only, not for medical decisions."
            + (f"\n\n*{PUBLIC_NOTE}*" if guard.access.public else "")
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                build_chat_tab(runtime, demo, guard)
            with gr.Tab("Evaluation", id="evaluation"):
                build_evaluation_tab(runtime, guard)
            with gr.Tab("Training", id="training"):
                build_training_tab(runtime, guard)
            with gr.Tab("Export", id="export"):
                build_export_tab(runtime, guard)
        guard.build_sign_in()
    return demo


def build_embed(runtime: Runtime, access: Access | None = None) -> gr.Blocks:
    """The iframe layout for teaching pages: the safety banner, the chat and its sources, sized for a column."""
    guard = Guard(access or Access(runtime.cfg.access, runtime.cfg.uploads_dir))
    with gr.Blocks(title=TITLE, fill_width=True, delete_cache=cache_lifetime(runtime), analytics_enabled=False) as demo:
        build_chat_tab(runtime, demo, guard, embed=True)
        gr.HTML('<div class="mg-embed-foot">Answers come from a small model and cite their sources; check them. '
                'Educational use only.</div>')
    return demo


# Gradio's usage statistics are off on every Blocks: nothing leaves the machine (docs/governance/privacy.md).

def cache_lifetime(runtime: Runtime) -> tuple[int, int]:
    """Gradio's `delete_cache`: its copies of uploads and shown files go after the age uploads are kept."""
    age = 60 * runtime.cfg.access.upload_max_age_minutes
    return max(60, age // 4), age


def launch_kwargs(embed: bool = False) -> dict[str, object]:
    """Styling passed to `launch()` or `mount_gradio_app()` (Gradio 6 takes theme and CSS there)."""
    return {"css": CSS + (EMBED_CSS if embed else ""), "theme": gr.themes.Soft()}
