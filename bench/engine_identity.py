"""Do the two GGUF engines give the same greedy answer, and does llama-server's prompt cache change it?

For 20 fixed questions the app's own prompt (retrieved passages, the shipped adapter, greedy decoding) goes to:
  inprocess   llama-cpp-python, the KV cache reset before each request
  no-reuse    llama-server with one slot and the prompt cache off: every prompt read from scratch
  cold        llama-server, the first time it sees the prompt (only the shared instruction can be reused)
  warm        llama-server, the same prompt again (the whole prompt comes from the slot's cache)
  batched     llama-server, all 20 at once across its slots (sequences decoded in one batch)
and prints how many answers are identical to the in-process one, and where the first difference starts.

    python bench/engine_identity.py [--slots 4] [--max-new-tokens 128] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medgemma.backends import chosen_adapter, resolve_adapter  # noqa: E402
from medgemma.backends.llama_server import GGUFServerBackend, find_llama_server  # noqa: E402
from medgemma.config import AppConfig, GenerationParams  # noqa: E402
from medgemma.prompts import build_messages  # noqa: E402
from medgemma.runtime import Runtime  # noqa: E402

QUESTIONS = [
    "What are the warning signs of a stroke?", "How does paracetamol overdose damage the liver?",
    "What does pneumonia look like on a chest X-ray?", "Why should antibiotics not be used for colds?",
    "What are the symptoms of sepsis?", "How do vaccines train the immune system?",
    "What is the difference between type 1 and type 2 diabetes?", "What are common triggers of asthma attacks?",
    "How is high blood pressure diagnosed?", "What causes migraines?", "What is chronic kidney disease?",
    "How is tuberculosis spread?", "What are the symptoms of appendicitis?", "What is atrial fibrillation?",
    "How does smoking harm the lungs?", "What is osteoporosis?", "What are the signs of dehydration?",
    "What causes anaemia?", "How is shingles treated?", "What is heart failure?",
]


def first_difference(a: str, b: str) -> int:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return n if a != b else -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    binary = find_llama_server()
    if binary is None:
        raise SystemExit("llama-server is not built: run scripts/setup.sh")
    cfg = AppConfig.from_env()
    cfg = replace(cfg, backend=replace(cfg.backend, gguf_engine="inprocess", threads=args.threads))
    runtime = Runtime(cfg)
    assistant = runtime.assistant()
    inproc = assistant.backend
    params = GenerationParams(max_new_tokens=args.max_new_tokens, temperature=0.0)
    prompts = [build_messages(q, assistant.retrieve(q)) for q in QUESTIONS]
    adapter = chosen_adapter(cfg.backend, cfg.adapters_dir)
    lora = resolve_adapter(adapter, cfg.adapters_dir) / "adapter.gguf" if adapter else None
    server = GGUFServerBackend(inproc.model_path, binary, slots=args.slots, n_ctx=cfg.backend.n_ctx,
                               threads=args.threads, lora_path=lora, prompt_style=inproc.prompt_style)
    print(f"{len(prompts)} prompts, {sum(server.count_tokens(_render(inproc, m)) for m in prompts) // len(prompts)} "
          f"tokens on average; adapter {adapter or 'none'}; {args.slots} slots", flush=True)
    runs: dict[str, list[str]] = {}
    t = time.perf_counter()
    runs["inprocess"] = [inproc.generate(m, params) for m in prompts]
    print(f"inprocess: {time.perf_counter() - t:.1f} s", flush=True)
    inproc.close()
    single = GGUFServerBackend(inproc.model_path, binary, slots=1, n_ctx=cfg.backend.n_ctx, threads=args.threads,
                               lora_path=lora, prompt_style=inproc.prompt_style, reuse_prefix=False)
    t = time.perf_counter()
    runs["no-reuse"] = [single.generate(m, params) for m in prompts]
    print(f"no-reuse: {time.perf_counter() - t:.1f} s", flush=True)
    single.close()
    for name in ("cold", "warm"):
        t = time.perf_counter()
        runs[name] = [server.generate(m, params) for m in prompts]
        print(f"{name}: {time.perf_counter() - t:.1f} s", flush=True)
    out = [""] * len(prompts)

    def one(i: int) -> None:
        out[i] = server.generate(prompts[i], params)

    t = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    runs["batched"] = out
    print(f"batched: {time.perf_counter() - t:.1f} s", flush=True)
    server.close()
    base = runs["inprocess"]
    for name in ("no-reuse", "cold", "warm", "batched"):
        diffs = [first_difference(a, b) for a, b in zip(base, runs[name])]
        same = sum(d == -1 for d in diffs)
        print(f"{name:9} identical to inprocess: {same}/{len(base)}"
              + (f"; first difference at characters {[d for d in diffs if d >= 0]}" if same < len(base) else ""))
    for name in ("warm", "batched"):
        same = sum(a == b for a, b in zip(runs["cold"], runs[name]))
        print(f"{name:9} identical to cold: {same}/{len(base)}")
    for i, (a, b) in enumerate(zip(base, runs["batched"])):
        if a != b:
            print(f"\n[{i}] {QUESTIONS[i]}\n  inprocess: {a!r}\n  batched:   {b!r}")


def _render(backend, messages) -> str:  # type: ignore[no-untyped-def]
    from medgemma.prompts import render

    return render(messages, backend.prompt_style)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
