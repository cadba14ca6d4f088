"""The verdict on a question: the rules, then the learned triage model, then the message for the reader's region.

The rules are a floor: what they send to emergency or refuse stays there. The model can raise the rest:
answer or educate -> urgent, emergency or refuse, and answer -> educate for a personal question. Emergency and
urgent messages name what was recognised when the family's words are in the message, and the emergency number
of the reader's region when it is known (`region`, from the browser's Accept-Language), else the common ones.
No chat model runs here; it is fast enough to answer before anything else (bench/safety_bench.py).
"""

from __future__ import annotations

from ..types import Verdict
from .messages import PERSONAL_REDIRECT, REFUSAL_MESSAGE, emergency_message, urgent_message
from .questions import check_question
from .triage import Triage, TriageModel

MODEL_CATEGORY = "triage"  # Verdict.category when the model decided and named no family


def raise_verdict(rules: Verdict, t: Triage) -> Verdict:
    """The rules' verdict raised by the model's decision `t` (never lowered)."""
    if rules.blocks_model:
        return rules
    tag = f"p={t.probabilities[t.label]:.2f}" if t.label in t.probabilities else ""
    family = t.family if t.family_probability >= 0.5 else ""
    if t.label == "emergency":
        return Verdict("emergency", family or MODEL_CATEGORY, "", tag)
    if t.label == "harmful":
        return Verdict("refuse", MODEL_CATEGORY, REFUSAL_MESSAGE, tag)
    if t.label == "urgent":
        return Verdict("urgent", family or MODEL_CATEGORY, "", tag)
    if t.label == "personal" and rules.action == "answer":
        return Verdict("educate", MODEL_CATEGORY, PERSONAL_REDIRECT, tag)
    return rules


SURE_FAMILY = 0.8  # below it, a family the model named needs two of its words in the message to be named back


def with_message(v: Verdict, text: str, region: str = "", min_words: int = 1) -> Verdict:
    """Emergency and urgent verdicts get the message for what was recognised and for `region`."""
    if v.action == "emergency":
        return Verdict(v.action, v.category, emergency_message(v.category, region, text, min_words), v.matched)
    if v.action == "urgent":
        return Verdict(v.action, v.category, urgent_message(v.category, region, text, min_words), v.matched)
    return v


def decide(text: str, model: TriageModel | None = None, region: str = "") -> Verdict:
    """The full verdict on `text` (InputError when empty); `model` None means the rules alone."""
    verdict, min_words = check_question(text), 1
    if model is not None and not verdict.blocks_model:
        t = model(text)
        raised = raise_verdict(verdict, t)
        if raised is not verdict and t.family_probability < SURE_FAMILY:
            min_words = 2
        verdict = raised
    return with_message(verdict, text, region, min_words)
