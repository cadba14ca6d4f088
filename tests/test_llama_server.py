"""The GGUF backend on llama.cpp's server: supervision, cancellation, parallel slots, and scale-out through
the openai backend to two servers behind a round-robin proxy. Skipped when llama-server is not built."""

from __future__ import annotations

import itertools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from medgemma.backends.base import StopSignal
from medgemma.config import GenerationParams
from medgemma.types import Message

MESSAGES: list[Message] = [
    {"role": "system", "content": "You are a medical education assistant. Answer in two sentences."},
    {"role": "user", "content": "Question: What are the warning signs of a stroke?"},
]
GREEDY = GenerationParams(max_new_tokens=24, temperature=0.0)


@pytest.fixture(scope="module")
def binary() -> Path:
    from medgemma.backends.llama_server import find_llama_server

    found = find_llama_server()
    if found is None:
        pytest.skip("llama-server is not built (scripts/setup.sh builds it)")
    return found


@pytest.fixture(scope="module")
def gguf() -> Path:
    from medgemma.assets import default_gguf
    from medgemma.config import ROOT

    return default_gguf(ROOT / "cache")


@pytest.fixture
def served(binary: Path, gguf: Path) -> Iterator[Any]:
    from medgemma.backends.llama_server import GGUFServerBackend

    backend = GGUFServerBackend(gguf, binary, slots=2, n_ctx=1024, threads=1)
    yield backend
    backend.close()


def _busy_slots(url: str) -> int:
    import httpx

    return sum(bool(s.get("is_processing")) for s in httpx.get(url + "/slots", timeout=5).json())


def test_a_dead_server_is_restarted_on_the_next_request(served: Any) -> None:
    first = served.generate(MESSAGES, GREEDY)
    served.server._proc.kill()
    served.server._proc.wait()
    assert served.generate(MESSAGES, GREEDY) == first
    assert served.server.starts == 2


def test_stopping_frees_the_slot_at_once(served: Any) -> None:
    long = GenerationParams(max_new_tokens=400, temperature=0.0)
    signal = StopSignal()
    stream = served.stream(MESSAGES, long, stop=signal)
    next(stream)
    url = served.server.url
    assert _busy_slots(url) == 1
    signal.set()
    assert list(stream) == []
    deadline = time.monotonic() + 2.0
    while _busy_slots(url) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _busy_slots(url) == 0  # the server dropped the sequence when the connection closed


def test_parallel_requests_each_get_their_own_answer(served: Any) -> None:
    topics = ["asthma", "diabetes", "gout", "migraine"]
    asks = [[MESSAGES[0], {"role": "user", "content": f"Question: What is {t}?"}] for t in topics]
    alone = [served.generate(m, GREEDY) for m in asks]
    together: list[str] = [""] * len(asks)

    def one(i: int) -> None:
        together[i] = served.generate(asks[i], GREEDY)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(asks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(together) and len(set(together)) == len(topics)
    # Batched decoding is not bit-identical to one sequence alone (bench/engine_identity.py), so the text
    # may differ; what must hold is that no answer went to another request.
    named = [(t, b) for t, a, b in zip(topics, alone, together) if t in a.lower()]
    assert named and all(t in b.lower() for t, b in named)


def test_an_over_long_prompt_is_an_input_error(served: Any) -> None:
    from medgemma.errors import InputError

    with pytest.raises(InputError):
        served.generate([{"role": "user", "content": "word " * 3000}], GREEDY)


# -- scale-out: the openai backend against two servers behind a round-robin proxy --------------------------


class RoundRobin(ThreadingHTTPServer):
    """A plain round-robin HTTP proxy, for this test only: each request goes to the next upstream."""

    daemon_threads = True

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = itertools.cycle(upstreams)
        self.hits: dict[str, int] = {u: 0 for u in upstreams}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Forward)

    def next_upstream(self) -> str:
        with self.lock:
            up = next(self.upstreams)
            self.hits[up] += 1
            return up


class _Forward(BaseHTTPRequestHandler):
    server: RoundRobin

    def do_GET(self) -> None:  # noqa: N802
        self._forward(None)

    def do_POST(self) -> None:  # noqa: N802
        self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def _forward(self, body: bytes | None) -> None:
        import httpx

        up = self.server.next_upstream()
        headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
        with httpx.stream(self.command, up + self.path, content=body, headers=headers, timeout=120) as r:
            self.send_response(r.status_code)
            self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes
            for chunk in r.iter_raw():
                self.wfile.write(chunk)
                self.wfile.flush()

    def log_message(self, *args: Any) -> None:
        pass


def test_openai_backend_scales_out_over_two_servers_behind_a_proxy(binary: Path, gguf: Path) -> None:
    from medgemma.backends.llama_server import LlamaServer
    from medgemma.backends.openai import OpenAIBackend

    servers = [LlamaServer(binary, ["-m", str(gguf), "-c", "1024", "-np", "1", "-t", "1", "--no-webui"])
               for _ in range(2)]
    proxy = None
    client = None
    try:
        proxy = RoundRobin([s.ensure() for s in servers])
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        client = OpenAIBackend(f"http://127.0.0.1:{proxy.server_address[1]}/v1")
        answers = [client.generate(MESSAGES, GREEDY) for _ in range(4)]
        assert all(a.strip() for a in answers)
        assert len(set(answers)) == 1  # the same model behind both: the same greedy answer whichever serves it
        assert all(n >= 1 for n in proxy.hits.values())  # both servers answered
    finally:
        if client is not None:
            client.close()
        if proxy is not None:
            proxy.shutdown()
            proxy.server_close()
        for s in servers:
            s.stop()
