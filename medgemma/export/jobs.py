"""Export jobs: `python -m medgemma export` as a child process (`medgemma.jobs`), one at a time per exports folder.

The job's own files (`job.json`, `export_stdout.log`) live in `exports/.export-job/`; the export writes its
folder (`exports/NAME`) exactly as the CLI does, with `export_progress.json` naming the child's pid and its
current step, and `export_report.json` at the end. The output folder is read back from the job's command, so a
reload, or a restart of the app, finds the export it started.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .. import jobs
from ..backends import resolve_adapter
from ..errors import InputError
from .cli import PROGRESS, parse_formats, read_progress

FOLDER = ".export-job"
STDOUT = "export_stdout.log"
OUTTYPES = ("f16", "bf16", "f32", "q8_0")
DTYPES = ("float16", "bfloat16", "float32")


@dataclass(frozen=True)
class ExportJob:
    """What the Export tab shows about the last export started from it."""

    running: bool
    out: Path | None  # the export's output folder
    progress: dict[str, Any]  # its export_progress.json, once the child has written it
    tail: str  # the end of the child's output
    started: bool  # a job was ever started here


def job_folder(exports_dir: Path) -> Path:
    return Path(exports_dir) / FOLDER


def cli_args(name: str, formats: Sequence[str], dtype: str, outtype: str, adapters_dir: Path,
             exports_dir: Path) -> list[str]:
    """The `export` arguments for adapter `name`; unknown adapters, names leaving their folder and unknown
    formats or types are refused here, before anything starts."""
    if Path(name).name != name or name.startswith("."):
        # The name is also the output folder under exports/: an absolute path, even one into adapters/, is not.
        raise InputError(f"Adapter name {name[:80]!r} is not allowed: give a folder name under {adapters_dir}.")
    resolve_adapter(name, Path(adapters_dir))  # refuses "../x", lists the adapters that exist
    chosen = parse_formats(",".join(formats))
    if dtype not in DTYPES or outtype not in OUTTYPES:
        raise InputError(f"Choose a precision from {', '.join(DTYPES)} and a GGUF type from {', '.join(OUTTYPES)}.")
    return ["export", "--adapter", name, "--formats", ",".join(chosen), "--dtype", dtype, "--gguf-outtype", outtype,
            "--adapters-dir", str(adapters_dir), "--out", str(Path(exports_dir) / name)]


def start(exports_dir: Path, args: Sequence[str], *, command: Sequence[str] = jobs.CLI) -> Path:
    """Launch the export `args` (from `cli_args`) in the background; returns the job folder."""
    return jobs.launch_one(job_folder(exports_dir), args, STDOUT, "An export", command=command)


def stop(exports_dir: Path) -> bool:
    """Ask the running export to stop; the step under way is dropped (its folder or file is written by an atomic
    swap), so the previous complete output, or none, stays."""
    return jobs.stop(job_folder(exports_dir))


def status(exports_dir: Path, tail_lines: int = 40) -> ExportJob:
    """Whether the last export started here runs, its output folder and progress, and the end of its output."""
    folder = job_folder(exports_dir)
    record = jobs.record(folder)
    if not record:
        return ExportJob(False, None, {}, "", False)
    out = _out_of(record)
    progress = read_progress(out) if out else {}
    if progress.get("pid") != record.get("pid"):
        progress = {}  # an older export's file, not yet replaced by this child's
    return ExportJob(jobs.is_running(folder), out, progress, jobs.tail(folder / STDOUT, tail_lines), True)


def _out_of(record: dict[str, Any]) -> Path | None:
    command = [str(c) for c in record.get("command") or []]
    if "--out" in command[:-1]:
        return Path(command[command.index("--out") + 1])
    return None


__all__ = ["ExportJob", "PROGRESS", "cli_args", "job_folder", "start", "status", "stop"]
