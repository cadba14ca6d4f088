"""The MCP server on the app built as app.py builds it, served by uvicorn on 127.0.0.1 and spoken to with the
`mcp` client over streamable HTTP: the four tools, bad input, public-mode limits and the one line for the model."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Sequence

import httpx
import pytest
from conftest import PASSAGES, served
from fakes import FakeBackend, HashEmbedder
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

from medgemma.access import Access
from medgemma.backends.base import StopSignal
from medgemma.config import AccessConfig, AppConfig, GenerationParams
from medgemma.rag.retriever import Retriever
from medgemma.runtime import Runtime
from medgemma.types import Message
from medgemma.ui.agent import MCP_PATH
from medgemma.ui.server import build_app

QUESTION = "What are the signs of a stroke?"
EMERGENCY = "I want to end my life tonight"
TOOLS = {"ask", "search", "triage", "list_indexes"}


class FailingBackend(FakeBackend):
    """`fail` makes generation raise an error whose text must not reach callers."""

    fail = False

    def stream(self, messages: Sequence[Message], params: GenerationParams,
               stop: StopSignal | None = None) -> Iterator[str]:
        if self.fail:
            raise RuntimeError("boom in /srv/secret/internal/path.py")
        yield from super().stream(messages, params, stop)


class Server:
    def __init__(self, url: str, access: Access, backend: FailingBackend) -> None:
        self.url, self.access, self.backend = url, access, backend

    def session(self, work: Callable[[ClientSession], Awaitable[Any]]) -> Any:
        """Run `work` with an initialised MCP session, as an agent's client would."""

        async def run() -> Any:
            async with streamablehttp_client(self.url + MCP_PATH) as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await work(session)

        return asyncio.run(run())

    def call(self, tool: str, **arguments: Any) -> tuple[bool, str]:
        """(whether the call failed, its text) for one tool call in a session of its own."""

        async def work(session: ClientSession) -> tuple[bool, str]:
            result = await session.call_tool(tool, arguments)
            return bool(result.isError), "".join(getattr(c, "text", "") for c in result.content)

        return self.session(work)  # type: ignore[no-any-return]


def start(tmp_path: Path, access_cfg: AccessConfig) -> Iterator[Server]:
    cfg = replace(AppConfig(), access=access_cfg, uploads_dir=tmp_path / "uploads", indices_dir=tmp_path / "indices")
    Retriever.build(PASSAGES[2:], tmp_path / "indices" / "drugs", HashEmbedder())  # type: ignore[arg-type]
    Retriever.build(PASSAGES, tmp_path / "indices" / "default", HashEmbedder())  # type: ignore[arg-type]
    backend = FailingBackend()
    runtime = Runtime(cfg, make_backend=lambda _: backend,
                      open_index=lambda name, c: Retriever.load(c.indices_dir / name, HashEmbedder()),  # type: ignore[arg-type]
                      triage=lambda: None)
    access = Access(access_cfg, cfg.uploads_dir)
    with served(build_app(runtime, access)) as url:
        yield Server(url, access, backend)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start(tmp_path, AccessConfig())


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Server]:
    yield from start(tmp_path, AccessConfig(public=True, admin_token="a-long-admin-token-for-tests",
                                            messages_per_minute=4, chat_concurrency=1, queue_size=1))


def test_the_four_tools_are_listed_with_their_arguments_and_limits(server: Server) -> None:
    tools = server.session(lambda s: s.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert "for education and research only" in tool.description.lower()
        assert "not medical advice" in tool.description.lower()
        for name, schema in tool.inputSchema.get("properties", {}).items():
            assert schema.get("description"), f"{tool.name}.{name} is not described"
    ask = next(t for t in tools if t.name == "ask")
    assert ask.inputSchema["required"] == ["question"] and set(ask.inputSchema["properties"]) == {"question", "k", "rag"}


def test_each_tool_answers(server: Server) -> None:
    failed, text = server.call("ask", question=QUESTION, k=3)
    assert not failed
    reply = json.loads(text)
    assert reply["verdict"]["action"] == "answer"
    assert reply["citations"] and any(c["cited"] for c in reply["citations"])
    assert "[1]" in reply["answer"] and reply["citations"][0]["url"].startswith("https://")

    failed, text = server.call("search", query="wheezing and cough", k=2)
    found = json.loads(text)
    assert not failed and found["index"] == "default" and 1 <= len(found["passages"]) <= 2
    top = found["passages"][0]
    assert top["id"] == "asthma-1" and top["source"] == "NHS" and 0 < top["score"] <= 1

    failed, text = server.call("search", query="liver damage", k=5, index="drugs")
    assert not failed and {p["id"] for p in json.loads(text)["passages"]} <= {c.id for c in PASSAGES[2:]}

    failed, text = server.call("triage", question=EMERGENCY)
    verdict = json.loads(text)
    assert not failed and verdict["action"] == "emergency" and not verdict["model_would_answer"]
    assert "emergency" in verdict["message"].lower()
    assert json.loads(server.call("triage", question=QUESTION)[1])["action"] == "answer"

    failed, text = server.call("list_indexes")
    listed = {i["name"]: i for i in json.loads(text)}
    assert not failed and set(listed) == {"default", "drugs"}
    assert listed["default"]["answering"] and not listed["drugs"]["answering"]
    assert listed["default"]["passages"] == len(PASSAGES) and listed["drugs"]["passages"] == len(PASSAGES) - 2


def test_an_emergency_ask_never_reaches_the_model(server: Server) -> None:
    failed, text = server.call("ask", question=EMERGENCY)
    reply = json.loads(text)
    assert not failed and reply["verdict"]["action"] == "emergency" and not reply["citations"]
    assert server.backend.calls == []


@pytest.mark.parametrize("tool, arguments, says", [
    ("ask", {"question": "   "}, "type a question"),
    ("ask", {"question": "x" * 5000}, "limit"),
    ("ask", {"question": QUESTION, "k": 50}, "k must be"),
    ("search", {"query": ""}, "type a question"),
    ("search", {"query": "asthma", "k": 0}, "k must be"),
    ("search", {"query": "asthma", "index": "nope"}, "no index named 'nope'"),
    ("search", {"query": "asthma", "index": "../indices/default"}, "not allowed"),
    ("triage", {"question": "y" * 5000}, "limit"),
])
def test_bad_input_is_refused_clearly(server: Server, tool: str, arguments: dict[str, Any], says: str) -> None:
    failed, text = server.call(tool, **arguments)
    assert failed and says in text, text
    assert server.backend.calls == []


def test_a_huge_request_body_is_refused_before_it_is_read(server: Server) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "ask", "arguments": {"question": "x" * 400_000}}}
    headers = {"Accept": "application/json, text/event-stream"}
    assert httpx.post(server.url + MCP_PATH, json=call, headers=headers, timeout=30).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(400):
            yield b"x" * 1024

    response = httpx.post(server.url + MCP_PATH, content=chunks(), headers=headers, timeout=30)
    assert response.status_code == 413


def test_errors_are_generic(server: Server) -> None:
    server.backend.fail = True
    failed, text = server.call("ask", question=QUESTION)
    assert failed and "log" in text and "/srv/secret" not in text and "boom" not in text


def test_public_mode_counts_every_call_by_address(public: Server) -> None:
    assert public.call("search", query="")[0]  # bad input is refused and not counted
    outcomes = [public.call(tool, **args) for tool, args in [
        ("search", {"query": "asthma"}), ("triage", {"question": QUESTION}), ("ask", {"question": QUESTION}),
        ("search", {"query": "stroke"}), ("ask", {"question": QUESTION}), ("triage", {"question": QUESTION})]]
    assert [failed for failed, _ in outcomes] == [False, False, False, False, True, True]
    assert "last minute" in outcomes[-1][1]
    assert not public.call("list_indexes")[0]  # reading the list costs nothing


def test_ask_waits_in_the_one_line_and_emergencies_skip_it(public: Server) -> None:
    turns = public.access.turns
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
    assert turns.waiting == turns.limit  # the UI's line for the model is full
    try:
        failed, text = public.call("ask", question=QUESTION)
        assert failed and "busy" in text
        failed, text = public.call("ask", question=EMERGENCY)
        assert not failed and json.loads(text)["verdict"]["action"] == "emergency"
        assert public.backend.calls == []
    finally:
        release.set()
        for h in holders:
            h.join(30)
    assert turns.waiting == 0
    assert not public.call("ask", question=QUESTION)[0]  # the line is free again
