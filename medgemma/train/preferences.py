"""Preference pairs built from the grounded recipe, for DPO: the faithful answer against a plausible wrong one.

Each grounded example gives one pair, its chosen answer being the grounded answer (quoted from the gold passage
with the gold's number, or "the sources do not answer" when no passage covers the question). The rejected answer
is one of the errors a small model makes, taken in turn per example (seeded):

- moved: the same quoted sentences, cited to a distractor's number;
- swapped: the same sentences with the question's subject replaced by a distractor's subject (when the answer
  names its subject; otherwise moved);
- confident: for a question the sources do not cover, a distractor's sentence with the asked-about subject
  pasted in, cited to that distractor: the invented answer where "not covered" was right.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from .. import citations
from ..rag.chunking import split_sentences
from .examples import Example, Pair
from .grounded import grounded_recipe

KINDS = ("moved", "swapped")


def _passages(ex: Example) -> list[dict[str, str]]:
    try:
        shown = json.loads(ex.meta.get("passages", "[]"))
    except ValueError:
        return []
    return [p for p in shown if isinstance(p, dict) and p.get("text")]


def _subject(ex: Example) -> str:
    return (ex.meta.get("focus") or "").strip()


def _recite(answer: str, number: int) -> str:
    return " ".join(citations.cite(s, [number]) for s in split_sentences(answer))


def _replace(text: str, old: str, new: str) -> str:
    return re.sub(re.escape(old), new, text, flags=re.IGNORECASE)


def rejected_for(ex: Example, rng: random.Random, turn: int) -> tuple[str, str] | None:
    """(kind, rejected answer) for one grounded example, or None when no wrong answer can be built."""
    shown = _passages(ex)
    subject = _subject(ex)
    if ex.meta.get("grounded") == "no_answer":
        if not shown or not subject:
            return None
        n = rng.randrange(len(shown))
        first = split_sentences(shown[n]["text"])[:1]
        if not first:
            return None
        title = (shown[n].get("title") or "").strip()
        sentence = _replace(first[0], title, subject) if title and title.lower() in first[0].lower() else \
            f"{subject}: {first[0][:1].lower()}{first[0][1:]}"
        return "confident", citations.cite(sentence, [n + 1])
    gold = int(ex.meta.get("gold_position") or 0)
    others = [n for n in range(1, len(shown) + 1) if n != gold]
    if not gold or not others:
        return None
    wrong = rng.choice(others)
    kind = KINDS[turn % len(KINDS)]
    if kind == "swapped":
        other = (shown[wrong - 1].get("title") or "").strip()
        if subject and other and subject.lower() in ex.answer.lower() and other.lower() != subject.lower():
            return "swapped", _replace(ex.answer, subject, other)
    return "moved", _recite(ex.answer, wrong)


def grounded_pairs_recipe(retriever: Any, **kwargs: Any) -> list[Pair]:
    """The grounded recipe's examples (same arguments) as preference pairs; examples with no wrong answer to
    build are left out. meta gains `rejected_kind`."""
    seed = int(kwargs.get("seed", 0))
    pairs = []
    for turn, ex in enumerate(grounded_recipe(retriever, **kwargs)):
        rng = random.Random(f"{seed}:pair:{ex.id}")
        made = rejected_for(ex, rng, turn)
        if made is None or made[1].strip() == ex.answer.strip():
            continue
        kind, rejected = made
        pairs.append(Pair(ex.id, ex.messages, ex.answer, ex.meta | {"rejected_kind": kind}, rejected=rejected))
    return pairs
