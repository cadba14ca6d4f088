"""The Evaluation tab: run a task on the current configuration, watch it, read its figures, compare runs.

A run evaluates what the chat serves now (backend, model and adapter from the Model panel, index from the
Knowledge base), with the RAG setting and k chosen here. It runs as a child process of the CLI
(`medgemma.eval.jobs`): the tab polls its progress file every two seconds, so a page reload, or a restart of
the app, shows it again; Stop ends it after the current item, and the same settings resume it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import gradio as gr

from .. import jobs
from ..config import shown_path
from ..errors import MedGemmaError
from ..eval import jobs as eval_jobs
from ..eval.plots import category_figure, comparison_heatmap, confusion_figure, headline_rows, reliability_figure
from ..eval.runner import RunSpec, list_runs, load_run
from ..eval.tasks import TASKS, load_task
from ..runtime import Runtime
from .guard import Guard

HEADERS = ["figure", "value", "95% interval"]
FAILED_HEADERS = ["id", "category", "question", "reference", "prediction"]
VIEWS = 5  # metrics table, three plots, failed cases


def build_evaluation_tab(runtime: Runtime, guard: Guard, command: Sequence[str] = jobs.CLI) -> None:
    """Add the evaluation form, results and comparison to the current Blocks. In public mode only admins start
    or stop evaluations (they take the CPU for minutes); anyone may watch, open and compare runs."""
    runs_dir = runtime.cfg.runs_dir
    gr.Markdown("Measure the configuration the chat uses now (choose backend, model and adapter in the chat "
                "tab's Model panel) on a public benchmark. Multiple-choice tasks score each option's "
                "likelihood, which also shows how well the model's confidence matches its accuracy. A run "
                "goes on in the background with its own copy of the model: stop it any time and run it again "
                "to resume.")
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
        stop = gr.Button("Stop", variant="stop", interactive=guard.open)
    guard.protect(run, stop)
    message = gr.Markdown()
    summary = gr.Markdown()
    tail = gr.Textbox(label="Output (last lines)", lines=4, max_lines=8, autoscroll=True)
    table = gr.Dataframe(headers=HEADERS, label="Metrics", interactive=False)
    with gr.Row():
        by_category = gr.Plot(label="By category")
        reliability = gr.Plot(label="Reliability")
        confusion = gr.Plot(label="Confusion")
    failed = gr.Dataframe(headers=FAILED_HEADERS, label="Failed cases", interactive=False, wrap=True)
    shown = gr.State("")  # what this page shows of the job, so a poll redraws only when that changes
    timer = gr.Timer(2.0)

    gr.Markdown("### Open and compare runs\nPick one run to open it above, or two or more, e.g. the base model "
                "against an adapter, or RAG on against RAG off, to see what retrieval and fine-tuning change.")
    with gr.Row():
        chosen = gr.Dropdown(_run_names(runs_dir), multiselect=True, label="Runs", scale=4, elem_id="mg-eval-runs")
        refresh = gr.Button("Refresh list", scale=1)
        compare = gr.Button("Compare", variant="secondary", scale=1, elem_id="mg-eval-compare")
    compared = gr.Dataframe(label="Side by side", interactive=False, wrap=True)
    heatmap = gr.Plot(label="By category × run")

    def begin(task_: str, rag_: bool, k_: float, limit_: float | None, seed_: float | None, max_new_: float,
              fresh_: bool, request: gr.Request) -> str:
        guard.admin(request)
        try:
            return start(runtime, task_, rag_, k_, limit_, seed_, max_new_, fresh_, command=command)
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc

    def halt(request: gr.Request) -> str:
        guard.admin(request)
        return stop_job(runs_dir)

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

    watched = [shown, summary, tail, table, by_category, reliability, confusion, failed, chosen]
    run.click(begin, [task, rag, k, limit, seed, max_new, fresh], message, api_visibility="private")
    stop.click(halt, None, message, api_visibility="private")
    timer.tick(lambda seen: poll(runs_dir, seen), shown, watched, api_visibility="private", show_progress="hidden")
    refresh.click(lambda: gr.update(choices=_run_names(runs_dir)), None, chosen, api_visibility="private")
    compare.click(show_compare, chosen,
                  [compared, heatmap, summary, table, by_category, reliability, confusion, failed],
                  api_visibility="private")


def start(runtime: Runtime, task: str, rag: bool, k: float, limit: float | None, seed: float | None,
          max_new: float, fresh: bool, *, command: Sequence[str] = jobs.CLI) -> str:
    """Check the settings, then launch the evaluation of the chat's configuration; returns what to say.

    An unknown task, missing data or an unknown adapter raise here, before any process starts."""
    n = int(limit) if limit else None
    spec = RunSpec(task=task, rag=bool(rag), k=int(k), limit=n, seed=int(seed or 0), max_new_tokens=int(max_new))
    items = load_task(task, limit=n, seed=spec.seed)
    cfg = runtime.cfg
    args = eval_jobs.cli_args(spec, cfg.backend, cfg.retrieval, cfg.adapters_dir, cfg.runs_dir, fresh=bool(fresh))
    eval_jobs.start(cfg.runs_dir, args, command=command)
    return (f"Started **{task}** on {len(items)} items ({'from scratch' if fresh else 'resuming a run if any'}); "
            "the model loads first.")


def stop_job(runs_dir: Path) -> str:
    """Stop the running evaluation after its current item; returns what to say."""
    if eval_jobs.stop(runs_dir):
        return "Stopping after the current item; the metrics so far are written, and Run resumes it."
    return "No evaluation is running."


def poll(runs_dir: Path, seen: str) -> tuple[Any, ...]:
    """(what is shown, state line, output tail, the five views, the runs list) of the last evaluation started
    here. The views are redrawn only when the run's state moved on from `seen`, so an open comparison stays."""
    job = eval_jobs.status(runs_dir)
    if not job.started:
        return _kept(seen, gr.skip(), "")
    p = job.progress
    key = f"{job.run}|{job.running}|{p.get('state')}|{p.get('done')}"
    if key == seen:
        return _kept(seen, gr.skip(), job.tail)
    if job.run is None:
        return _kept(key, "Starting: loading the model…" if job.running
                     else "The evaluation ended before it began (see its output).", job.tail)
    line = f"**{job.run.name}**: {p.get('done', 0)}/{p.get('total', '?')} items"
    if p.get("accuracy") is not None:
        line += f" · accuracy so far {p['accuracy']:.2f} ({p['correct']}/{p['judged']})"
    if job.running:
        return _kept(key, f"{line} · running", job.tail)
    if p.get("state") not in ("finished", "stopped"):  # a crash: metrics.json, if any, is from an older try
        return _kept(key, f"{line} · ended with an error (see its output); Run resumes it.", job.tail)
    try:
        metrics, records = load_run(job.run)
    except MedGemmaError as exc:
        return _kept(key, f"{line} · {exc}", job.tail)
    state = "finished" if metrics.get("finished") else "stopped; press Run again to resume"
    line = (f"**{job.run.name}**: {metrics['n']}/{metrics['of']} items, {state}. "
            f"Files: `{shown_path(job.run)}`")
    return (key, line, job.tail, *_views(metrics, records), gr.update(choices=_run_names(runs_dir)))


def _kept(key: str, line: Any, tail: str) -> tuple[Any, ...]:
    """A poll's answer that leaves the views and the runs list as they are."""
    return (key, line, tail, *(gr.skip(),) * (VIEWS + 1))


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
