"""The public app attacked over raw HTTP: built as app.py builds it (`build_app`, mounted, not launched), served
by uvicorn on 127.0.0.1, and spoken to the way a hostile visitor would, without Gradio's client."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import gradio as gr
import httpx
import pytest
from conftest import PASSAGES, served
from fakes import FakeBackend, HashEmbedder
from starlette.routing import Mount

from medgemma.access import Access
from medgemma.assistant import Assistant
from medgemma.backends.base import StopSignal
from medgemma.config import AccessConfig, AppConfig, BackendConfig, GenerationParams
from medgemma.rag.retriever import Retriever
from medgemma.runtime import Runtime
from medgemma.types import Message
from medgemma.ui.server import build_app

TOKEN = "a-long-admin-token-for-tests"
QUESTION = "What are the signs of a stroke?"
SECRET_URL = "http://alice:hunter2-password@10.1.2.3:8000/v1"


class CountingBackend(FakeBackend):
    """Counts generations; `fail` makes the next one raise an error whose text must not reach visitors."""

    def __init__(self) -> None:
        super().__init__()
        self.generations = 0
        self.fail = False

    def stream(self, messages: Sequence[Message], params: GenerationParams,
               stop: StopSignal | None = None) -> Iterator[str]:
        self.generations += 1
        if self.fail:
            raise RuntimeError("boom in /srv/secret/internal/path.py")
        time.sleep(0.05)
        yield from super().stream(messages, params, stop)


class Site:
    def __init__(self, url: str, app: Any, access: Access, backend: CountingBackend) -> None:
        self.url, self.app, self.access, self.backend = url, app, access, backend
        self.http = httpx.Client(base_url=url, timeout=30)

    def blocks(self, prefix: str = "") -> gr.Blocks:
        """The Gradio Blocks mounted at `prefix` ("" for the full app, "/embed" for the iframe layout)."""
        for route in self.app.routes:
            if isinstance(route, Mount) and route.path == prefix:
                return route.app.get_blocks()
        raise AssertionError(f"no Gradio app at {prefix!r}")

    def fn_ids(self, name: str, prefix: str = "") -> list[int]:
        return [i for i, f in self.blocks(prefix).fns.items() if getattr(f.fn, "__name__", "") == name]

    def event(self, fn_id: int, data: list[Any], session: str, prefix: str = "") -> dict[str, Any]:
        """Run one event through the queue, as the browser does; returns the final message."""
        base = f"{prefix}/gradio_api"
        joined = self.http.post(f"{base}/queue/join", json={
            "data": data, "fn_index": fn_id, "session_hash": session, "event_data": None, "trigger_id": None})
        if joined.status_code != 200:
            return {"msg": "refused", "status": joined.status_code, "body": joined.text}
        event_id = joined.json()["event_id"]
        last: dict[str, Any] = {}
        with self.http.stream("GET", f"{base}/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") not in (None, event_id):
                    continue
                last = msg
                if msg.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                    break
        return last

    def call(self, api_name: str, data: list[Any], headers: dict[str, str] | None = None) -> tuple[str, str]:
        """A call to a `gr.api` endpoint without any session: ("complete" | "error" | "busy", the payload);
        "busy" is Gradio's queue turning the call away (503) because it is full."""
        start = self.http.post(f"/gradio_api/call/{api_name}", json={"data": data}, headers=headers or {})
        if start.status_code == 503:
            return "busy", start.text
        assert start.status_code == 200, start.text
        event_id = start.json()["event_id"]
        kind, payload = "", ""
        with self.http.stream("GET", f"/gradio_api/call/{api_name}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    payload = line[5:].strip()
                    if kind in ("complete", "error"):
                        break
        return kind, payload

COURSE_SITE = "'self' https://course.example.org"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    access_cfg = AccessConfig(public=True, admin_token=TOKEN, messages_per_minute=3, chat_concurrency=1,
                              queue_size=2, frame_ancestors=COURSE_SITE)
    cfg = replace(AppConfig(), access=access_cfg, uploads_dir=tmp_path / "uploads",
                  backend=replace(BackendConfig(), base_url=SECRET_URL))
    backend = CountingBackend()
    index = Retriever.build(PASSAGES, tmp_path / "idx", HashEmbedder())  # type: ignore[arg-type]
    runtime = Runtime.serving(cfg, Assistant(backend, index))
    access = Access(access_cfg, cfg.uploads_dir)
    app = build_app(runtime, access)
    with served(app) as url:
        yield Site(url, app, access, backend)


def canary_file(tmp_path: Path) -> tuple[Path, str]:
    marker = f"CANARY-{uuid.uuid4().hex}"
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_text(f"MEDGEMMA_ADMIN_TOKEN={marker}\n")
    return secret, marker


def file_value(path: Path) -> dict[str, Any]:
    return {"path": str(path), "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def cache_holds(marker: str) -> bool:
    """Whether any file in Gradio's cache holds `marker` (a copy of a server file would)."""
    from gradio.utils import get_upload_folder

    for f in Path(get_upload_folder()).rglob("*"):
        try:
            if f.is_file() and f.stat().st_size < 1_000_000 and marker in f.read_text(errors="ignore"):
                return True
        except OSError:
            continue
    return False


# --- 1. nothing a client sends becomes a server path ----------------------------------------------------------
def test_no_event_takes_the_chatbot_as_input(site: Site) -> None:
    for prefix in ("", "/embed"):
        for fn in site.blocks(prefix).fns.values():
            assert not any(isinstance(c, gr.Chatbot) for c in fn.inputs), fn.fn


def test_outside_paths_through_every_file_input_are_refused(site: Site, tmp_path: Path) -> None:
    secret, marker = canary_file(tmp_path)
    tried = 0
    for prefix in ("", "/embed"):
        for fn_id, fn in site.blocks(prefix).fns.items():
            kinds = (gr.Chatbot, gr.File, gr.Image, gr.State)
            if not any(isinstance(c, kinds) for c in fn.inputs):
                continue
            data: list[Any] = []
            for c in fn.inputs:
                if isinstance(c, gr.Chatbot) or isinstance(c, gr.State):
                    data.append([{"role": "user", "content": file_value(secret)}])
                elif isinstance(c, (gr.File, gr.Image)):
                    data.append(file_value(secret))
                elif isinstance(c, gr.Textbox):
                    data.append(QUESTION)
                else:
                    data.append(None)
            result = site.event(fn_id, data, f"attacker-{fn_id}", prefix)
            tried += 1
            assert marker not in json.dumps(result)
            assert secret.name not in json.dumps(result.get("output", {}).get("data", []))
    assert tried >= 3  # the chat's triage in both layouts, and the upload forms
    assert not cache_holds(marker)
    assert not any(f.is_file() for f in (tmp_path / "uploads").rglob("*"))  # nothing was kept from outside
    for route in (f"/gradio_api/file={secret}", f"/embed/gradio_api/file={secret}", "/gradio_api/file=/etc/passwd"):
        response = site.http.get(route)
        assert response.status_code in (403, 404) and marker not in response.text


def test_a_device_path_does_not_hang_the_server(site: Site) -> None:
    triage = site.fn_ids("triage")[0]
    started = time.monotonic()
    result = site.event(triage, [QUESTION, None, file_value(Path("/dev/zero"))], "zero")
    assert time.monotonic() - started < 10 and result.get("success") is False
    assert site.http.get("/health").status_code == 200


# --- 2. the one line for the model ------------------------------------------------------------------------------
def test_respond_without_triage_and_replayed_respond_do_nothing(site: Site) -> None:
    triage, (respond,) = site.fn_ids("triage")[0], site.fn_ids("respond")
    forged = site.event(respond, [{"question": "forged", "past": [], "images": []}, None, 3, True, 0.0, 64], "s1")
    assert site.backend.generations == 0 and forged.get("msg") == "process_completed"
    site.event(triage, [QUESTION, None, None], "s1")
    # The page's own change event answers the question once; the attacker then replays respond.
    deadline = time.monotonic() + 10
    while site.backend.generations < 1 and time.monotonic() < deadline:
        site.event(respond, [None, None, 3, True, 0.0, 64], "s1")
    for _ in range(5):
        site.event(respond, [None, None, 3, True, 0.0, 64], "s1")
    assert site.backend.generations == 1


# --- 3. identity the visitor cannot choose ----------------------------------------------------------------------
def test_gradio_api_without_a_session_counts_by_address(site: Site) -> None:
    outcomes = [site.call("ask", [QUESTION, 3, True])[0] for _ in range(6)]
    assert outcomes.count("complete") == 3 and outcomes.count("error") == 3  # messages_per_minute = 3
    assert site.backend.generations == 3


def test_forged_forwarded_for_is_not_a_new_visitor(site: Site) -> None:
    codes = []
    for n in range(6):
        response = site.http.post("/v1/chat/completions", headers={"X-Forwarded-For": f"198.51.100.{n}"},
                                  json={"messages": [{"role": "user", "content": QUESTION}]})
        codes.append(response.status_code)
    assert codes.count(200) == 3 and codes.count(429) == 3
    # The API and the Gradio endpoints count the same address; a session named like an address is a session.
    assert site.call("ask", [QUESTION, 3, True])[0] == "error"
    assert site.access.is_admin("addr:127.0.0.1") is False


def test_a_flood_of_api_calls_is_bounded(site: Site) -> None:
    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(lambda _: site.call("ask", [QUESTION, 3, True])[0], range(12)))
    assert outcomes.count("complete") <= 3  # one address: rate and one-at-a-time hold under a burst
    assert site.access.turns.waiting == 0  # nobody left waiting once the burst is over


def test_emergencies_are_answered_while_the_line_is_full(site: Site) -> None:
    turns = site.access.turns
    release = threading.Event()

    def hold() -> None:
        with turns.turn():
            release.wait(30)

    holders = [threading.Thread(target=hold) for _ in range(turns.limit)]
    for h in holders:
        h.start()
    deadline = time.monotonic() + 10
    while turns.waiting < turns.limit and time.monotonic() < deadline:
        time.sleep(0.01)
    assert turns.waiting == turns.limit  # the model's line is full: one answering, the rest waiting
    try:
        busy = site.http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
        assert busy.status_code == 503 and busy.headers["retry-after"]
        urgent = site.http.post("/v1/chat/completions", json={"messages": [
            {"role": "user", "content": "I want to end my life tonight"}]})
        assert urgent.status_code == 200 and urgent.json()["safety"]["action"] == "emergency"
    finally:
        release.set()
        for h in holders:
            h.join(30)


# --- 5. admin sign-in -------------------------------------------------------------------------------------------
def test_sign_in_brute_force_is_stopped(site: Site) -> None:
    (sign_in, *_) = site.fn_ids("sign_in")
    messages = [json.dumps(site.event(sign_in, [f"guess-{n}"], "brute")) for n in range(7)]
    assert all("not right" in m or "Too many" in m for m in messages)
    assert "Too many" in messages[-1]
    right = json.dumps(site.event(sign_in, [TOKEN], "brute"))
    assert "Too many" in right and not site.access.is_admin("session:brute")  # closed even to the right token


def test_admin_sessions_expire_and_sign_out_works(tmp_path: Path) -> None:
    now = [1000.0]
    access = Access(AccessConfig(public=True, admin_token=TOKEN, admin_session_minutes=10), tmp_path,
                    clock=lambda: now[0])
    assert access.sign_in("session:a", TOKEN) and access.is_admin("session:a")
    now[0] += 9 * 60
    assert access.is_admin("session:a")
    now[0] += 2 * 60
    assert not access.is_admin("session:a")  # a hash seen in a log an hour later grants nothing
    assert access.sign_in("session:a", TOKEN)
    access.sign_out("session:a")
    assert not access.is_admin("session:a")


def test_a_short_admin_token_is_refused_at_start() -> None:
    from medgemma.errors import InputError

    with pytest.raises(InputError, match="at least 16"):
        AccessConfig(public=True, admin_token="short")
    with pytest.raises(InputError, match="at least 16"):
        AppConfig.from_env({"SPACE_ID": "u/s", "MEDGEMMA_ADMIN_TOKEN": "password"})


# --- 4. bounded storage -----------------------------------------------------------------------------------------
def test_uploads_are_pruned_by_age_and_total(tmp_path: Path) -> None:
    import os

    access = Access(AccessConfig(public=True, uploads_total_mb=1, upload_max_age_minutes=60), tmp_path / "up")
    src = tmp_path / "x.png"
    src.write_bytes(b"\0" * 400_000)
    kept = [access.keep_upload(f"session:{n}", src, (".png",)) for n in range(4)]
    assert sum(f.stat().st_size for f in (tmp_path / "up").rglob("*") if f.is_file()) <= 1024 * 1024
    assert kept[-1].exists()  # the newest stays
    old = time.time() - 2 * 3600
    os.utime(kept[-1], (old, old))
    access.prune_uploads()
    assert not kept[-1].exists()


# --- 6. no leaks ------------------------------------------------------------------------------------------------
def test_errors_are_generic_for_visitors(site: Site) -> None:
    site.backend.fail = True
    kind, payload = site.call("ask", [QUESTION, 3, True])
    assert kind == "error" and "/srv/secret" not in payload and "boom" not in payload
    triage = site.fn_ids("triage")[0]
    site.event(triage, ["How is asthma treated?", None, None], "s-err")
    time.sleep(1)
    page = site.http.get("/")
    assert "/srv/secret" not in page.text


def test_pages_hide_credentials_and_paths(site: Site) -> None:
    config = site.http.get("/config").text + site.http.get("/embed/config").text
    assert "hunter2" not in config and "alice" not in config
    assert str(Path(__file__).resolve().parents[1]) not in config  # no absolute project paths


# --- 7. safe defaults -------------------------------------------------------------------------------------------
def test_embed_sends_frame_ancestors(site: Site) -> None:
    response = site.http.get("/embed/")
    assert response.headers["content-security-policy"] == f"frame-ancestors {COURSE_SITE}"
    assert "content-security-policy" not in site.http.get("/health").headers


def test_forged_stop_calls_cannot_empty_the_stop_table() -> None:
    from medgemma.ui.chat import StopSignals

    signals = StopSignals(most=100)
    mine = signals.get("session:me")
    for n in range(1_000):
        signals.get(f"session:forged-{n}")
        if n % 50 == 0:
            assert signals.get("session:me") is mine  # an active visitor stays remembered
    assert len(signals._signals) <= 100


def test_the_space_image_is_public_and_the_course_page_frames_only_listed_sites() -> None:
    root = Path(__file__).resolve().parents[1]
    assert "MEDGEMMA_PUBLIC=1" in (root / "space" / "Dockerfile").read_text()
    page = (root / "docs" / "embed" / "course-page.html").read_text()
    assert "ALLOWED_ORIGINS" in page and "/^https?:" not in page
