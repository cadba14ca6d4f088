"""The answer check: each generated sentence cited to the passage that says it (or removed), doses, disclaimer.

Pure and fast (about a millisecond per answer); `attribution` decides what supports a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .. import attribution, citations
from ..types import AnswerCheck, Passage, SentenceSupport
from .messages import DISCLAIMER, DOSING_NOTE, NOTHING_SUPPORTED, UNSUPPORTED_MARK
from .rules import rx as _rx

_DOSE = _rx(r"\b(\d+(?:[.,]\d+)?|one|two|three|four|half an?|a)\s*(?:(?:-|–|to)\s*\d+(?:[.,]\d+)?\s*)?"
            r"(mg|mcg|µg|μg|micrograms?|milligrams?|g|grams?|ml|milliliters?|millilitres?|cc|units?|iu|tablets?|"
            r"tabs?|pills?|capsules?|caps?|puffs?|drops?|sprays?|teaspoons?|tsp|tablespoons?|tbsp|sachets?)\b")
# Who the dose is for: an imperative at the start of the sentence, or "you" / "your child" doing the taking.
_INSTRUCTION = _rx(
    r"^\W*((then|so|now|just|simply|also|first|i\s+(would\s+)?(recommend|suggest|advise)(\s+that)?(\s+you)?|"
    r"you\s+(should|can|could|may|might|need to|must|will need to|have to|ought to|'ll))\s+)?(take|give|use|"
    r"administer|inject|apply|increase|decrease|reduce|double|start|try|swallow|chew|dissolve|drink|inhale|put)\b|"
    r"\byou\s+(\w+\s+)?(should|can|could|may|need to|must|have to|ought to)\s+(take|give|use|have|start|"
    r"increase|double)\b|\b(give|giving)\s+(your|him|her|them)\b|\byour\s+(child|son|daughter|baby|kid|"
    r"toddler|infant)\s+(can|should|may|needs?)\s+(have|take|get)\b|\b(i\s+(recommend|suggest|prescribe)|"
    r"for you)\b"
)
# Label warnings and limits are general safety information, kept even when they contain a number.
_GENERAL_LIMIT = _rx(r"\b(do not|don't|never|no more than|not exceed|must not|should not|shouldn't|maximum|"
                     r"exceed\w*|label|leaflet)\b")


def is_dosing(sentence: str) -> bool:
    """Whether a sentence tells the reader an amount of a medicine to take."""
    return bool(_DOSE.search(sentence) and _INSTRUCTION.search(sentence) and not _GENERAL_LIMIT.search(sentence))


def check_answer(text: str, passages: Sequence[Passage], strict: bool = True) -> AnswerCheck:
    """Repair generated text sentence by sentence, and end it with the disclaimer once.

    Each sentence is cited to the passages that support it (`attribution.support`), whatever the model
    wrote; a sentence no passage supports is removed (`strict`) or marked `UNSUPPORTED_MARK`. Individual
    dosing is replaced by a note. Without passages there is nothing to attribute: citations are dropped.
    """
    body = text.replace(DISCLAIMER, "")
    if body.strip() == NOTHING_SUPPORTED:  # checked before: nothing to attribute
        return AnswerCheck(f"{NOTHING_SUPPORTED}\n\n{DISCLAIMER}", flags=("nothing_supported",))
    texts = [p.text for p in passages]
    written = set(citations.cited_numbers(body))
    supports: list[SentenceSupport] = []
    dosed = False
    lines = []
    for line in body.split("\n"):
        out: list[str] = []
        for sentence, gap in citations.split(line):
            if not sentence.strip():
                out.append(sentence + gap)
                continue
            if sentence.strip() == DOSING_NOTE:  # our own note, from an earlier check
                out.append(sentence + gap)
                continue
            if is_dosing(sentence):
                dosed = True
                if not (out and out[-1].rstrip() == DOSING_NOTE):  # one note stands for a run of them
                    out.append(DOSING_NOTE + gap)
                continue
            if not passages:
                out.append(citations.strip(sentence) + gap)
                continue
            found = attribution.support(sentence, texts, strict)
            supports.append(found)
            if found.supported:
                out.append(citations.cite(sentence, found.passages) + gap)
            elif found.kind == "plain":
                out.append(citations.strip(sentence).rstrip() + gap)
            elif found.kept:
                out.append(citations.tag(sentence, UNSUPPORTED_MARK) + gap)
        lines.append("".join(out).rstrip())
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    flags: list[str] = []
    claims = [s for s in supports if s.kind == "claim"]
    if any(not s.supported for s in claims):
        flags.append("unsupported_removed" if strict else "unsupported_marked")
    if claims and not any(s.supported for s in claims):
        flags.append("nothing_supported")
        if strict:
            body = NOTHING_SUPPORTED
    if dosed:
        flags.append("dosing")
    cited = sorted({n for s in supports for n in s.passages})
    final = f"{body}\n\n{DISCLAIMER}" if body else DISCLAIMER
    return AnswerCheck(final, tuple(cited), tuple(sorted(written - set(cited))), tuple(flags), tuple(supports))
