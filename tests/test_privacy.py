"""What docs/governance/privacy.md promises, checked on the app built as app.py builds it: no question text kept
by default (not in a file, not in the log), the teaching-review log when asked for, its retention, no Gradio
usage statistics, and a visitor's uploads deleted on request."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from conftest import PASSAGES, served
from fakes import FakeBackend, HashEmbedder
from starlette.routing import Mount

from medgemma.access import Access
from medgemma.config import AccessConfig, AppConfig
from medgemma.errors import InputError
from medgemma.question_log import QuestionLog
from medgemma.rag.retriever import Retriever
from medgemma.runtime import Runtime
from medgemma.types import Verdict
from medgemma.ui.server import build_app

SECRET_QUESTION = "What are the signs of a stroke in my neighbour Zebulon Quarrington?"


class FailingBackend(FakeBackend):
    def stream(self, messages, params, stop=None):  # type: ignore[no-untyped-def, override]
        raise RuntimeError("the backend failed")
        yield ""


def serve(tmp_path: Path, **cfg_changes: Any) -> Iterator[tuple[str, Any]]:
    access_cfg = AccessConfig(public=True, admin_token="a-long-admin-token-for-tests")
    cfg = replace(AppConfig(), access=access_cfg, uploads_dir=tmp_path / "uploads", indices_dir=tmp_path / "indices",
                  logs_dir=tmp_path / "logs", **cfg_changes)
    Retriever.build(PASSAGES, tmp_path / "indices" / "default", HashEmbedder())  # type: ignore[arg-type]
    runtime = Runtime(cfg, make_backend=lambda _: FailingBackend(),
                      open_index=lambda name, c: Retriever.load(c.indices_dir / name, HashEmbedder()),  # type: ignore[arg-type]
                      triage=lambda: None)
    app = build_app(runtime, Access(access_cfg, cfg.uploads_dir))
    with served(app) as url:
        yield url, app


def ask_everywhere(url: str) -> None:
    """The question through /v1 (whose backend fails, so an error is logged) and the MCP triage tool."""
    http = httpx.Client(base_url=url, timeout=30)
    chat = http.post("/v1/chat/completions",
                     json={"messages": [{"role": "user", "content": SECRET_QUESTION}], "rag": False})
    assert chat.status_code == 500 and "Zebulon" not in chat.text
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "triage", "arguments": {"question": SECRET_QUESTION}}}
    mcp = http.post("/agent/gradio_api/mcp/", json=call, headers={"Accept": "application/json, text/event-stream"})
    assert mcp.status_code == 200 and "answer" in mcp.text


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_by_default_no_question_text_is_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for url, _ in serve(tmp_path):
        ask_everywhere(url)
    assert not (tmp_path / "logs").exists()
    assert "Zebulon" not in caplog.text
    assert any("/v1/chat/completions failed" in r.getMessage() for r in caplog.records)  # the log did run
    for f in files_under(tmp_path):
        assert b"Zebulon" not in f.read_bytes(), f


def test_the_teaching_review_log_keeps_the_question_and_not_who_asked(tmp_path: Path) -> None:
    for url, _ in serve(tmp_path, log_questions=True):
        ask_everywhere(url)
    [day] = files_under(tmp_path / "logs")
    assert day.name == time.strftime("questions-%Y-%m-%d.jsonl", time.gmtime())
    rows = [json.loads(line) for line in day.read_text().splitlines()]
    assert [(r["door"], r["question"], r["action"]) for r in rows] == [
        ("v1", SECRET_QUESTION, "answer"), ("mcp-triage", SECRET_QUESTION, "answer")]
    assert all(set(r) == {"time", "door", "action", "category", "question"} for r in rows)
    assert "127.0.0.1" not in day.read_text()


def test_old_log_files_are_deleted(tmp_path: Path) -> None:
    old, recent = tmp_path / "questions-2001-01-01.jsonl", tmp_path / "questions-2999-01-01.jsonl"
    other = tmp_path / "notes.txt"
    for f in (old, recent, other):
        f.write_text("x\n")
    QuestionLog(tmp_path, enabled=False, keep_days=30)
    assert old.exists()  # a disabled log touches nothing
    log = QuestionLog(tmp_path, enabled=True, keep_days=30)
    assert not old.exists() and recent.exists() and other.exists()
    os.utime(recent)
    log.record("web", "What is asthma?", Verdict("answer"))
    assert len(list(tmp_path.glob("questions-*.jsonl"))) == 2


def test_the_setting_comes_from_the_environment() -> None:
    assert AppConfig.from_env({}).log_questions is False
    cfg = AppConfig.from_env({"MEDGEMMA_LOG_QUESTIONS": "1", "MEDGEMMA_LOG_KEEP_DAYS": "7"})
    assert cfg.log_questions and cfg.log_keep_days == 7
    with pytest.raises(InputError):
        AppConfig.from_env({"MEDGEMMA_LOG_QUESTIONS": "yes please"})
    with pytest.raises(InputError):
        AppConfig.from_env({"MEDGEMMA_LOG_KEEP_DAYS": "0"})


def test_no_gradio_usage_statistics(tmp_path: Path) -> None:
    for _, app in serve(tmp_path):
        mounted = [r.app.get_blocks() for r in app.routes if isinstance(r, Mount) and hasattr(r.app, "get_blocks")]
        assert len(mounted) == 3 and all(b.analytics_enabled is False for b in mounted)


def test_a_visitor_deletes_their_own_uploads(tmp_path: Path) -> None:
    access = Access(AccessConfig(public=True), tmp_path / "uploads")
    for visitor in ("session:alice", "session:bob"):
        source = tmp_path / f"{visitor[8:]}.png"
        source.write_bytes(b"\x89PNG")
        access.keep_upload(visitor, source, (".png",))
    assert access.delete_uploads("session:alice") == 1
    assert access.delete_uploads("session:alice") == 0
    assert [p.name for p in files_under(tmp_path / "uploads")] == ["bob.png"]
