"""Files: bounded reads of what users give, and writes that readers see whole or not at all.

Reads (`read_bytes`, `read_text`, `read_jsonl`) refuse a file over its size cap before reading it, stop a
gzip bomb one byte past the cap, and refuse NUL bytes and bad UTF-8 with the line they are on.

Writes: a file is written under a temporary name beside its target and renamed onto it (`atomic_path`,
`atomic_write_text`). A folder is built under `.<name>.building-<pid>-*` and swapped in by `atomic_folder`:
the old folder moves aside to `.<name>.old-<pid>-*`, the new one moves in, the old one is removed. A process
killed between those two renames leaves no folder under the name; `recover` moves the old one back, and the
next swap of that name removes what dead processes left behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError
from .textclean import json_loads


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


# ---- bounded reads ------------------------------------------------------------------------------------------


def size_text(n: int) -> str:
    """`n` bytes for a message: "1,000 bytes", or MB of 1024² bytes as the limits here (and Gradio's
    max_file_size) count them, rounded up so that a file over a limit never reads as within it."""
    return f"{math.ceil(n * 10 / 2**20) / 10:.1f} MB" if n >= 100 * 1024 else f"{n:,} bytes"


def read_bytes(path: Path, max_bytes: int, what: str = "files") -> bytes:
    """The file's bytes (decompressed for .gz), refusing more than `max_bytes` either way. `what` names the
    kind of file in the error ("training files")."""
    path = Path(path)
    try:
        if not path.is_file():  # a pipe or a device would block the read or never end
            raise InputError(f"{path}: not found, or not a regular file.")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{path}: the file is {size_text(size)}, over the {size_text(max_bytes)} limit for "
                             f"{what}. Split it, or raise the limit.")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: could not be read ({exc.strerror or exc}).") from exc
    if not path.name.lower().endswith(".gz"):
        return data
    try:
        # One byte past the limit is enough to know, without inflating a bomb.
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            data = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: not a valid gzip file ({exc}).") from exc
    if len(data) > max_bytes:
        raise InputError(f"{path}: decompresses to more than the {size_text(max_bytes)} limit for {what}. "
                         "Split it, or raise the limit.")
    return data


def read_text(path: Path, max_bytes: int, what: str = "files") -> str:
    """UTF-8 text of a file (gzip when .gz); binary or non-UTF-8 content raises InputError naming the line."""
    data = read_bytes(path, max_bytes, what)
    nul = data.find(b"\0")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise InputError(f"{path}, line {line}: looks like a binary file (it holds NUL bytes). Give UTF-8 text.")
    try:
        return data.decode("utf-8-sig")  # -sig drops the byte-order mark some editors write
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}, line {line}: not UTF-8 text ({exc.reason}); save the file as UTF-8.") from exc


def read_json(path: Path, max_bytes: int, what: str = "files") -> Any:
    """The JSON value of a bounded text file."""
    text = read_text(path, max_bytes, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from exc


def read_state(path: Path) -> dict[str, Any]:
    """A small JSON object this program wrote for itself (a job record, a progress file), or {} when it is
    missing, half-written by a crash or not an object: such a file is only ever a hint."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_jsonl(path: Path, max_bytes: int, what: str = "files") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a bounded JSONL file (gzip when .gz)."""
    yield from jsonl_objects(path, read_text(path, max_bytes, what))


def jsonl_objects(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of JSONL `text`, read from `path`."""
    # Split on "\n" only: str.splitlines() would also break at U+2028, which JSON allows inside strings.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json_loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {n}: not valid JSON ({exc.msg}); JSONL needs one object a line.") from exc
        yield n, json_object(row, f"{path}, line {n}")


def json_object(value: Any, where: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else a clear error naming `where` it stood."""
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(value).__name__}.")
    return value


# ---- atomic files -------------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(path: Path) -> Path:
    """Give a finished file (or every file of a folder) ordinary permissions (0644 under the usual umask).

    Temporary files are created private (mkstemp); what the studio writes is meant to be read and shared.
    """
    path = Path(path)
    mode = 0o666 & ~_umask()
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if p.is_file() and not p.is_symlink():
            os.chmod(p, mode)
    return path


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            publish(tmp_path)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(target: Path, text: str) -> Path:
    """Write text so that readers see the old file or the new one, never half of one; returns `target`."""
    with atomic_path(Path(target)) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


# ---- atomic folders -----------------------------------------------------------------------------------------


def _leftovers(target: Path, kind: str) -> list[tuple[Path, int]]:
    """(folder, pid of the process that made it) of each `.<name>.<kind>-<pid>-...` folder, oldest first."""
    found = []
    for p in sorted(target.parent.glob(f".{target.name}.{kind}-*"), key=_mtime):
        pid = p.name[len(f".{target.name}.{kind}-"):].split("-")[0]
        if p.is_dir() and pid.isdigit():
            found.append((p, int(pid)))
    return found


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0  # removed meanwhile by another process


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. another user's process
    return True


def recover(target: Path) -> None:
    """Move the previous folder back if a process died after moving it aside and before moving the new one in."""
    target = Path(target)
    if target.exists():
        return
    aside = [p for p, pid in _leftovers(target, "old") if not _alive(pid)]
    if aside:
        try:
            os.replace(aside[-1], target)
        except OSError:
            pass  # another process got there first


def remove_leftovers(target: Path) -> None:
    """Delete the half-built and set-aside folders of `target` whose process is gone."""
    for kind in ("building", "old"):
        for p, pid in _leftovers(Path(target), kind):
            if not _alive(pid):
                shutil.rmtree(p, ignore_errors=True)


def swap_in(new: Path, target: Path) -> None:
    """Move the finished folder `new` onto `target`; if that fails the previous folder stays in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield an empty folder beside `target`; it replaces `target` only if the block succeeds.

    An exception inside the block removes the new folder, so a reader never finds a half-written one under the
    final name; the older complete folder stays until the swap.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    remove_leftovers(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-{os.getpid()}-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        publish(tmp)
        swap_in(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def inventory(folder: Path, hidden: bool = False) -> list[dict[str, Any]]:
    """Every regular file under `folder`: path, bytes and sha256. Hidden files are skipped unless `hidden`."""
    folder = Path(folder)
    rows = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        # Dot files and folders are temporary files of an unfinished write, caches or VCS data: never shipped.
        if not path.is_file() or path.is_symlink() or (not hidden and any(p.startswith(".") for p in rel.parts)):
            continue
        rows.append({"path": rel.as_posix(), "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return rows
