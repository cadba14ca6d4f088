"""The Gradio app on a scripted backend: it launches, answers through the API and rejects bad input."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import PASSAGES
from fakes import FakeBackend, HashEmbedder

from medgemma.assistant import Assistant
from medgemma.config import AppConfig
from medgemma.rag.retriever import Retriever
from medgemma.runtime import Runtime
from medgemma.types import Passage
from medgemma.ui import build_ui
from medgemma.ui.chat import text_of, to_messages
from medgemma.ui.render import safety_banner, sources_panel


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    index = Retriever.build(PASSAGES, tmp_path_factory.mktemp("ui") / "idx", HashEmbedder())  # type: ignore[arg-type]
    demo = build_ui(Runtime.serving(AppConfig(), Assistant(FakeBackend(), index)))
    demo.queue().launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def test_api_answers_with_citations(client) -> None:  # type: ignore[no-untyped-def]
    result = client.predict("What are the signs of a stroke?", 3, True, api_name="/ask")
    assert result["verdict"]["action"] == "answer"
    assert result["citations"] and any(c["cited"] for c in result["citations"])
    assert [c["n"] for c in result["citations"]] == list(range(1, len(result["citations"]) + 1))


def test_api_emergency_and_bad_input(client) -> None:  # type: ignore[no-untyped-def]
    from gradio_client.exceptions import AppError

    result = client.predict("I want to end my life tonight", 3, True, api_name="/ask")
    assert result["verdict"]["action"] == "emergency" and not result["citations"]
    with pytest.raises(AppError, match="type a question"):
        client.predict("   ", 3, True, api_name="/ask")
    with pytest.raises(AppError, match="limit"):
        client.predict("x" * 100_000, 3, True, api_name="/ask")


def test_sources_panel_escapes_and_links() -> None:
    evil = Passage("x", "<script>alert(1)</script> text", "<b>Title</b>", "NHS", "javascript:alert(1)", 0.5)
    good = Passage("y", "Plain text", "Asthma", "NHS", "https://www.nhs.uk/conditions/asthma/", 0.7)
    html = sources_panel([evil, good], cited=[2])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html
    assert 'href="https://www.nhs.uk/conditions/asthma/"' in html
    assert html.count("<details") == 2 and html.count(" open>") == 1


def test_sources_panel_says_which_sentences_were_removed_and_why() -> None:
    from medgemma import safety

    passage = Passage("g", "GERD is a condition in which stomach acid flows back up into the oesophagus.", "GERD",
                      "NHS", "https://www.nhs.uk/conditions/heartburn-and-acid-reflux/", 0.6)
    checked = safety.check_answer("Gout is a condition in which stomach acid flows back up into the oesophagus "
                                  "<b>[1]</b>.", [passage])
    html = sources_panel([passage], checked.cited, checked.support)
    assert "1 sentence removed" in html and "no source says: gout" in html
    assert "<b>" not in html  # the removed sentence is shown escaped
    assert "mg-unsupported" not in sources_panel([passage], (1,), ())


def test_banner_is_always_there() -> None:
    assert "Educational use only" in safety_banner("policy")


def test_gradio_history_is_read_as_plain_messages() -> None:
    history = [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
               {"role": "assistant", "content": "hello"}, {"role": "system", "content": "x"}]
    assert to_messages(history) == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert text_of(None) == ""


def test_export_report_rows_and_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from medgemma.ui.export import _report

    assert _report(tmp_path) == ([], [])  # no report yet: nothing to show, no error
    (tmp_path / "gguf").mkdir()
    (tmp_path / "gguf" / "model-f16.gguf").write_bytes(b"GGUF")
    (tmp_path / "export_report.json").write_text(json.dumps({"checks": {
        "gguf": {"top1_agreement": 1.0, "max_abs_logit_diff": 0.06, "passed": True,
                 "chat_template": {"renders_same": True}},
        "note": "not a check"}}))
    rows, files = _report(tmp_path)
    assert ["gguf", "top1_agreement", "1.0000"] in rows and ["gguf", "passed", "True"] in rows
    assert any(r[1].startswith("chat template") and r[2] == "True" for r in rows)
    assert sorted(Path(f).name for f in files) == ["export_report.json", "model-f16.gguf"]


@pytest.fixture(scope="module")
def public_client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The app in public mode: two questions a minute per visitor, an admin token."""
    from dataclasses import replace

    from medgemma.access import Access
    from medgemma.config import AccessConfig

    tmp = tmp_path_factory.mktemp("public")
    index = Retriever.build(PASSAGES, tmp / "idx", HashEmbedder())  # type: ignore[arg-type]
    runtime = Runtime.serving(AppConfig(), Assistant(FakeBackend(), index))
    runtime.cfg = replace(runtime.cfg, access=AccessConfig(public=True, admin_token="s3cret-s3cret-s3cret", messages_per_minute=2))
    access = Access(runtime.cfg.access, tmp / "uploads")
    demo = build_ui(runtime, access)
    demo.queue().launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield demo, access
    finally:
        demo.close()


def test_public_mode_limits_each_visitor(public_client) -> None:  # type: ignore[no-untyped-def]
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    demo, _ = public_client
    first, second = Client(demo.local_url, verbose=False), Client(demo.local_url, verbose=False)
    for _ in range(2):
        assert first.predict("What are the signs of a stroke?", 3, True, api_name="/ask")["answer"]
    with pytest.raises(AppError, match="last minute"):
        first.predict("What are the signs of a stroke?", 3, True, api_name="/ask")
    # The API endpoints count by address, whatever session a caller names: a second client from the same
    # address is the same visitor.
    with pytest.raises(AppError, match="last minute"):
        second.predict("What is asthma?", 3, True, api_name="/ask")


def test_streaming_api_ends_with_the_checked_reply(client) -> None:  # type: ignore[no-untyped-def]
    job = client.submit("What are the signs of a stroke?", 3, True, api_name="/chat")
    updates = list(job)
    assert updates and updates[-1]["final"] is True and all(u["final"] is False for u in updates[:-1])
    final = updates[-1]
    assert final == {**client.predict("What are the signs of a stroke?", 3, True, api_name="/ask"), "final": True}
    assert all(final["answer"].startswith(u["answer"].rstrip()) or not u["answer"] for u in updates[:-1])


def test_admin_features_need_sign_in_in_public_mode(public_client) -> None:  # type: ignore[no-untyped-def]
    import gradio as gr

    from medgemma.ui.guard import Guard

    _, access = public_client

    class Visitor:
        session_hash = "tab-1"
        client = None

    guard = Guard(access)
    assert not guard.open
    with pytest.raises(gr.Error, match="admin"):
        guard.admin(Visitor())  # type: ignore[arg-type]
    key = guard.visitor(Visitor())  # type: ignore[arg-type]
    assert key == "session:tab-1"
    assert not access.sign_in(key, "wrong") and access.sign_in(key, "s3cret-s3cret-s3cret")
    guard.admin(Visitor())  # type: ignore[arg-type]  # signed in: allowed
    access.sign_out(key)
    with pytest.raises(gr.Error):
        guard.admin(Visitor())  # type: ignore[arg-type]


class GatedBackend(FakeBackend):
    """Streams only once the gate opens: stands for a model busy with long answers."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def stream(self, messages, params, stop=None):  # type: ignore[no-untyped-def, override]
        self.gate.wait(60)
        yield from super().stream(messages, params, stop)


def test_emergency_is_answered_while_the_model_is_busy(tmp_path: Path) -> None:
    """Every model turn is taken by answers that cannot finish; an emergency still gets its message."""
    from gradio_client import Client

    from medgemma import safety

    backend = GatedBackend()
    index = Retriever.build(PASSAGES, tmp_path / "idx", HashEmbedder())  # type: ignore[arg-type]
    demo = build_ui(Runtime.serving(AppConfig(), Assistant(backend, index)))
    demo.queue().launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        busy = [Client(demo.local_url, verbose=False).submit("What is asthma?", 3, True, api_name="/ask")
                for _ in range(AppConfig().access.chat_concurrency + 2)]
        question = "I took 40 paracetamol tablets an hour ago"
        reply = Client(demo.local_url, verbose=False).predict(question, 3, True, api_name="/ask")
        assert reply["verdict"]["action"] == "emergency"
        assert reply["answer"] == safety.decide(question).message
        assert not any(job.done() for job in busy)  # the model answers were still waiting
        backend.gate.set()
        assert all(job.result(timeout=60)["answer"] for job in busy)
    finally:
        backend.gate.set()
        demo.close()
