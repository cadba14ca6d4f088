"""Files an export writes: whole folders that appear at once, and the inventory of a folder (sizes, sha256)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..assets import atomic_write_text, replace_dir, sha256_file


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(path: Path) -> Path:
    """Give a finished file (or every file of a folder) ordinary permissions (0644 under the usual umask).

    Temporary files are created private (mkstemp); an export is meant to be read and shared.
    """
    path = Path(path)
    mode = 0o666 & ~_umask()
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if p.is_file() and not p.is_symlink():
            os.chmod(p, mode)
    return path


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; it replaces `target` only if the block succeeds.

    A crash or an exception inside the block removes the temporary folder, so a reader never finds a
    half-written export under the final name (an older complete export there is kept until the swap).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; an export is an ordinary folder
    try:
        yield tmp
        publish(tmp)
        replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def inventory(folder: Path) -> list[dict[str, Any]]:
    """Every regular file under `folder` (hidden and temporary files skipped): path, bytes and sha256."""
    folder = Path(folder)
    rows = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        # Dot files and folders are temporary files of an unfinished write, caches or VCS data: never shipped.
        if not path.is_file() or path.is_symlink() or any(part.startswith(".") for part in rel.parts):
            continue
        rows.append({"path": rel.as_posix(), "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return rows


def atomic_write(target: Path, text: str) -> Path:
    """Write a text file atomically (medgemma.assets.atomic_write_text) and return its path."""
    atomic_write_text(Path(target), text)
    return Path(target)
