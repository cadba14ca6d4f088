"""Time to first token and decode speed: the app's path against raw llama-cpp-python on the same prompt.

Three ways over the same questions, same model, greedy, in one run:
  raw        llama_cpp.Llama.create_completion on the rendered prompt
  backend    GGUFBackend.stream on the same messages
  assistant  Assistant.stream: safety + retrieval + prompt + generation + answer check
Prints medians and the ratio of each app path to raw (1.00 = the app adds nothing).

    python bench/speed_bench.py [--questions 5] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medgemma.assistant import Assistant, Partial  # noqa: E402
from medgemma.config import AppConfig, GenerationParams  # noqa: E402
from medgemma.prompts import build_messages, render, stops_for  # noqa: E402
from medgemma.runtime import Runtime  # noqa: E402

QUESTIONS = [
    "What are the warning signs of a stroke?",
    "How does paracetamol overdose harm the liver?",
    "What does pneumonia look like on a chest X-ray?",
    "Why are antibiotics not used for the common cold?",
    "What are the early symptoms of sepsis?",
    "How do vaccines protect against disease?",
    "What is the difference between type 1 and type 2 diabetes?",
    "What are common triggers of asthma?",
]


def timed(pieces: Iterator[str], count: Callable[[str], int]) -> tuple[float, float, int]:
    """(seconds to first piece, decode tokens/s after it, tokens) for a stream of text pieces."""
    t0 = time.perf_counter()
    first = None
    text = ""
    for piece in pieces:
        if first is None:
            first = time.perf_counter()
        text += piece
    end = time.perf_counter()
    tokens = count(text) if text else 0
    first = first or end
    decode = (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0
    return first - t0, decode, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()

    cfg = AppConfig.from_env()
    runtime = Runtime(cfg)
    assistant: Assistant = runtime.assistant()
    backend = assistant.backend
    llm = backend._model()  # type: ignore[attr-defined]
    params = GenerationParams(max_new_tokens=args.max_tokens, temperature=0.0)

    def count(text: str) -> int:
        return len(llm.tokenize(text.encode(), add_bos=False, special=True))

    def raw(prompt: str) -> Iterator[str]:
        for out in llm.create_completion(prompt, max_tokens=args.max_tokens, temperature=0.0,
                                         repeat_penalty=params.repeat_penalty, seed=params.seed,
                                         stop=list(stops_for(backend.prompt_style)), stream=True):
            yield out["choices"][0]["text"]

    def via_assistant(question: str) -> Iterator[str]:
        shown = 0
        for item in assistant.stream(question, params=params):
            if isinstance(item, Partial):
                yield item.text[shown:]
                shown = len(item.text)

    rows: dict[str, list[tuple[float, float, int]]] = {"raw": [], "backend": [], "assistant": []}
    timed(raw("warm up"), count)
    for question in QUESTIONS[: args.questions]:
        passages = assistant.retrieve(question)
        messages = build_messages(question, passages)
        prompt = render(messages, backend.prompt_style)  # type: ignore[attr-defined]
        # llama.cpp reuses the KV cache of a matching prompt prefix: reset it so every path pays for prefill.
        llm.reset()
        rows["raw"].append(timed(raw(prompt), count))
        llm.reset()
        rows["backend"].append(timed(backend.stream(messages, params), count))
        llm.reset()
        rows["assistant"].append(timed(via_assistant(question), count))
        print(f"{question[:50]:50}  prompt {count(prompt)} tokens")

    base_ttft = statistics.median(r[0] for r in rows["raw"])
    base_tps = statistics.median(r[1] for r in rows["raw"])
    print(f"\n{'path':10} {'TTFT s':>8} {'decode tok/s':>13} {'TTFT ratio':>11} {'speed ratio':>12}")
    for name, r in rows.items():
        ttft = statistics.median(x[0] for x in r)
        tps = statistics.median(x[1] for x in r)
        print(f"{name:10} {ttft:8.2f} {tps:13.1f} {base_ttft / ttft:11.2f} {tps / base_tps:12.2f}")
    print("\nratios: raw / path for TTFT and path / raw for decode speed; 1.00 means no overhead. "
          "The assistant's TTFT includes the safety check and retrieval.")
    runtime.close()


if __name__ == "__main__":
    main()
