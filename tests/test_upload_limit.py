"""One upload limit (`AccessConfig.upload_mb`) at every web door that takes a file: documents for an index, a
training file and a chat image. Over the limit: an error that states the limit, and nothing changed; under it,
the file is taken. The app is built as app.py builds it and spoken to over HTTP, as a browser does."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from conftest import PASSAGES, served
from fakes import FakeBackend, HashEmbedder

from medgemma.access import Access
from medgemma.config import AccessConfig, AppConfig
from medgemma.errors import InputError
from medgemma.rag import indexes
from medgemma.rag.retriever import Retriever
from medgemma.runtime import Runtime
from medgemma.train.config import TrainConfig
from medgemma.ui.server import build_app
from medgemma.ui.training import UPLOAD_TYPES, _with_data

UPLOAD_MB = 1
LIMIT = UPLOAD_MB * 1024 * 1024
STATED = "the limit is 1.0 MB"  # how every door states it


@dataclass
class Site:
    http: httpx.Client
    app: Any
    cfg: AppConfig
    backend: FakeBackend
    runtime: Runtime

    def fn_id(self, name: str) -> int:
        from starlette.routing import Mount

        for route in self.app.routes:
            if isinstance(route, Mount) and route.path == "":
                fns = route.app.get_blocks().fns.items()
                return next(i for i, f in fns if getattr(f.fn, "__name__", "") == name)
        raise AssertionError("no Gradio app at /")

    def event(self, name: str, data: list[Any], session: str = "visitor") -> dict[str, Any]:
        """Run one event through Gradio's queue, as the browser does; returns its last message."""
        joined = self.http.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": self.fn_id(name), "session_hash": session, "event_data": None,
            "trigger_id": None})
        assert joined.status_code == 200, joined.text
        last: dict[str, Any] = {}
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    last = json.loads(line[5:])
                    if last.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                        break
        return last

    def upload(self, *files: Path) -> list[dict[str, Any]]:
        """Files sent through Gradio's upload route, as file values for an event."""
        sent = self.http.post("/gradio_api/upload", files=[("files", (f.name, f.read_bytes())) for f in files])
        assert sent.status_code == 200, sent.text
        return [file_value(Path(p)) for p in sent.json()]

    def kept(self) -> list[Path]:
        """Every file the app kept from visitors' uploads."""
        return [f for f in self.cfg.uploads_dir.rglob("*") if f.is_file()]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setattr(indexes, "shared_embedder", lambda name=None: HashEmbedder())
    cfg = replace(AppConfig(), access=AccessConfig(upload_mb=UPLOAD_MB), uploads_dir=tmp_path / "uploads",
                  indices_dir=tmp_path / "indices", adapters_dir=tmp_path / "adapters", logs_dir=tmp_path / "logs")
    Retriever.build(PASSAGES, cfg.indices_dir / "default", HashEmbedder())  # type: ignore[arg-type]
    backend = FakeBackend(vision=True)
    runtime = Runtime(cfg, make_backend=lambda _: backend,
                      open_index=lambda name, c: Retriever.load(c.indices_dir / name, HashEmbedder()),  # type: ignore[arg-type]
                      triage=lambda: None)
    app = build_app(runtime)
    with served(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield Site(http, app, cfg, backend, runtime)


def file_value(path: Path) -> dict[str, Any]:
    return {"path": str(path), "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def text_file(path: Path, size: int) -> Path:
    line = "Asthma is a long-term lung condition that causes wheezing and breathlessness.\n"
    path.write_text((line * (size // len(line) + 1))[:size])
    return path


def noise_png(path: Path, side: int) -> Path:
    from PIL import Image

    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path)
    return path


@pytest.fixture
def in_upload_folder() -> Iterator[Any]:
    """Puts a file in Gradio's upload folder directly: what a file over the limit would be if Gradio's own cap
    (max_file_size, the same setting) let it through, so the door's own check is what is tested."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()) / f"test-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)

    def put(source: Path) -> Path:
        target = folder / source.name
        target.write_bytes(source.read_bytes())
        return target

    yield put
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()


def error_of(result: dict[str, Any]) -> str:
    assert result.get("success") is False, result
    return str((result.get("output") or {}).get("error") or result)


# -- Gradio's own cap is the same setting -----------------------------------------------------------------------


def test_gradio_refuses_a_file_over_the_limit_before_any_door(site: Site, tmp_path: Path) -> None:
    big = text_file(tmp_path / "big.txt", LIMIT + 1)
    sent = site.http.post("/gradio_api/upload", files=[("files", (big.name, big.read_bytes()))])
    assert sent.status_code == 413 and f"{UPLOAD_MB}" in sent.text
    assert site.upload(text_file(tmp_path / "fits.txt", LIMIT - 1024))


# -- documents for a new index --------------------------------------------------------------------------------


def test_documents_over_the_limit_in_all_build_nothing(site: Site, tmp_path: Path) -> None:
    # Each file is under the limit, so Gradio takes both; together they are over it.
    files = site.upload(text_file(tmp_path / "a.txt", LIMIT // 2 + 1024), text_file(tmp_path / "b.txt", LIMIT // 2))
    error = error_of(site.event("build_from_uploads", [files, "notes"]))
    assert "2 files add up to" in error and f"{STATED} in all" in error and "medgemma ingest" in error
    assert not (site.cfg.indices_dir / "notes").exists() and site.kept() == []


def test_documents_under_the_limit_build_an_index(site: Site, tmp_path: Path) -> None:
    files = site.upload(text_file(tmp_path / "a.txt", LIMIT // 2 - 1024), text_file(tmp_path / "b.txt", LIMIT // 2))
    result = site.event("build_from_uploads", [files, "notes"])
    assert result.get("success") is True, result
    assert len(Retriever.load(site.cfg.indices_dir / "notes", HashEmbedder())) > 100  # type: ignore[arg-type]


def test_a_document_that_inflates_past_the_limit_builds_nothing(site: Site, tmp_path: Path) -> None:
    import gzip

    small = tmp_path / "notes.txt.gz"
    small.write_bytes(gzip.compress(b"Asthma causes wheezing. " * (LIMIT // 20)))
    assert small.stat().st_size < LIMIT // 10
    error = error_of(site.event("build_from_uploads", [site.upload(small), "notes"]))
    assert "decompresses to more than the 1.0 MB limit" in error
    assert not (site.cfg.indices_dir / "notes").exists()


# -- a training file --------------------------------------------------------------------------------------------


def training_file(path: Path, size: int) -> Path:
    row = json.dumps({"question": "What is asthma?", "answer": "A long-term lung condition."}) + "\n"
    path.write_text(row * (size // len(row)))
    return path


def start_run_data(upload: dict[str, Any]) -> list[Any]:
    """The Training tab's start form: an uploaded file as the data, every other field at its default."""
    return ["upload-run", "", "none", "sft", "", "upload", "grounded", 0, upload, "", False, None, *[None] * 12]


def test_a_training_file_over_the_limit_starts_nothing(site: Site, tmp_path: Path, in_upload_folder: Any) -> None:
    big = in_upload_folder(training_file(tmp_path / "train.jsonl", LIMIT + 4096))
    error = error_of(site.event("start_run", start_run_data(file_value(big))))
    assert "train.jsonl is" in error and STATED in error and "path" in error
    assert not list(site.cfg.adapters_dir.rglob("*.jsonl"))


def test_a_training_file_under_the_limit_is_kept_for_the_run(tmp_path: Path, in_upload_folder: Any) -> None:
    access = Access(AccessConfig(upload_mb=UPLOAD_MB), tmp_path / "uploads")
    fits = in_upload_folder(training_file(tmp_path / "train.jsonl", LIMIT - 4096))
    cfg = _with_data(TrainConfig(), tmp_path / "run", "upload", "", 0, str(fits), "", access)
    assert cfg.data == (str(tmp_path / "run" / "data" / "train.jsonl"),)
    assert Path(cfg.data[0]).read_bytes() == fits.read_bytes()
    big = in_upload_folder(training_file(tmp_path / "big.jsonl", LIMIT + 4096))
    with pytest.raises(InputError, match=STATED):
        _with_data(TrainConfig(), tmp_path / "other", "upload", "", 0, str(big), "", access)
    assert not (tmp_path / "other").exists()
    assert ".jsonl.gz" in UPLOAD_TYPES


# -- an image with a question -----------------------------------------------------------------------------------


def test_an_image_over_the_limit_is_refused_and_not_kept(site: Site, tmp_path: Path, in_upload_folder: Any) -> None:
    big = in_upload_folder(noise_png(tmp_path / "scan.png", 700))
    assert big.stat().st_size > LIMIT
    error = error_of(site.event("triage", ["What does this X-ray show?", None, file_value(big)]))
    assert "scan.png is" in error and STATED in error
    assert site.kept() == [] and site.backend.calls == []


def test_an_image_under_the_limit_is_kept(site: Site, tmp_path: Path) -> None:
    (value,) = site.upload(noise_png(tmp_path / "scan.png", 300))
    result = site.event("triage", ["What does this X-ray show?", None, value])
    assert result.get("success") is True, result
    assert [f.name for f in site.kept()] == ["scan.png"]


def test_the_assistant_reads_the_configured_limit_for_images(site: Site, tmp_path: Path) -> None:
    """The CLI's `chat --image` and every door meet the same check in the assistant the runtime builds."""
    assistant = site.runtime.assistant()
    assert assistant.max_image_bytes == LIMIT
    big = noise_png(tmp_path / "big.png", 700)
    with pytest.raises(InputError, match=STATED):
        assistant.answer("What does this X-ray show?", rag=False, images=[str(big)])
    assert site.backend.calls == []
    small = str(noise_png(tmp_path / "small.png", 300))
    assistant.answer("What does this X-ray show?", rag=False, images=[small])
    assert site.backend.calls[-1][-1]["images"] == [small]
