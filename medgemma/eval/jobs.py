"""Evaluation jobs: `python -m medgemma eval` as a child process (`medgemma.jobs`), one at a time per runs folder.

The job's own files (`job.json`, `eval_stdout.log`) live in `runs/.eval-job/`; the run itself is an ordinary run
folder, written by the child exactly as the CLI writes it, whose `progress.json` names the child's pid. The run
folder's name depends on the backend the child loads, so it is found by that pid rather than guessed here.

The child builds its own assistant from the arguments given (backend, model, adapter, index, k) and from the
environment for everything else: it loads a second copy of the model beside the app's, and its items do not
wait in the chat's line for the model (they share the CPU instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .. import jobs
from ..backends import chosen_adapter, resolve_adapter
from ..config import BackendConfig, RetrievalConfig
from .runner import PROGRESS, RunSpec, read_progress

FOLDER = ".eval-job"
STDOUT = "eval_stdout.log"


@dataclass(frozen=True)
class EvalJob:
    """What the Evaluation tab shows about the last evaluation started from it."""

    running: bool
    run: Path | None  # the run folder, once the child has loaded its model and made it
    progress: dict[str, Any]  # that folder's progress.json
    tail: str  # the end of the child's output
    started: bool  # a job was ever started here


def job_folder(runs_dir: Path) -> Path:
    return Path(runs_dir) / FOLDER


def cli_args(spec: RunSpec, backend: BackendConfig, retrieval: RetrievalConfig, adapters_dir: Path,
             runs_dir: Path, *, fresh: bool = False) -> list[str]:
    """The `eval` arguments that run `spec` on this backend and index; an unknown adapter is refused here."""
    adapter = chosen_adapter(backend, adapters_dir)
    if adapter:
        resolve_adapter(adapter, adapters_dir)  # says which adapters exist
    args = ["eval", "--task", spec.task, "--rag", "on" if spec.rag else "off", "--k", str(spec.k),
            "--seed", str(spec.seed), "--max-new-tokens", str(spec.max_new_tokens), "--out", str(runs_dir),
            "--index", retrieval.index, "--mode", retrieval.mode, "--backend", backend.backend,
            "--adapter", adapter, "--n-ctx", str(backend.n_ctx), "--threads", str(backend.threads),
            "--prompt-style", backend.prompt_style, "--device", backend.device, "--quantization", backend.quantization]
    for flag, value in (("--limit", spec.limit), ("--data", spec.data_dir), ("--model", backend.model),
                        ("--base-url", backend.base_url), ("--api-model", backend.api_model)):
        if value:
            args += [flag, str(value)]
    if not spec.score_options:
        args.append("--generate")
    if fresh:
        args.append("--fresh")
    return args  # the API key stays in the environment the child inherits, out of the process list


def start(runs_dir: Path, args: Sequence[str], *, command: Sequence[str] = jobs.CLI) -> Path:
    """Launch the evaluation `args` (from `cli_args`) in the background; returns the job folder."""
    return jobs.launch_one(job_folder(runs_dir), args, STDOUT, "An evaluation", command=command)


def stop(runs_dir: Path) -> bool:
    """Ask the running evaluation to stop after its current item; it writes the metrics so far and resumes later.

    Only the child is signalled, not its group, so a llama.cpp server it started is closed by it, in order."""
    return jobs.stop(job_folder(runs_dir), group=False)


def status(runs_dir: Path, tail_lines: int = 12) -> EvalJob:
    """Whether the last evaluation started here runs, its run folder and progress, and the end of its output."""
    folder = job_folder(runs_dir)
    record = jobs.record(folder)
    if not record:
        return EvalJob(False, None, {}, "", False)
    run = _run_of(Path(runs_dir), record)
    return EvalJob(jobs.is_running(folder), run, read_progress(run) if run else {},
                   jobs.tail(folder / STDOUT, tail_lines), True)


def _run_of(runs_dir: Path, record: dict[str, Any]) -> Path | None:
    """The run folder whose progress.json names the job's pid and was written since the job started."""
    since = float(record.get("started") or 0) - 1
    for path in runs_dir.glob(f"*/{PROGRESS}"):
        try:
            fresh = path.stat().st_mtime >= since
        except OSError:
            continue
        if fresh and read_progress(path.parent).get("pid") == record.get("pid"):
            return path.parent
    return None
