"""A verifiable reward for grounded answers (GRPO): what the answer check can verify, as a number.

For a question whose sources cover it, each claim sentence earns its share when a passage supports it
(`attribution.support`, strict) and the passages it cites are among those that do; a sentence that cites a
passage which does not say it, or no passage at all, earns nothing. Saying "the sources do not cover this"
earns 1 when the sources are indeed silent and 0 when they answer. Telling the reader a dose costs 1 whatever
else the answer does. The reward lies in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import citations
from ..attribution import abstains, support
from ..rag.chunking import split_sentences
from ..safety.answers import is_dosing


def grounded_reward(answer: str, passages: Sequence[str], covered: bool) -> float:
    """The reward of one answer to a question with these passage texts (numbered from 1)."""
    text = (answer or "").strip()
    sentences = split_sentences(text) if text else []
    if any(is_dosing(citations.strip(s)) for s in sentences):
        return -1.0
    if not sentences:
        return 0.0
    if abstains(text):
        return 1.0 if not covered else 0.0
    if not covered:
        return 0.0  # a confident answer where the sources are silent
    passages = tuple(passages)
    earned = claims = 0
    for sentence in sentences:
        backing = support(sentence, passages, strict=True)
        if backing.kind == "plain":
            continue
        claims += 1
        cited = set(citations.cited_numbers(sentence))
        if backing.supported and cited and cited <= set(backing.passages):
            earned += 1
    return earned / claims if claims else 0.0


def reward_function(completions: Sequence[Any], passages: Sequence[Sequence[str]], covered: Sequence[bool],
                    **_: Any) -> list[float]:
    """TRL's reward-function signature: one completion per row, with the row's `passages` and `covered`."""
    out = []
    for completion, texts, cov in zip(completions, passages, covered):
        if isinstance(completion, list):  # conversational completions: the assistant turn's text
            completion = " ".join(m.get("content", "") for m in completion if isinstance(m, dict))
        out.append(grounded_reward(str(completion), list(texts), bool(cov)))
    return out
