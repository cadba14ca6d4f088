"""Long jobs (training, evaluation, export) run as child processes of the CLI, so the web app never blocks and
a page reload, or a restart of the app, loses nothing.

A job lives in a folder: `job.json` (the child's pid, command and start time) and a log of the child's output.
This module starts, watches and stops the child and reads the end of its output; what the child reports as it
goes is the command's own file (training's `train_log.jsonl`, evaluation's `progress.json`, export's
`export_progress.json`), read back by the module that knows it. It does not know whether a job succeeded: that
is in the files the job writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from .config import ROOT
from .errors import InputError
from .files import atomic_write_text, read_state

JOB = "job.json"
# The command a user would type; tests give a stand-in with the same arguments.
CLI: tuple[str, ...] = (sys.executable, "-m", "medgemma")


def launch(folder: Path, args: Sequence[str], log_name: str, *, command: Sequence[str] = CLI,
           append: bool = True) -> int:
    """Start `command + args` in the background with its output in `folder/log_name`; returns its pid."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [*command, *args]
    with (folder / log_name).open("ab" if append else "wb") as out:
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)  # its own group: a stop can reach its workers too
    atomic_write_text(folder / JOB, json.dumps({"pid": child.pid, "command": cmd, "started": time.time()}))
    return child.pid


def launch_one(folder: Path, args: Sequence[str], log_name: str, what: str, *,
               command: Sequence[str] = CLI) -> Path:
    """`launch` unless a job already runs in `folder` (`what`, e.g. "An export", is named in the refusal);
    returns the folder."""
    if is_running(folder):
        raise InputError(f"{what} is already running: wait for it, or stop it first.")
    launch(folder, args, log_name, command=command, append=False)
    return Path(folder)


def record(folder: Path) -> dict[str, Any]:
    """The job's `job.json` (pid, command, started), or {} when there is none or it cannot be read."""
    return read_state(Path(folder) / JOB)


def pid(folder: Path) -> int | None:
    """The pid in the job's record, or None."""
    try:
        return int(record(folder)["pid"])
    except (KeyError, TypeError, ValueError):
        return None


def is_running(folder: Path) -> bool:
    """Whether the job's process is alive (and not a zombie left by this process)."""
    found = pid(folder)
    if found is None:
        return False
    try:
        done, _ = os.waitpid(found, os.WNOHANG)  # reaps our own finished child
        if done == found:
            return False
    except ChildProcessError:
        pass  # not our child (started before a restart of the app): ask the OS instead
    try:
        os.kill(found, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(folder: Path, *, group: bool = True) -> bool:
    """Send SIGINT to a running job, which each command takes as "stop after saving what you have".

    `group` reaches the child's workers too (training's data loaders); without it only the child is told,
    so it can close what it started itself (an evaluation's llama.cpp server) in order."""
    found = pid(folder)
    if found is None or not is_running(folder):
        return False
    try:
        if group:
            os.killpg(os.getpgid(found), signal.SIGINT)
        else:
            os.kill(found, signal.SIGINT)
    except ProcessLookupError:
        return False  # it ended just now
    return True


def tail(path: Path, lines: int = 30) -> str:
    """The last non-blank lines of a job's output (a progress bar's carriage returns count as line ends)."""
    try:
        with Path(path).open("rb") as fh:
            fh.seek(max(0, Path(path).stat().st_size - 20_000))
            text = fh.read().decode("utf-8", errors="replace").replace("\r", "\n")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
