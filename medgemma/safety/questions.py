"""The rule-based question check: emergency, refuse, educate or answer, from precompiled patterns.

`check_question` tries crisis and emergency rules first (they need a person in trouble now), then refusal rules
(they need a request, not a question *about* misconduct; their weaker signals also need a document request or a
third party), then personal dose, diagnosis and treatment questions ("educate"). It is pure and takes about a
millisecond. The rules catch the wordings they were written for and their near relatives; the learned triage
model (`triage`) is the second line for everyday words the rules never saw. The pattern tables are data, in
`rules` and `refusals`.
"""

from __future__ import annotations

import re

from ..errors import InputError
from ..types import Verdict
from . import refusals, rules
from .messages import CRISIS_MESSAGE, EMERGENCY_MESSAGE, PERSONAL_REDIRECT, REFUSAL_MESSAGE


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
