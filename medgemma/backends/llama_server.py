"""GGUF models served by llama.cpp's own server: parallel slots, continuous batching and the prompt cache.

`scripts/setup.sh` builds `llama-server` from the same llama.cpp source as the Python binding, with the
same portable flags. The app starts it as a child process on a loopback port, renders every prompt itself
(so the text is exactly the in-process engine's), streams from `/completion`, restarts the child if it
died and stops it with the app. Decoding one sequence on a CPU is bound by memory bandwidth, so several
sequences decoded in one batch cost little more than one: that is the whole point of this engine.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..config import GenerationParams
from ..errors import BackendError, InputError, require
from ..prompts import render, stops_for
from ..types import Message
from .base import BackendInfo, ChatBackend, StopSignal, until_stop
from .gguf import GGUFBackend, _quant_label, _rss_mb

START_TIMEOUT_S = 120.0


def find_llama_server() -> Path | None:
    """The `llama-server` built beside this Python (`.venv/bin`), else one on PATH, else None."""
    beside = Path(sys.executable).parent / "llama-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("llama-server")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux only: the kernel kills the server when the thread that started it ends, so it is started from
    # one thread that lives as long as the app; then the server goes with the app, even after SIGKILL.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class LlamaServer:
    """One supervised `llama-server` child on 127.0.0.1: started on demand, restarted if it died."""

    def __init__(self, binary: Path, args: Sequence[str]) -> None:
        self.binary = binary
        self.args = list(args)
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._lock = threading.Lock()
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="llama-server")  # its one thread never ends
        self.starts = 0
        atexit.register(self.stop)

    def ensure(self, dead: bool = False) -> str:
        """The base URL of a running server, starting (or restarting) it when needed. `dead`: a request
        could not connect, so a server that is still exiting is waited for and started again."""
        with self._lock:
            if self._proc is not None and dead:
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    if self._ready():
                        return self.url  # it answers again: the failure was passing
            if self._proc is not None and self._proc.poll() is None:
                return self.url
            self._stop_locked()
            self._start_locked()
            return self.url

    def _start_locked(self) -> None:
        port = _free_port()
        self._log = tempfile.TemporaryFile()
        cmd = [str(self.binary), "--host", "127.0.0.1", "--port", str(port), *self.args]
        kwargs: dict[str, Any] = {"preexec_fn": _die_with_parent} if sys.platform.startswith("linux") else {}
        self._proc = self._spawner.submit(subprocess.Popen, cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                          stderr=subprocess.STDOUT, **kwargs).result()
        self.url = f"http://127.0.0.1:{port}"
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BackendError(f"llama-server exited with code {self._proc.returncode}: {self._tail()}")
            if self._ready():
                return
            time.sleep(0.1)
        self._stop_locked()
        raise BackendError(f"llama-server did not become ready in {START_TIMEOUT_S:.0f} s.")

    def _ready(self) -> bool:
        import httpx

        try:
            return httpx.get(self.url + "/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _tail(self, n: int = 600) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-n:].strip()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _stop_locked(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()


class GGUFServerBackend(ChatBackend):
    """The `gguf` backend on llama-server with `slots` sequences decoded together."""

    name = "gguf"

    def __init__(
        self,
        model_path: Path,
        binary: Path,
        slots: int = 4,
        n_ctx: int = 2048,
        threads: int = 0,
        lora_path: Path | None = None,
        prompt_style: str = "chat",
        adapter_name: str = "",
        timeout_s: float = 600.0,
        reuse_prefix: bool = True,
    ) -> None:
        if not Path(model_path).is_file():
            raise InputError(f"GGUF model {model_path} does not exist.")
        if lora_path is not None and not Path(lora_path).is_file():
            raise InputError(f"GGUF LoRA {lora_path} does not exist.")
        if not 1 <= slots <= 64:
            raise InputError("slots must be between 1 and 64.")
        self.model_path = Path(model_path)
        self.lora_path = lora_path
        self._n_ctx = n_ctx
        self.slots = slots
        self.threads = threads or os.cpu_count() or 1
        self.prompt_style = prompt_style
        self.adapter_name = adapter_name
        self.timeout_s = timeout_s
        self.reuse_prefix = reuse_prefix  # the prompt cache: a slot keeps the KV of the prefix it saw last
        args = ["-m", str(self.model_path), "-c", str(n_ctx * slots), "-np", str(slots),
                # Each slot keeps its own n_ctx (no shared pool): one long prompt cannot starve the others.
                "--no-kv-unified", "--cont-batching",
                "-t", str(self.threads), "-tb", str(self.threads), "--no-webui", "--log-disable"]
        if lora_path is not None:
            args += ["--lora", str(lora_path)]
        self.server = LlamaServer(binary, args)
        self._scorer: GGUFBackend | None = None  # in-process model for option scoring, loaded on first use
        self._scorer_lock = threading.Lock()
        self._client: Any = None

    def _http(self) -> Any:
        if self._client is None:
            httpx = require("httpx", "httpx", "The llama-server engine")
            self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s, connect=10.0),
                                        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        return self._client

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        import httpx

        try:
            try:
                r = self._http().post(self.server.ensure() + path, json=body)
            except httpx.ConnectError:  # it died since the last request: started again, once
                r = self._http().post(self.server.ensure(dead=True) + path, json=body)
        except httpx.HTTPError as exc:
            raise BackendError(f"llama-server did not answer {path}: {exc}") from exc
        if r.status_code != 200:
            raise BackendError(f"llama-server answered {path} with {r.status_code}: {r.text[:300]}")
        return r.json()

    @property
    def n_ctx(self) -> int:
        """The context window of each slot (the server holds `slots` of them)."""
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` under this model's tokenizer."""
        return len(self._post("/tokenize", {"content": text, "add_special": False, "parse_special": True})["tokens"])

    def stream(
        self, messages: Sequence[Message], params: GenerationParams, stop: StopSignal | None = None
    ) -> Iterator[str]:
        prompt = render(messages, self.prompt_style)
        tokens = self._post("/tokenize", {"content": prompt, "add_special": True, "parse_special": True})["tokens"]
        room = self.n_ctx - len(tokens)
        if room < 8:
            raise InputError(
                f"The prompt has {len(tokens)} tokens and the context window {self.n_ctx}: "
                "ask a shorter question or use fewer passages."
            )
        stops = list(stops_for(self.prompt_style)) + list(params.stop)
        body = {
            # The token ids, so the server reads exactly what was counted.
            "prompt": tokens,
            "n_predict": min(params.max_new_tokens, room),
            "temperature": params.temperature,
            "top_p": params.top_p,
            "top_k": 40,  # llama-cpp-python's default, so both engines sample alike
            "min_p": 0.05,
            "repeat_penalty": params.repeat_penalty,
            "seed": params.seed,
            "stop": stops,
            "stream": True,
            "cache_prompt": self.reuse_prefix,
        }
        yield from until_stop(self._events(body, stop), stops, stop)

    def _events(self, body: dict[str, Any], stop: StopSignal | None) -> Iterator[str]:
        import httpx

        url = self.server.ensure()
        try:
            with self._http().stream("POST", url + "/completion", json=body) as r:
                if r.status_code != 200:
                    r.read()
                    raise BackendError(f"llama-server answered {r.status_code}: {r.text[:300]}")
                # Leaving this block closes the connection, and the server drops the sequence at once:
                # Stop, a closed tab and a dropped API client all end decoding here.
                for line in r.iter_lines():
                    if stop is not None and stop.is_set:
                        return
                    if not line.startswith("data:"):
                        continue
                    event = json.loads(line[5:])
                    if event.get("content"):
                        yield event["content"]
                    if event.get("stop"):
                        return
        except httpx.HTTPError as exc:
            raise BackendError(f"llama-server stopped answering: {exc}") from exc

    def option_logprobs(self, messages: Sequence[Message], options: Sequence[str]) -> list[float]:
        """Scored in process (the server gives top-n probabilities, not those of given continuations)."""
        with self._scorer_lock:
            if self._scorer is None:
                self._scorer = GGUFBackend(self.model_path, n_ctx=self.n_ctx, threads=self.threads,
                                           lora_path=self.lora_path, prompt_style=self.prompt_style,
                                           adapter_name=self.adapter_name)
        return self._scorer.option_logprobs(messages, options)

    def info(self) -> BackendInfo:
        return BackendInfo(
            backend=self.name,
            model=self.model_path.name,
            device=f"cpu ({self.threads} threads, llama-server, {self.slots} slots)",
            precision=_quant_label(self.model_path.name),
            adapter=self.adapter_name,
            memory_mb=_rss_mb() + _child_rss_mb(self.server.pid),
        )

    def close(self) -> None:
        self.server.stop()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._scorer is not None:
            self._scorer.close()
            self._scorer = None


def _child_rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 1e6
    except (ImportError, Exception):  # noqa: BLE001 - the child may be gone between the check and the read
        return 0.0
