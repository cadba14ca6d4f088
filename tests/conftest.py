"""Shared fixtures: a small index over hand-written passages, built with the hashing embedder, and a real
server on a loopback port."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import HashEmbedder  # noqa: E402

from medgemma.rag.retriever import Retriever  # noqa: E402
from medgemma.types import Chunk  # noqa: E402
from medgemma.ui.server import server_config  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

PASSAGES = [
    Chunk("stroke-1", "Stroke signs include face drooping, arm weakness and slurred speech. Call emergency services.",
          "Stroke: warning signs", "NHS", "https://www.nhs.uk/conditions/stroke/"),
    Chunk("asthma-1", "Asthma is a long-term lung condition that causes wheezing, cough and breathlessness.",
          "Asthma: what it is", "NHS", "https://www.nhs.uk/conditions/asthma/"),
    Chunk("para-1", "Paracetamol overdose can cause serious liver damage, even when a person feels well at first.",
          "Paracetamol safety", "MedlinePlus", "https://medlineplus.gov/druginfo/meds/a681004.html"),
    Chunk("vacc-1", "Vaccines train the immune system to recognise a germ without causing the disease.",
          "Vaccines: how they work", "WHO", "https://www.who.int/health-topics/vaccines-and-immunization"),
    Chunk("pneu-1", "On a chest X-ray, pneumonia often shows as consolidation, a white patch with air bronchograms.",
          "Pneumonia on chest X-ray", "MedlinePlus", "https://medlineplus.gov/pneumonia.html"),
]


@pytest.fixture
def small_index(tmp_path: Path) -> Retriever:
    return Retriever.build(PASSAGES, tmp_path / "idx", HashEmbedder())  # type: ignore[arg-type]


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` under uvicorn on a free loopback port, configured as `serve` runs it; yields its base URL."""
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def wait_for_job(status: Any, until: Any, seconds: float = 60) -> Any:
    """Poll `status()` (a job's status) until `until(job)` holds; on timeout fail with the job's output."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = status()
        if until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"timed out; output:\n{status().tail}")
