"""The three backends on the same RAG prompt: start-up, first token, decode speed, app overhead and memory.

For each backend (gguf: the default GGUF through llama-cpp-python; hf: the converted 270M through
transformers; openai: OpenAIBackend against a llama_cpp.server this script starts on 127.0.0.1 with the
same GGUF) two fresh worker processes run:
  1. a cold start: the first start in this run (the hf one converts the GGUF first when its cache is
     missing, or always with --fresh-hf-cache), timed from process start to a loaded model;
  2. a warm start, then greedy generations of the same prompt alternating two paths:
       app  backend.stream(messages, params)
       raw  the library call underneath: Llama.create_completion(stream=True) / model.generate with a
            TextIteratorStreamer in a thread / one httpx streaming POST to /chat/completions
     and the worker's peak RSS (for openai also the server's, from /proc/<pid>/status VmHWM).
Medians are printed; ratios are app/raw decode speed and raw/app time to first token (1.00 = no overhead).

    python bench/backend_bench.py [--backends gguf,hf,openai] [--reps 3] [--max-tokens 64] [--threads 0]
                                  [--fresh-hf-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medgemma.config import GenerationParams  # noqa: E402
from medgemma.prompts import GEMMA_STOPS, build_messages, render  # noqa: E402
from medgemma.types import Message, Passage  # noqa: E402

QUESTION = "What are the warning signs of high blood pressure, and why does it matter?"
CACHE = ROOT / "cache"


def fixed_messages(run: int = 0, n_passages: int = 3) -> list[Message]:
    """A realistic RAG prompt from the packaged corpus: the first passages, the same every run.

    The run number opens the prompt, so no engine can reuse the previous run's prompt from its KV cache
    (llama.cpp keeps the longest common prefix): every run pays the full prefill, as a new question does.
    """
    from medgemma.assets import corpus_path

    passages = []
    with open(corpus_path(), encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            passages.append(Passage(row["id"], row["text"], row.get("title", ""), row.get("source", ""),
                                    row.get("url", ""), 1.0))
            if len(passages) == n_passages:
                break
    messages = build_messages(QUESTION, passages)
    messages[0] = {"role": "system", "content": f"Run {run}. " + messages[0]["content"]}
    return messages


def timed(pieces: Iterator[str], count: Callable[[str], int]) -> dict[str, float]:
    """Seconds to the first piece, decode tokens/s after it, and tokens, for a stream of text pieces."""
    t0 = time.perf_counter()
    first = None
    text = ""
    for piece in pieces:
        if first is None and piece:
            first = time.perf_counter()
        text += piece
    end = time.perf_counter()
    first = first or end
    tokens = count(text) if text else 0
    decode = (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0
    return {"ttft": first - t0, "decode": decode, "tokens": tokens, "text": text}  # type: ignore[dict-item]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def proc_peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# -- the llama.cpp server for the openai backend -----------------------------------------------------------


def start_server(gguf: Path, log: Path, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    n = str(threads or os.cpu_count() or 1)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port",
             str(port), "--n_ctx", "2048", "--chat_format", "gemma", "--n_threads", n,
             "--n_threads_batch", n],
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/models", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start in 120 s")


# -- one worker: one backend in a fresh process ------------------------------------------------------------


def worker(kind: str, mode: str, reps: int, max_tokens: int, cache: Path, threads: int) -> dict[str, Any]:
    from medgemma.assets import default_gguf

    messages = fixed_messages()
    prompt = render(messages, "chat")
    params = GenerationParams(max_new_tokens=max_tokens, temperature=0.0)
    out: dict[str, Any] = {"backend": kind}
    server = None
    converted = False
    reset: Callable[[], None] = lambda: None  # noqa: E731

    if kind == "gguf":
        from medgemma.backends.gguf import GGUFBackend

        backend: Any = GGUFBackend(default_gguf(cache), n_ctx=2048, threads=threads)
        backend.count_tokens("warm up")  # loads the model
        llm = backend._model()
        reset = llm.reset

        def count(text: str) -> int:
            return len(llm.tokenize(text.encode(), add_bos=False, special=True))

        def raw(prompt: str, messages: list[Message]) -> Iterator[str]:
            for chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0,
                                               top_p=params.top_p, repeat_penalty=params.repeat_penalty,
                                               seed=params.seed, stop=list(GEMMA_STOPS), stream=True):
                yield chunk["choices"][0]["text"]

    elif kind == "hf":
        from medgemma.backends.hf import HFBackend
        from medgemma.convert import DEFAULT_HF_NAME, default_hf_model

        t = time.perf_counter()
        target = cache / "models" / DEFAULT_HF_NAME
        converted = not (target / "manifest.json").exists()
        folder = default_hf_model(cache)
        out["convert_s"] = time.perf_counter() - t if converted else 0.0
        backend = HFBackend(folder, device="cpu", threads=threads)
        backend.count_tokens("warm up")
        model, tok = backend.model, backend.tokenizer

        def count(text: str) -> int:
            return len(tok(text, add_special_tokens=False)["input_ids"])

        def raw(prompt: str, messages: list[Message]) -> Iterator[str]:
            import torch
            from transformers import TextIteratorStreamer

            enc = tok(prompt, return_tensors="pt")
            streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=False)
            eos = [tok.eos_token_id, tok.convert_tokens_to_ids("<end_of_turn>")]

            def run() -> None:
                with torch.inference_mode():
                    model.generate(**enc, streamer=streamer, max_new_tokens=max_tokens, do_sample=False,
                                   repetition_penalty=params.repeat_penalty, eos_token_id=eos,
                                   pad_token_id=tok.pad_token_id)

            th = threading.Thread(target=run)
            th.start()
            yield from streamer
            th.join()

    else:
        import httpx

        from medgemma.backends.openai import OpenAIBackend, merge_system

        server, url = start_server(default_gguf(cache), Path(tempfile.mkdtemp()) / "server.log", threads)
        backend = OpenAIBackend(url, system_in_user_turn=True)
        client = httpx.Client(timeout=120)
        empty = len(client.post(url.removesuffix("/v1") + "/extras/tokenize", json={"input": ""}).json()["tokens"])

        def count(text: str) -> int:
            r = client.post(url.removesuffix("/v1") + "/extras/tokenize", json={"input": text})
            return len(r.json()["tokens"]) - empty

        def reset() -> None:  # a request with another prompt replaces the server's cached prefix
            client.post(url + "/chat/completions", json={"messages": [{"role": "user", "content": "Hello."}],
                                                          "max_tokens": 1, "temperature": 0.0})

        def raw(prompt: str, messages: list[Message]) -> Iterator[str]:
            body = {"model": "x", "messages": merge_system(messages), "stream": True, "temperature": 0.0,
                    "top_p": params.top_p, "max_tokens": max_tokens, "seed": params.seed}
            with client.stream("POST", url + "/chat/completions", json=body) as r:
                for line in r.iter_lines():
                    if line.startswith("data:") and line[5:].strip() != "[DONE]":
                        delta = json.loads(line[5:])["choices"][0]["delta"].get("content")
                        if delta:
                            yield delta

        list(backend.stream(messages, GenerationParams(max_new_tokens=1)))  # ready: the server has answered once

    out["start_s"] = time.perf_counter() - START
    out["converted"] = converted
    if mode == "full":
        out["prompt_tokens"] = count(prompt)
        # Untimed: both paths on one prompt (also the warm-up); greedy, so they should agree exactly. llama.cpp
        # gives a different greedy text when it reuses a cached prompt prefix than after a full prefill, so
        # its cache is emptied (or, for the server, replaced) before each of the two.
        reset()
        raw_text = "".join(raw(prompt, messages))
        reset()
        app_text = "".join(backend.stream(messages, params))
        out["same_text"] = raw_text == app_text
        if raw_text != app_text:
            out["texts"] = [raw_text, app_text]
        runs: dict[str, list[dict[str, float]]] = {"raw": [], "app": []}
        for rep in range(reps):
            for path in ("raw", "app") if rep % 2 == 0 else ("app", "raw"):  # neither always goes first
                msgs = fixed_messages(run=len(runs["raw"]) + len(runs["app"]) + 1)
                pieces = raw(render(msgs, "chat"), msgs) if path == "raw" else backend.stream(msgs, params)
                runs[path].append(timed(pieces, count))
        for path, rows in runs.items():
            out[f"{path}_ttft"] = statistics.median(r["ttft"] for r in rows)
            out[f"{path}_decode"] = statistics.median(r["decode"] for r in rows)
            out[f"{path}_tokens"] = statistics.median(r["tokens"] for r in rows)
    out["peak_rss_mb"] = peak_rss_mb()
    if server is not None:
        out["server_peak_rss_mb"] = proc_peak_rss_mb(server.pid)
        server.terminate()
        server.wait(timeout=20)
    backend.close()
    return out


def run_worker(kind: str, mode: str, args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", kind, "--mode", mode, "--reps", str(args.reps),
           "--max-tokens", str(args.max_tokens), "--cache", str(cache), "--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="gguf,hf,openai")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads per engine (0 = all cores, as the app does); 1 is steadier on a busy machine")
    ap.add_argument("--fresh-hf-cache", action="store_true",
                    help="time the hf cold start with the GGUF conversion, in a temporary cache")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="full", help=argparse.SUPPRESS)
    ap.add_argument("--cache", default=str(CACHE), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.mode, args.reps, args.max_tokens, Path(args.cache), args.threads)))
        return

    results = []
    for kind in args.backends.split(","):
        cold_cache = CACHE
        if kind == "hf" and args.fresh_hf_cache:
            cold_cache = Path(tempfile.mkdtemp(prefix="medgemma-bench-cache-"))
        print(f"{kind}: cold start...", file=sys.stderr, flush=True)
        cold = run_worker(kind, "start", args, cold_cache)
        print(f"{kind}: warm start and {args.reps}x2 generations...", file=sys.stderr, flush=True)
        warm = run_worker(kind, "full", args, CACHE)
        warm["cold_s"] = cold["start_s"]
        warm["cold_converted"] = cold["converted"]
        results.append(warm)
        if cold_cache != CACHE:
            import shutil

            shutil.rmtree(cold_cache, ignore_errors=True)

    load = os.getloadavg()
    print(f"\nprompt: {results[0].get('prompt_tokens', '?')} tokens; {args.max_tokens} new tokens, greedy; "
          f"medians of {args.reps}; {args.threads or os.cpu_count()} threads on {os.cpu_count()} CPU cores; "
          f"load average at the end {load[0]:.1f} (above ~{os.cpu_count()} other processes were competing)\n")
    head = (f"{'backend':8} {'cold s':>8} {'warm s':>7} {'TTFT app':>9} {'TTFT raw':>9} {'tok/s app':>10} "
            f"{'tok/s raw':>10} {'speed ratio':>12} {'TTFT ratio':>11} {'peak RSS MB':>12} {'same text':>10}")
    print(head)
    print("-" * len(head))
    for r in results:
        cold = f"{r['cold_s']:.1f}" + ("*" if r["cold_converted"] else "")
        rss = f"{r['peak_rss_mb']:.0f}"
        if "server_peak_rss_mb" in r:
            rss = f"{r['peak_rss_mb']:.0f}+{r['server_peak_rss_mb']:.0f}"
        print(f"{r['backend']:8} {cold:>8} {r['start_s']:7.1f} {r['app_ttft']:9.2f} {r['raw_ttft']:9.2f} "
              f"{r['app_decode']:10.1f} {r['raw_decode']:10.1f} {r['app_decode'] / r['raw_decode']:12.2f} "
              f"{r['raw_ttft'] / r['app_ttft']:11.2f} {rss:>12} {str(r['same_text']):>10}")
    print("\n* cold start includes the GGUF -> safetensors conversion. openai RSS: client + llama_cpp.server. "
          "Start times run from process start (imports included) to a loaded model (openai: server answering).")


if __name__ == "__main__":
    main()
