"""Evaluation as a child process, through the Evaluation tab's functions: bad input refused before anything
starts, progress polled from the run folder, a reload sees the running job, Stop ends it and Run resumes it.

The child is `tests/eval_child.py`, the real CLI on the scripted backend, so no model is loaded."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import gradio as gr
import pytest
from conftest import wait_for_job
from fakes import FakeBackend

from medgemma.assistant import Assistant
from medgemma.backends.base import StopSignal
from medgemma.config import AppConfig, BackendConfig
from medgemma.errors import InputError
from medgemma.eval import jobs as eval_jobs
from medgemma.eval.items import EvalItem
from medgemma.eval.runner import RunSpec, read_log, read_progress, run_task
from medgemma.runtime import Runtime
from medgemma.ui import evaluation as tab

CHILD = Path(__file__).resolve().parent / "eval_child.py"
TASK = "emergency"  # the project's own data: no download needed


def child(seconds: float) -> tuple[str, ...]:
    return (sys.executable, str(CHILD), str(seconds))


def runtime(tmp_path: Path, adapter: str = "") -> Runtime:
    cfg = AppConfig(runs_dir=tmp_path / "runs", adapters_dir=tmp_path / "adapters",
                    backend=BackendConfig(adapter=adapter))
    return Runtime(cfg)  # the tab reads only its config: the child builds its own assistant


def wait(runs_dir: Path, until, seconds: float = 60) -> eval_jobs.EvalJob:  # type: ignore[no-untyped-def]
    return wait_for_job(lambda: eval_jobs.status(runs_dir), until, seconds)


def test_the_runner_writes_its_progress_file(small_index, tmp_path: Path) -> None:
    items = [EvalItem(id=f"s-{i}", task="toy", kind="safety", question="How do vaccines work?", expect="answer")
             for i in range(4)]
    stop = StopSignal()
    seen: list[dict] = []

    def progress(done: int, total: int) -> None:
        seen.append(read_progress(folder))
        if done >= 2:
            stop.set()

    folder = tmp_path / "toy__fake__scripted__base__rag-on__k4__nall__seed0"
    first = run_task(Assistant(FakeBackend(), small_index), RunSpec(task="toy"), items, tmp_path,
                     progress=progress, stop=stop)
    assert first.folder == folder
    assert [p["done"] for p in seen] == [0, 1, 2] and {p["state"] for p in seen} == {"running"}
    p = read_progress(folder)
    assert p["state"] == "stopped" and p["done"] == 2 and p["total"] == 4 and p["pid"] == os.getpid()
    assert p["accuracy"] == 1.0 and p["judged"] == 2
    run_task(Assistant(FakeBackend(), small_index), RunSpec(task="toy"), items, tmp_path)
    assert read_progress(folder)["state"] == "finished" and read_progress(folder)["done"] == 4


def test_bad_input_is_refused_before_anything_starts(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    with pytest.raises(InputError, match="Unknown evaluation task"):
        tab.start(rt, "no-such-task", False, 4, 5, 0, 64, False, command=child(0))
    (tmp_path / "adapters" / "mine").mkdir(parents=True)
    with pytest.raises(InputError, match="Known adapters: mine"):
        tab.start(runtime(tmp_path, adapter="missing"), TASK, False, 4, 5, 0, 64, False, command=child(0))
    assert not eval_jobs.job_folder(rt.cfg.runs_dir).exists()
    assert tab.stop_job(rt.cfg.runs_dir) == "No evaluation is running."


def test_a_run_started_from_the_tab_shows_its_results(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    runs = rt.cfg.runs_dir
    assert "5 items" in tab.start(rt, TASK, False, 4, 5, 0, 64, False, command=child(0))
    job = wait(runs, lambda j: not j.running)
    assert job.run is not None and job.progress["state"] == "finished", job.tail
    key, line, tail, table, *_plots, failed, runs_list = tab.poll(runs, "")
    assert "5/5 items, finished" in line and job.run.name in line
    assert any(row[0] == "emergency_recall" for row in table)  # the same views a finished run showed before
    assert isinstance(failed, list) and runs_list["choices"] == [job.run.name]
    # Nothing moved since: the next poll leaves the views (an open comparison, say) alone.
    assert tab.poll(runs, key)[3:] == (gr.skip(),) * 6


def test_a_reload_sees_the_running_job_stop_ends_it_and_run_resumes_it(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    runs = rt.cfg.runs_dir
    tab.start(rt, TASK, False, 4, None, 0, 64, False, command=child(0.25))
    job = wait(runs, lambda j: (j.progress.get("done") or 0) >= 2)
    assert job.running and job.progress["state"] == "running"
    with pytest.raises(InputError, match="already running"):
        tab.start(rt, TASK, False, 4, None, 0, 64, False, command=child(0))
    key, line, *_ = tab.poll(runs, "")  # a new page: nothing shown yet
    assert "running" in line and "/80 items" in line
    again, line2, *_ = tab.poll(runs, "")  # another reload sees the same job
    assert "running" in line2 and again.split("|")[0] == key.split("|")[0]

    assert tab.stop_job(runs).startswith("Stopping")
    job = wait(runs, lambda j: not j.running, 30)
    assert job.progress["state"] == "stopped" and job.progress["done"] < 80, job.tail
    kept = len(read_log(job.run / "predictions.jsonl"))
    assert kept == job.progress["done"]
    _, line, *_ = tab.poll(runs, "")
    assert "stopped; press Run again to resume" in line

    tab.start(rt, TASK, False, 4, None, 0, 64, False, command=child(0))
    done = wait(runs, lambda j: not j.running and j.progress.get("state") == "finished")
    assert done.run == job.run
    ids = [r["id"] for r in read_log(done.run / "predictions.jsonl")]
    assert len(ids) == len(set(ids)) == 80  # the stopped run resumed: no item answered twice
    assert json.loads((done.run / "metrics.json").read_text())["finished"]
