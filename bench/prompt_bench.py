"""Which prompt layout works best for the default base (untuned) 270M model? Printed, not asserted.

For each prompt style, the same questions, the same retrieved passages, greedy decoding:
  cites      share of answers with at least one valid citation [n]
  invalid    citations per answer that point at no passage (removed by the safety check)
  support    share of the answer's content words found in the retrieved passages (lexical grounding)
  echo       share of answers that repeat the instruction or a source header (the prompt, not an answer)
  degenerate share of answers that are empty or mostly one repeated line
  words      mean answer length

    python bench/prompt_bench.py [--questions 12] [--max-tokens 96]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medgemma import safety  # noqa: E402
from medgemma.config import AppConfig, GenerationParams  # noqa: E402
from medgemma.prompts import STYLES, SYSTEM_PROMPT, build_messages  # noqa: E402
from medgemma.runtime import Runtime  # noqa: E402

QUESTIONS = [
    "What are the warning signs of a stroke?",
    "How does paracetamol overdose damage the liver?",
    "What does pneumonia look like on a chest X-ray?",
    "Why are antibiotics not useful for colds?",
    "What are the symptoms of sepsis?",
    "How do vaccines work?",
    "What is the difference between type 1 and type 2 diabetes?",
    "What triggers asthma?",
    "What are the signs of anaphylaxis?",
    "What does a meningioma look like on MRI?",
    "Why can NSAIDs cause stomach bleeding?",
    "What is cervical screening for?",
    "What is atrial fibrillation?",
    "How is high blood pressure treated?",
    "What features of a breast lump on ultrasound raise concern?",
    "What is the difference between grading and staging in pathology?",
]

STOPWORDS = set("""a an the and or of to in on for with is are was were be been it its this that as by at from
can may might will would should could not no do does did has have had which who what when where how why
their they them there these those such than then also into about your you our we he she his her""".split())


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z\-]+", text.lower()) if w not in STOPWORDS and len(w) > 2]


def echoes_prompt(text: str, passages: list) -> bool:
    """True if the answer repeats an 8-word run of the instruction, or copies a '[n] Title (Source)' header."""
    words = re.findall(r"\w+", text.lower())
    instruction = " ".join(re.findall(r"\w+", SYSTEM_PROMPT.lower()))
    runs = {" ".join(words[i : i + 8]) for i in range(max(0, len(words) - 7))}
    headers = [f"[{n}] {p.title}" for n, p in enumerate(passages, 1)]
    return any(r in instruction for r in runs) or any(h in text for h in headers) or "Sources:" in text


def degenerate(text: str) -> bool:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(content_words(text)) < 3:
        return True
    return len(lines) >= 4 and len(set(lines)) <= len(lines) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--show", action="store_true", help="Print every answer.")
    args = ap.parse_args()

    cfg = AppConfig.from_env()
    runtime = Runtime(cfg)
    assistant = runtime.assistant()
    backend = assistant.backend
    params = GenerationParams(max_new_tokens=args.max_tokens, temperature=0.0)
    questions = QUESTIONS[: args.questions]
    contexts = {q: assistant.retrieve(q) for q in questions}

    print(f"{'style':10} {'cites':>6} {'invalid':>8} {'support':>8} {'echo':>6} {'degenerate':>11} {'words':>6}")
    for style in STYLES:
        backend.prompt_style = style  # type: ignore[attr-defined]
        cites, invalid, support, echo, degen, words = [], [], [], [], [], []
        for q in questions:
            passages = contexts[q]
            text = backend.generate(build_messages(q, passages), params)
            check = safety.check_answer(text, passages)
            cites.append(bool(check.cited))
            invalid.append(len(check.removed_citations))
            source_words = set(content_words(" ".join(p.text + " " + p.title for p in passages)))
            answer_words = content_words(text)
            support.append(sum(w in source_words for w in answer_words) / len(answer_words) if answer_words else 0.0)
            echo.append(echoes_prompt(text, passages))
            degen.append(degenerate(text))
            words.append(len(text.split()))
            if args.show:
                print(f"--- [{style}] {q}\n{text.strip()}\n")
        print(f"{style:10} {statistics.mean(cites):6.2f} {statistics.mean(invalid):8.2f} "
              f"{statistics.mean(support):8.2f} {statistics.mean(echo):6.2f} {statistics.mean(degen):11.2f} {statistics.mean(words):6.1f}")
    runtime.close()


if __name__ == "__main__":
    main()
