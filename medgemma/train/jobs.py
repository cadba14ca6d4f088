"""Training jobs: `python -m medgemma train` as a child process (`medgemma.jobs`), one per adapter folder.

A job is the folder `adapters/<name>/`: `train_config.yaml` (what the UI asked for), `job.json` (the child's
pid and command), `train_stdout.log` (its output) and the trainer's own `train_log.jsonl`. Everything the
Training tab shows is read back from these files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import jobs
from ..files import atomic_write_text
from ..errors import InputError
from ..rag.store import check_name
from .config import TrainConfig
from .progress import LOG_NAME, read_log

JOB = jobs.JOB
CONFIG = "train_config.yaml"
STDOUT = "train_stdout.log"


@dataclass(frozen=True)
class JobStatus:
    """What the Training tab shows about one job."""

    name: str
    running: bool
    log: list[dict[str, Any]]
    tail: str
    finished: bool  # the adapter was written

    @property
    def last(self) -> dict[str, Any]:
        return next((r for r in reversed(self.log) if "step" in r), {})


def job_folder(adapters_dir: Path, name: str) -> Path:
    """adapters/<name>, refusing names that would leave the folder."""
    try:
        check_name(name)
    except InputError:
        raise InputError(f"Adapter name {name!r} is not allowed: use letters, digits, '-', '_' or '.'.") from None
    return Path(adapters_dir) / name


def start(cfg: TrainConfig, adapters_dir: Path, *, resume: bool = True) -> Path:
    """Launch `python -m medgemma train` on `cfg` in the background; the same name resumes its checkpoints."""
    import yaml

    folder = job_folder(adapters_dir, cfg.output_name)
    if is_running(folder):
        raise InputError(f"Training {cfg.output_name!r} is already running.")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / CONFIG, yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True))
    args = ["train", str(folder / CONFIG), "--adapters-dir", str(adapters_dir)]
    if not resume:
        args.append("--no-resume")
    jobs.launch(folder, args, STDOUT)
    return folder


def stop(adapters_dir: Path, name: str) -> bool:
    """Ask a running job to stop; it saves a checkpoint first (SIGINT → the trainer's stop signal)."""
    return jobs.stop(job_folder(adapters_dir, name))  # the whole group: its data-loader workers too


def status(adapters_dir: Path, name: str, tail_lines: int = 30) -> JobStatus:
    """The job's log records, the end of its output, and whether it still runs."""
    folder = job_folder(adapters_dir, name)
    return JobStatus(name, is_running(folder), read_log(folder / LOG_NAME), jobs.tail(folder / STDOUT, tail_lines),
                     (folder / "adapter_model.safetensors").is_file())


def list_jobs(adapters_dir: Path) -> list[str]:
    """Names of adapter folders that have a training log or a job file, newest first."""
    root = Path(adapters_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and ((p / LOG_NAME).exists() or (p / JOB).exists())]
    return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def is_running(folder: Path) -> bool:
    """Whether the job in `folder` is alive."""
    return jobs.is_running(folder)
