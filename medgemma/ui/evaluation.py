"""The Evaluation tab: run a task on the current configuration, read its figures, compare runs.

A run evaluates whatever the chat serves now (backend, model and adapter from the Model panel, index from
the Knowledge base), with the RAG setting and k chosen here. It shares the model with chat visitors, one
item at a time, and can be stopped and resumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ..config import shown_path
from ..errors import MedGemmaError
from ..eval.plots import category_figure, comparison_heatmap, confusion_figure, headline_rows, reliability_figure
from ..eval.runner import RunSpec, list_runs, load_run, run_task
from ..eval.tasks import TASKS, load_task
from ..runtime import Runtime
from .guard import Guard
from .chat import StopSignals

HEADERS = ["figure", "value", "95% interval"]
FAILED_HEADERS = ["id", "category", "question", "reference", "prediction"]


def build_evaluation_tab(runtime: Runtime, guard: Guard) -> None:
    """Add the evaluation form, results and comparison to the current Blocks. In public mode only admins run
    evaluations (they occupy the model for minutes); anyone may open and compare runs."""
    signals = StopSignals()
    runs_dir = runtime.cfg.runs_dir
    gr.Markdown("Measure the configuration the chat uses now (choose backend, model and adapter in the chat "
                "tab's Model panel) on a public benchmark. Multiple-choice tasks score each option's "
                "likelihood, which also shows how well the model's confidence matches its accuracy.")
    with gr.Row():
        task = gr.Dropdown([(f"{n} — {t.description}", n) for n, t in TASKS.items()], value="pubmedqa-rag",
                           label="Task", scale=3)
        rag = gr.Checkbox(value=True, label="Answer from sources (RAG)", scale=1)
        k = gr.Slider(0, 10, value=runtime.cfg.retrieval.k, step=1, label="Passages (k)", scale=1)
    with gr.Row():
        limit = gr.Number(value=20, precision=0, minimum=1, label="Items (a fixed sample; empty = all)")
        seed = gr.Number(value=0, precision=0, label="Sample seed")
        max_new = gr.Slider(16, 512, value=128, step=16, label="Max new tokens (generated answers)")
        fresh = gr.Checkbox(value=False, label="Start over (otherwise an unfinished run resumes)")
    with gr.Row():
        run = gr.Button("Run evaluation", variant="primary", interactive=guard.open)
        stop = gr.Button("Stop", variant="stop")
    guard.protect(run)
    summary = gr.Markdown()
    table = gr.Dataframe(headers=HEADERS, label="Metrics", interactive=False)
    with gr.Row():
        by_category = gr.Plot(label="By category")
        reliability = gr.Plot(label="Reliability")
        confusion = gr.Plot(label="Confusion")
    failed = gr.Dataframe(headers=FAILED_HEADERS, label="Failed cases", interactive=False, wrap=True)

    gr.Markdown("### Open and compare runs\nPick one run to open it above, or two or more, e.g. the base model "
                "against an adapter, or RAG on against RAG off, to see what retrieval and fine-tuning change.")
    with gr.Row():
        chosen = gr.Dropdown(_run_names(runs_dir), multiselect=True, label="Runs", scale=4, elem_id="mg-eval-runs")
        refresh = gr.Button("Refresh list", scale=1)
        compare = gr.Button("Compare", variant="secondary", scale=1, elem_id="mg-eval-compare")
    compared = gr.Dataframe(label="Side by side", interactive=False, wrap=True)
    heatmap = gr.Plot(label="By category × run")

    def start(task_: str, rag_: bool, k_: float, limit_: float | None, seed_: float | None, max_new_: float,
              fresh_: bool, request: gr.Request, progress: Any = gr.Progress()) -> tuple[Any, ...]:
        guard.admin(request)
        signal = signals.get(guard.visitor(request))
        signal.clear()
        try:
            n = int(limit_) if limit_ else None
            spec = RunSpec(task=task_, rag=bool(rag_), k=int(k_), limit=n, seed=int(seed_ or 0),
                           max_new_tokens=int(max_new_))
            items = load_task(task_, limit=n, seed=spec.seed)
            progress(0, desc=f"{task_}: loading the model")

            def on_progress(done: int, total: int) -> None:
                progress((done, total), desc=f"{task_}: {done}/{total} items", unit="items")

            # A run takes one place in the line for the model that chat and the API share.
            with guard.access.turns.turn(stop=lambda: signal.is_set):
                result = run_task(runtime.assistant(), spec, items, runs_dir, fresh=bool(fresh_),
                                  progress=on_progress, stop=signal)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        state = "finished" if result.finished else "stopped; press Run again to resume"
        note = (f"**{result.folder.name}**: {result.metrics['n']}/{result.metrics['of']} items, {state}. "
                f"Files: `{shown_path(result.folder)}`")
        return (note, *_views(result.metrics, result.records), gr.update(choices=_run_names(runs_dir)))

    def request_stop(request: gr.Request) -> None:
        signals.get(guard.visitor(request)).set()

    def show_compare(names: list[str] | None) -> tuple[Any, ...]:
        if not names:
            raise gr.Error("Choose at least one run.")
        try:
            loaded = [(name, load_run(runs_dir / Path(name).name)) for name in names]
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        runs = [(name, metrics) for name, (metrics, _) in loaded]
        figures = sorted({row[0] for _, m in runs for row in headline_rows(m)})
        values = {name: {row[0]: row[1] for row in headline_rows(m)} for name, m in runs}
        rows = [[f, *(values[name].get(f, "") for name, _ in runs)] for f in figures]
        frame = gr.update(value=rows, headers=["figure", *(_short(name) for name, _ in runs)])
        first_metrics, first_records = loaded[0][1]
        note = f"Showing **{names[0]}** above; all chosen runs side by side below."
        return (frame, comparison_heatmap([(_short(name), m) for name, m in runs]), note,
                *_views(first_metrics, first_records))

    outputs = [summary, table, by_category, reliability, confusion, failed, chosen]
    run.click(start, [task, rag, k, limit, seed, max_new, fresh], outputs, concurrency_limit=1,
              api_visibility="private")
    stop.click(request_stop, None, None, queue=False, api_visibility="private")
    refresh.click(lambda: gr.update(choices=_run_names(runs_dir)), None, chosen, api_visibility="private")
    compare.click(show_compare, chosen,
                  [compared, heatmap, summary, table, by_category, reliability, confusion, failed],
                  api_visibility="private")


def _views(metrics: dict[str, Any], records: list[dict[str, Any]]) -> tuple[Any, ...]:
    failed = [[r["id"], r.get("category", ""), r["question"][:400], str(r.get("reference", ""))[:300],
               str(r.get("prediction", ""))[:400]] for r in records if r.get("correct") is False]
    return (headline_rows(metrics), category_figure(metrics), reliability_figure(metrics),
            confusion_figure(metrics), failed[:200])


def _run_names(runs_dir: Path) -> list[str]:
    return [p.name for p in list_runs(runs_dir)]


def _short(name: str) -> str:
    """Task, backend, adapter and RAG setting of a run name, for column headers."""
    parts = name.split("__")
    return " · ".join(parts[i] for i in (0, 1, 3, 4)) if len(parts) >= 5 else name
