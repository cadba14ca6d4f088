"""The one file layer: bounded reads, atomic files and folder swaps that recover from a kill mid-swap."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medgemma import files
from medgemma.errors import InputError


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_bounded_reads_refuse_big_bombs_binary_and_bad_utf8(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert [n for n, _ in files.read_jsonl(tmp_path / "ok.jsonl", 1000)] == [1, 3]
    (tmp_path / "big.txt").write_text("x" * 2000)
    with pytest.raises(InputError, match="2,000 bytes, over the 1,000 bytes limit for notes"):
        files.read_text(tmp_path / "big.txt", 1000, "notes")
    with gzip.open(tmp_path / "bomb.txt.gz", "wt") as f:
        f.write(" " * 100_000)
    with pytest.raises(InputError, match="decompresses"):
        files.read_text(tmp_path / "bomb.txt.gz", 1000)
    (tmp_path / "bin.txt").write_bytes(b"line\n\x00")
    with pytest.raises(InputError, match="line 2: looks like a binary"):
        files.read_text(tmp_path / "bin.txt", 1000)
    (tmp_path / "latin.txt").write_bytes(b"a\n\xe9")
    with pytest.raises(InputError, match="line 2: not UTF-8"):
        files.read_text(tmp_path / "latin.txt", 1000)
    (tmp_path / "list.jsonl").write_text("[1]\n")
    with pytest.raises(InputError, match="line 1: expected a JSON object"):
        list(files.read_jsonl(tmp_path / "list.jsonl", 1000))
    with pytest.raises(InputError, match="not found"):
        files.read_text(tmp_path / "missing.txt", 1000)
    with pytest.raises(InputError):
        files.read_text(tmp_path / ("n" * 300), 1000)  # a name the file system refuses


def test_a_failed_block_leaves_the_old_folder_and_no_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "export"
    with files.atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), files.atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("new")
        raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    assert oct((target / "a.txt").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_a_swap_killed_between_its_renames_is_recovered_by_the_next_one(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with files.atomic_folder(target) as tmp:
        (tmp / "w.bin").write_text("v1")
    pid = dead_pid()
    os.replace(target, tmp_path / f".model.old-{pid}-1")  # the kill: old aside, new never moved in
    (tmp_path / f".model.building-{pid}-x").mkdir()
    files.recover(target)
    assert (target / "w.bin").read_text() == "v1"
    with files.atomic_folder(target) as tmp:
        (tmp / "w.bin").write_text("v2")
    assert (target / "w.bin").read_text() == "v2" and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_atomic_write_text_replaces_whole(tmp_path: Path) -> None:
    path = files.atomic_write_text(tmp_path / "sub" / "f.json", "{}")
    assert path.read_text() == "{}" and [p.name for p in path.parent.iterdir()] == ["f.json"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
