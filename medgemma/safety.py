"""Rule-based safety checks around the model: the policy text, a question check and an answer check.

`check_question` sorts a question into emergency / refuse / educate / answer with precompiled regular
expressions, in that order: crisis and emergency rules need a person in trouble now; refusal rules need a
request (not a question *about* misconduct), and their weaker signals also need a document request or a third
party (patient, clinician, institution); personal dose, diagnosis and treatment questions are "educate".
`check_answer` repairs generated text: each sentence cited to the passage that says it (or removed), individual
doses, the disclaimer. Both are pure and take
about a millisecond or less.

What the rules do not know is meaning. They catch the wordings they were written for and their near relatives;
a harmful request in new words often slips past (bench/safety_bench.py: refusal recall 0.97 on the phrasings the
rules were developed on, about 0.6 on a held-out set), while benign questions are rarely refused. They are a
first line in front of the model, not a replacement for its own refusals; `safety_classifier` is the learned
second line the Assistant runs after them.

The pattern tables are data and live beside this module: `safety_rules` (emergencies, framing, personal
requests) and `safety_refusals` (what is refused). This module holds the messages and the order of the checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from medgemma import attribution, citations
from medgemma import safety_refusals as refusals
from medgemma import safety_rules as rules
from medgemma.errors import InputError
from medgemma.safety_rules import rx as _rx
from medgemma.types import AnswerCheck, Passage, SentenceSupport, Verdict

POLICY = (
    "MedGemma Studio is for education only. It is not medical advice and does not replace a doctor, nurse or "
    "pharmacist. It will not make a personal diagnosis or decide a dose or treatment for you. "
    "In an emergency, call your local emergency number now (911 in the US, 112 in the EU, 999 in the UK)."
)
EMERGENCY_MESSAGE = (
    "This sounds like it could be a medical emergency. Call your local emergency number now (911 in the US "
    "and Canada, 112 in the EU, 999 in the UK, 000 in Australia) or go to the nearest emergency department; "
    "do not wait for an answer here. For a poisoning or an overdose, poison control can also help "
    "(1-800-222-1222 in the US)."
)
CRISIS_MESSAGE = (
    "I'm really sorry you're going through this, and you deserve support right now. If you might act on "
    "thoughts of ending your life or hurting yourself, call your local emergency number now (911, 112, 999). "
    "You can talk to someone today, for free: in the US call or text 988 (Suicide & Crisis Lifeline); in the "
    "UK and Ireland call Samaritans on 116 123; elsewhere find a local line at https://findahelpline.com. "
    "If you can, tell someone near you how you feel and stay with them."
)
REFUSAL_MESSAGE = (
    "I can't help with that. This assistant does not help with requests that could harm patients or other "
    "people, that deceive, coerce or discriminate against them, or that break medical ethics or the law. "
    "I can explain the medicine, the ethics or the rules around the topic instead."
)
PERSONAL_REDIRECT = (
    "This is general education, not advice for you. A diagnosis, a dose, or a decision to start, stop or "
    "change a treatment has to come from a clinician or pharmacist who knows your history; for doses, follow "
    "the product label or your prescriber."
)
DISCLAIMER = "Educational information only, not medical advice: ask a clinician or pharmacist about your situation."
DOSING_NOTE = (
    "(Individual dosing removed: a dose for a particular person must come from the product label, a "
    "pharmacist or the prescriber.)"
)


def _normalise(text: str) -> str:
    """One line, straight quotes; case kept (see `_fiction`). Lower-casing keeps the length, so offsets agree."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


def _fiction(flat: str, after: int) -> bool:
    """A game, film or book named after the act ("... in Call of Duty") makes violence a plot question."""
    return bool(rules.FICTION.search(flat.lower(), after) or rules.TITLE_AFTER.search(flat, after))


def check_question(text: str) -> Verdict:
    """Decide what to do with a user's question before any retrieval or generation."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("The question is empty: type a question first.")
    flat = _normalise(text)
    norm = flat.lower()
    for rx in rules.CRISIS:
        if m := rx.search(norm):
            return Verdict("emergency", "self-harm", CRISIS_MESSAGE, m.group(0))
    if rules.PERSON.search(norm):
        for cat, rx in rules.EMERGENCY:
            m = rx.search(norm)
            if m and not rules.HYPOTHETICAL.search(norm, 0, m.start()):
                return Verdict("emergency", cat, EMERGENCY_MESSAGE, m.group(0))
    countered = bool(rules.COUNTER.search(norm))
    for cat, rx in refusals.REFUSE_ANY:
        if not countered and (m := rx.search(norm)):
            return Verdict("refuse", cat, REFUSAL_MESSAGE, m.group(0))
    if not countered and (not rules.ABOUT.search(norm) or rules.METHOD.search(norm)):
        for cat, rx in refusals.REFUSE:
            m = rx.search(norm)
            if m and not (cat in ("violence", "weapons", "crime") and _fiction(flat, m.end())):
                return Verdict("refuse", cat, REFUSAL_MESSAGE, m.group(0))
        if rules.IMPERATIVE.search(norm) or rules.ACTOR.search(rules.OWN.sub(" ", norm)):
            for cat, rx in refusals.WEAK:
                if m := rx.search(norm):
                    return Verdict("refuse", cat, REFUSAL_MESSAGE, m.group(0))
    for cat, rx in rules.EDUCATE:
        if m := rx.search(norm):
            return Verdict("educate", cat, PERSONAL_REDIRECT, m.group(0))
    return Verdict("answer")


# ---- answers ----------------------------------------------------------------------------------------------------

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


def _is_dosing(sentence: str) -> bool:
    return bool(_DOSE.search(sentence) and _INSTRUCTION.search(sentence) and not _GENERAL_LIMIT.search(sentence))


NOTHING_SUPPORTED = (
    "None of what the model wrote is said by the sources below, so it was removed rather than shown as if it "
    "were sourced. Small models sometimes copy a sentence about another condition and change its name. Read "
    "the closest passages below instead."
)
UNSUPPORTED_MARK = "[not in the sources]"


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
            if _is_dosing(sentence):
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
