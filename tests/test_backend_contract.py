"""Every backend keeps the same contract; then what is particular to the hf and openai backends.

The contract runs over: the scripted fake; the hf backend on a tiny random Gemma 3 built here; the gguf
backend on the real default GGUF, in process and on llama-server; and the openai backend against llama-cpp-python's own server on
127.0.0.1 serving that GGUF. The last two are skipped when llama-cpp-python (or its server extras) is absent.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fakes import FakeBackend
from tiny_gemma import build_lora, build_tiny_gemma

from medgemma.backends import load_backend
from medgemma.backends.base import ChatBackend, StopSignal
from medgemma.config import ROOT, AppConfig, BackendConfig, GenerationParams
from medgemma.errors import BackendError, InputError, MissingDependency
from medgemma.types import Message

MESSAGES: list[Message] = [
    {"role": "system", "content": "You are a medical education assistant. Answer in two sentences."},
    {"role": "user", "content": "Question: What are the warning signs of a stroke?"},
]
GREEDY = GenerationParams(max_new_tokens=24, temperature=0.0)
# One thread: llama.cpp's threads wait for each other at every layer, so on a 2-core machine where another
# process holds a core, two threads ran a short answer 6x slower than one (13.9 s against 2.2 s).
LLAMA_THREADS = 1
SERVER_DEPS = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
TINY_GEMMA_WINDOW = 512  # max_position_embeddings of tiny_gemma's config


@dataclass
class Kit:
    """A backend under test, how to make a fresh one, and how to count its tokens and see it released; the window
    it should report, and whether it can count tokens itself."""

    backend: ChatBackend
    make: Callable[[], ChatBackend]
    count: Callable[[str], int]
    released: Callable[[ChatBackend], bool]
    n_ctx: int | None = None
    counts: bool = True


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The tiny model gains nothing from more threads, and on a busy 2-core machine torch's thread pool
    slows down tenfold when another process holds a core."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    return build_tiny_gemma(tmp_path_factory.mktemp("tiny-gemma"))


@pytest.fixture(scope="module")
def default_gguf_path() -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from medgemma.assets import default_gguf

    path = default_gguf(ROOT / "cache")
    # A llama.cpp build with instructions this CPU lacks (e.g. a GGML_NATIVE build with AMX) dies with
    # SIGILL on the first token; find out in a child process rather than lose the whole test run.
    probe = ("import llama_cpp,sys; m=llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, verbose=False); "
             "m.create_completion('Hi', max_tokens=1)")
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, timeout=120)
    if done.returncode != 0:
        pytest.skip(f"llama-cpp-python cannot generate on this CPU (exit {done.returncode}); rebuild it with "
                    "CMAKE_ARGS=-DGGML_NATIVE=OFF (scripts/setup.sh)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(default_gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """base_url of `python -m llama_cpp.server` serving the default GGUF on 127.0.0.1."""
    missing = [m for m in SERVER_DEPS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama_cpp.server needs {', '.join(missing)} (pip install 'llama-cpp-python[server]')")
    import httpx

    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "1024", "--chat_format", "gemma",
             "--n_threads", str(LLAMA_THREADS), "--n_threads_batch", str(LLAMA_THREADS)],
            stdout=out, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(base_url + "/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start in 60 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module", params=["fake", "hf", "gguf", "gguf-server", "openai"])
def kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    kind = request.param
    if kind == "fake":
        made = Kit(FakeBackend(), FakeBackend, lambda text: len(text.split()),
                   lambda b: b.closed)  # type: ignore[attr-defined]
    elif kind == "hf":
        from medgemma.backends.hf import HFBackend

        folder = request.getfixturevalue("tiny_model")

        def make_hf() -> ChatBackend:
            return HFBackend(folder, device="cpu")

        hf = make_hf()
        made = Kit(hf, make_hf, hf.count_tokens, lambda b: b.model is None,  # type: ignore[attr-defined]
                   n_ctx=TINY_GEMMA_WINDOW)
    elif kind == "gguf":
        from medgemma.backends.gguf import GGUFBackend

        path = request.getfixturevalue("default_gguf_path")

        def make_gguf() -> ChatBackend:
            return GGUFBackend(path, n_ctx=1024, threads=LLAMA_THREADS)

        gg = make_gguf()
        made = Kit(gg, make_gguf, gg.count_tokens, lambda b: b._llm is None, n_ctx=1024)  # type: ignore[attr-defined]
    elif kind == "gguf-server":
        from medgemma.backends.llama_server import GGUFServerBackend, find_llama_server

        path, binary = request.getfixturevalue("default_gguf_path"), find_llama_server()
        if binary is None:
            pytest.skip("llama-server is not built (scripts/setup.sh builds it)")

        def make_served() -> ChatBackend:
            return GGUFServerBackend(path, binary, slots=2, n_ctx=1024, threads=LLAMA_THREADS)

        served = make_served()
        made = Kit(served, make_served, served.count_tokens,
                   lambda b: b.server.pid is None, n_ctx=1024)  # type: ignore[attr-defined]
    else:
        from medgemma.backends.gguf import GGUFBackend
        from medgemma.backends.openai import OpenAIBackend

        base_url = request.getfixturevalue("llama_server")
        path = request.getfixturevalue("default_gguf_path")

        def make_openai() -> ChatBackend:
            # llama.cpp's built-in "gemma" chat format drops system messages: fold them into the user turn.
            return OpenAIBackend(base_url, api_key="sk-test-secret", system_in_user_turn=True)

        counter = GGUFBackend(path, n_ctx=256, threads=LLAMA_THREADS)  # the server's model, for counting its tokens
        # The OpenAI API has no tokenizer endpoint and does not say its window.
        made = Kit(make_openai(), make_openai, counter.count_tokens,
                   lambda b: b.client is None, counts=False)  # type: ignore[attr-defined]
    yield made
    made.backend.close()


# -- the contract -----------------------------------------------------------------------------------------


def test_generate_is_the_join_of_stream(kit: Kit) -> None:
    pieces = list(kit.backend.stream(MESSAGES, GREEDY))
    assert len(pieces) >= 3, f"expected a streamed answer, got {pieces!r}"
    assert all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == kit.backend.generate(MESSAGES, GREEDY)


def test_greedy_is_deterministic(kit: Kit) -> None:
    assert kit.backend.generate(MESSAGES, GREEDY) == kit.backend.generate(MESSAGES, GREEDY)


def test_the_same_seed_gives_the_same_sampled_text(kit: Kit) -> None:
    params = GenerationParams(max_new_tokens=16, temperature=0.9, seed=11)
    assert kit.backend.generate(MESSAGES, params) == kit.backend.generate(MESSAGES, params)


@pytest.mark.parametrize("limit", [1, 5])
def test_max_new_tokens_is_honoured(kit: Kit, limit: int) -> None:
    text = kit.backend.generate(MESSAGES, replace(GREEDY, max_new_tokens=limit))
    assert text.strip()
    # Re-tokenising decoded text can merge or split one token at the edges.
    assert kit.count(text) <= limit + 1
    assert kit.count(text) <= kit.count(kit.backend.generate(MESSAGES, GREEDY))


def test_stop_sequences_are_honoured(kit: Kit) -> None:
    full = kit.backend.generate(MESSAGES, GREEDY)
    words = full.split()
    assert len(words) >= 4, full
    # A stop string that spans two words, so in token streams it usually spans tokens too.
    i = len(words) // 2
    stop = words[i][-2:] + " " + words[i + 1][:2]
    if stop not in full:  # the words were separated by something other than one space
        stop = words[i]
    stopped_pieces = list(kit.backend.stream(MESSAGES, replace(GREEDY, stop=(stop,))))
    stopped = "".join(stopped_pieces)
    assert stop not in stopped
    assert all(stop not in p for p in stopped_pieces)
    assert full.startswith(stopped)
    assert full.startswith(stopped + stop), "generation should end exactly where the stop string begins"


def test_a_stop_signal_ends_the_stream_early(kit: Kit) -> None:
    full = list(kit.backend.stream(MESSAGES, GREEDY))
    signal = StopSignal()
    got = []
    for piece in kit.backend.stream(MESSAGES, GREEDY, stop=signal):
        got.append(piece)
        signal.set()
    assert 1 <= len(got) < len(full)
    assert "".join(full).startswith("".join(got))
    # The backend is usable again right after (its lock was released, its worker ended).
    assert kit.backend.generate(MESSAGES, GREEDY) == "".join(full)


def test_closing_the_generator_early_leaves_the_backend_usable(kit: Kit) -> None:
    stream = kit.backend.stream(MESSAGES, GREEDY)
    next(stream)
    stream.close()
    assert kit.backend.generate(MESSAGES, GREEDY).strip()


def test_close_frees_the_model_and_is_idempotent(kit: Kit) -> None:
    backend = kit.make()
    assert backend.generate(MESSAGES, replace(GREEDY, max_new_tokens=2)).strip()
    backend.close()
    assert kit.released(backend)
    backend.close()
    assert kit.released(backend)


def test_window_and_token_count_are_known_or_none(kit: Kit) -> None:
    """`n_ctx` is the window the backend holds a prompt to, and `count_tokens` counts with its tokenizer; a
    backend that cannot know either says None rather than guess."""
    assert kit.backend.n_ctx == kit.n_ctx
    text = kit.backend.generate(MESSAGES, GREEDY)
    assert kit.backend.count_tokens(text) == (kit.count(text) if kit.counts else None)
    if kit.n_ctx is not None:
        too_long = [{"role": "user", "content": "stroke " * kit.n_ctx}]
        with pytest.raises(InputError, match="context window"):
            kit.backend.generate(too_long, GREEDY)


def test_info_names_the_backend(kit: Kit) -> None:
    info = kit.backend.info()
    assert info.backend == kit.backend.name
    assert info.model
    assert "sk-test-secret" not in info.line()


def test_llama_server_and_gguf_backend_answer_alike(default_gguf_path: Path, llama_server: str) -> None:
    """Both engines see the same Gemma prompt: the same model then gives the same greedy text."""
    from medgemma.backends.gguf import GGUFBackend
    from medgemma.backends.openai import OpenAIBackend

    local = GGUFBackend(default_gguf_path, n_ctx=1024, threads=LLAMA_THREADS)
    remote = OpenAIBackend(llama_server, system_in_user_turn=True)
    assert local.generate(MESSAGES, GREEDY) == remote.generate(MESSAGES, GREEDY)
    local.close()
    remote.close()


# -- hf specifics ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loras(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("peft")
    root = tmp_path_factory.mktemp("adapters")
    return {name: build_lora(tiny_model, root / name, seed) for name, seed in (("tone", 1), ("style", 2))}


def test_hf_adapters_each_change_the_answer_and_leave_the_base_alone(tiny_model: Path, loras: dict[str, Path]) -> None:
    from medgemma.backends.hf import HFBackend

    plain = HFBackend(tiny_model, device="cpu")
    base = plain.generate(MESSAGES, GREEDY)
    assert plain.info().adapter == ""
    answers = {}
    for name, path in loras.items():
        backend = HFBackend(tiny_model, device="cpu", adapter_path=path, adapter_name=name)
        answers[name] = backend.generate(MESSAGES, GREEDY)
        assert backend.info().adapter == name
        backend.close()
    assert answers["tone"] != base, "a LoRA with non-zero B weights should change the answer"
    assert answers["style"] not in (base, answers["tone"])
    assert plain.generate(MESSAGES, GREEDY) == base, "loading adapters elsewhere leaves the base model unchanged"
    plain.close()


def test_hf_adapter_given_at_construction_is_active(tiny_model: Path, loras: dict[str, Path]) -> None:
    from medgemma.backends.hf import HFBackend

    with_adapter = HFBackend(tiny_model, device="cpu", adapter_path=loras["tone"], adapter_name="tone")
    plain = HFBackend(tiny_model, device="cpu")
    assert with_adapter.generate(MESSAGES, GREEDY) != plain.generate(MESSAGES, GREEDY)
    assert with_adapter.info().adapter == "tone"
    with_adapter.close()
    plain.close()


def test_hf_unknown_or_unsafe_adapters_are_refused(tiny_model: Path, loras: dict[str, Path], tmp_path: Path) -> None:
    from medgemma.backends.hf import HFBackend

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "adapter_config.json").write_text((loras["tone"] / "adapter_config.json").read_text())
    (pickled / "adapter_model.bin").write_bytes(b"not loaded")
    with pytest.raises(InputError, match="pickle"):
        HFBackend(tiny_model, device="cpu", adapter_path=pickled)
    with pytest.raises(InputError, match="does not exist"):
        HFBackend(tiny_model, device="cpu", adapter_path=tmp_path / "gone")


@pytest.mark.parametrize("quantization", ["4bit", "8bit"])
def test_hf_quantization_without_cuda_is_an_input_error(
    tiny_model: Path, quantization: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from medgemma.backends.hf import HFBackend

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="needs a CUDA GPU"):
        HFBackend(tiny_model, quantization=quantization)
    cfg = replace(AppConfig(), backend=BackendConfig(backend="hf", model=str(tiny_model), quantization=quantization))
    with pytest.raises(InputError, match="needs a CUDA GPU"):
        load_backend(cfg)


def test_hf_device_and_precision_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from medgemma.backends import hf

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert hf.plan_device("auto") == hf.DevicePlan("cpu", "float32", "fp32")
    with pytest.raises(InputError, match="no CUDA GPU"):
        hf.plan_device("cuda")
    with pytest.raises(InputError, match="MPS"):
        hf.plan_device("mps")
    with pytest.raises(InputError, match="Unknown device"):
        hf.plan_device("tpu")
    with pytest.raises(InputError, match="Unknown quantization"):
        hf.plan_device("auto", "3bit")

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert hf.plan_device("auto") == hf.DevicePlan("mps", "float16", "fp16")
    assert hf.plan_device("cpu") == hf.DevicePlan("cpu", "float32", "fp32")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert hf.plan_device("auto") == hf.DevicePlan("cuda", "bfloat16", "bf16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert hf.plan_device("cuda") == hf.DevicePlan("cuda", "float16", "fp16")

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(hf.importlib.util, "find_spec",
                        lambda name, *a: None if name == "bitsandbytes" else real_find_spec(name, *a))
    with pytest.raises(MissingDependency, match="pip install bitsandbytes"):
        hf.plan_device("auto", "4bit")
    monkeypatch.setattr(hf.importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert hf.plan_device("auto", "4bit") == hf.DevicePlan("cuda", "bfloat16", "nf4", "4bit")
    assert hf.plan_device("auto", "8bit") == hf.DevicePlan("cuda", "bfloat16", "int8", "8bit")


def test_hf_missing_model_folder_is_an_input_error(tmp_path: Path) -> None:
    from medgemma.backends.hf import HFBackend

    with pytest.raises(InputError, match="does not exist"):
        HFBackend(tmp_path / "no-such-model")


def test_load_backend_builds_hf_and_openai(tiny_model: Path) -> None:
    cfg = replace(AppConfig(), backend=BackendConfig(backend="hf", model=str(tiny_model), device="cpu"))
    backend = load_backend(cfg)
    assert backend.name == "hf" and backend.info().precision == "fp32"
    with pytest.raises(InputError, match="base_url"):
        load_backend(replace(cfg, backend=BackendConfig(backend="openai")))
    api = load_backend(replace(cfg, backend=BackendConfig(backend="openai", base_url="http://127.0.0.1:9/v1",
                                                          api_model="m", api_key="sk-secret")))
    assert api.name == "openai" and api.info().device == "127.0.0.1:9"
    assert "sk-secret" not in repr(api)


@pytest.mark.skipif(os.environ.get("MEDGEMMA_TEST_CONVERSION") != "1",
                    reason="converts the 270M GGUF (~100-140 s); set MEDGEMMA_TEST_CONVERSION=1 to run")
def test_default_hf_model_conversion(tmp_path: Path) -> None:
    import json

    from medgemma.backends.hf import HFBackend
    from medgemma.convert import default_hf_model
    from medgemma.prompts import gemma_chat

    folder = default_hf_model(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["source_gguf"].endswith(".gguf") and len(manifest["source_sha256"]) == 64
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert not list(folder.glob("*.bin"))
    assert default_hf_model(tmp_path) == folder  # the second call reuses the cache
    backend = HFBackend(folder, device="cpu")
    assert backend.generate(MESSAGES, replace(GREEDY, max_new_tokens=8)).strip()
    rendered = backend.tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    assert rendered == backend.tokenizer.bos_token + gemma_chat(MESSAGES)
    backend.close()


# -- openai specifics (against a fake transport: no server needed) --------------------------------------


def _openai_with(handler: Callable[[Any], Any], key: str = "sk-very-secret",
                 url: str = "http://example.invalid:8000/v1") -> Any:
    import httpx

    from medgemma.backends.openai import OpenAIBackend

    backend = OpenAIBackend(url, api_model="m", api_key=key)
    backend.client = httpx.Client(transport=httpx.MockTransport(handler),
                                  headers={"Authorization": f"Bearer {key}"})
    return backend


def _sse(*deltas: str) -> bytes:
    import json

    events = [{"choices": [{"delta": {"content": d}, "index": 0}]} for d in deltas]
    lines = [": keep-alive", ""] + [f"data: {json.dumps(e)}\n" for e in events] + ["data: [DONE]", ""]
    return "\n".join(lines).encode()


def test_openai_parses_server_sent_events_and_cuts_stops() -> None:
    import httpx

    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        seen["body"] = json.loads(request.content)
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(200, content=_sse("Stroke ", "signs <end_", "of_turn> and more"),
                              headers={"content-type": "text/event-stream"})

    backend = _openai_with(handler)
    pieces = list(backend.stream(MESSAGES, GenerationParams(max_new_tokens=7, temperature=0.3, seed=5, stop=("X",))))
    assert "".join(pieces) == "Stroke signs "
    assert all("<end_" not in p for p in pieces)
    body = seen["body"]
    assert body["stream"] is True and body["max_tokens"] == 7 and body["seed"] == 5 and body["stop"] == ["X"]
    assert body["messages"] == MESSAGES  # sent as-is
    assert seen["auth"] == "Bearer sk-very-secret"


@pytest.mark.parametrize("status", [401, 404, 500])
def test_openai_http_errors_are_backend_errors_without_the_key(status: int) -> None:
    import httpx

    backend = _openai_with(lambda request: httpx.Response(status, json={"error": {"message": "nope sk-very-secret"}}),
                           url="http://user:pw@example.invalid:8000/v1")
    with pytest.raises(BackendError) as err:
        backend.generate(MESSAGES, GREEDY)
    message = str(err.value)
    assert f"HTTP {status}" in message and "example.invalid:8000/v1/chat/completions" in message
    assert "sk-very-secret" not in message and "pw" not in message


def test_openai_unreachable_server_is_a_backend_error() -> None:
    from medgemma.backends.openai import OpenAIBackend

    port = _free_port()  # nothing listens there
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", api_model="m", api_key="sk-very-secret",
                            connect_timeout_s=2)
    with pytest.raises(BackendError, match=f"Could not connect to http://127.0.0.1:{port}/v1") as err:
        backend.generate(MESSAGES, GREEDY)
    assert "sk-very-secret" not in str(err.value)


def test_openai_stop_signal_closes_the_response() -> None:
    import httpx

    closed: list[bool] = []

    class Body(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            for chunk in _sse(*[f"w{i} " for i in range(50)]).split(b"\n"):
                yield chunk + b"\n"

        def close(self) -> None:
            closed.append(True)

    backend = _openai_with(lambda request: httpx.Response(200, stream=Body()))
    signal = StopSignal()
    got = []
    for piece in backend.stream(MESSAGES, GREEDY, stop=signal):
        got.append(piece)
        signal.set()
    assert got == ["w0 "] and closed


def test_openai_system_can_be_folded_into_the_first_user_turn() -> None:
    from medgemma.backends.openai import merge_system

    merged = merge_system(MESSAGES + [{"role": "assistant", "content": "A."}, {"role": "user", "content": "B?"}])
    assert [m["role"] for m in merged] == ["user", "assistant", "user"]
    assert merged[0]["content"] == MESSAGES[0]["content"] + "\n\n" + MESSAGES[1]["content"]
