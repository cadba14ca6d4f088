"""Training runs as child processes of the CLI, so the web app never blocks and a page reload loses nothing.

A job is the folder `adapters/<name>/`: `train_config.yaml` (what the UI asked for), `job.json` (the child's
pid and command), `train_stdout.log` (its output) and the trainer's own `train_log.jsonl`. Everything the
Training tab shows is read back from these files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import atomic_write_text
from ..config import ROOT
from ..errors import InputError
from ..rag.store import check_name
from .config import TrainConfig
from .progress import LOG_NAME, read_log

JOB = "job.json"
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
    cmd = [sys.executable, "-m", "medgemma", "train", str(folder / CONFIG), "--adapters-dir", str(adapters_dir)]
    if not resume:
        cmd.append("--no-resume")
    with (folder / STDOUT).open("ab") as out:
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)  # its own group: a stop reaches its workers too
    atomic_write_text(folder / JOB, json.dumps({"pid": child.pid, "command": cmd, "started": time.time()}))
    return folder


def stop(adapters_dir: Path, name: str) -> bool:
    """Ask a running job to stop; it saves a checkpoint first (SIGINT → the trainer's stop signal)."""
    folder = job_folder(adapters_dir, name)
    pid = _pid(folder)
    if pid is None or not is_running(folder):
        return False
    os.killpg(os.getpgid(pid), signal.SIGINT)
    return True


def status(adapters_dir: Path, name: str, tail_lines: int = 30) -> JobStatus:
    """The job's log records, the end of its output, and whether it still runs."""
    folder = job_folder(adapters_dir, name)
    tail = ""
    try:
        with (folder / STDOUT).open("rb") as fh:
            fh.seek(max(0, (folder / STDOUT).stat().st_size - 20_000))
            text = fh.read().decode("utf-8", errors="replace").replace("\r", "\n")
            tail = "\n".join(line for line in text.splitlines() if line.strip())
            tail = "\n".join(tail.splitlines()[-tail_lines:])
    except OSError:
        pass
    return JobStatus(name, is_running(folder), read_log(folder / LOG_NAME), tail,
                     (folder / "adapter_model.safetensors").is_file())


def list_jobs(adapters_dir: Path) -> list[str]:
    """Names of adapter folders that have a training log or a job file, newest first."""
    root = Path(adapters_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and ((p / LOG_NAME).exists() or (p / JOB).exists())]
    return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


def is_running(folder: Path) -> bool:
    """Whether the job's process is alive (and not a zombie left by this process)."""
    pid = _pid(folder)
    if pid is None:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # reaps our own finished child
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child (started before a restart of the app): ask the OS instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid(folder: Path) -> int | None:
    try:
        data = json.loads((folder / JOB).read_text(encoding="utf-8"))
        return int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
