"""What the safety layer says: the policy, the per-verdict messages and the notes the answer check inserts.

One place for every text a user sees from the safety layer, so the UI, the API and the tests quote the same words.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

RED_FLAGS = Path(__file__).with_name("data") / "red_flags.json"
COMMON_NUMBERS = "911 in the US and Canada, 112 in the EU, 999 in the UK, 000 in Australia"

POLICY = (
    "MedGemma Studio is for education only. It is not medical advice and does not replace a doctor, nurse or "
    "pharmacist. It will not make a personal diagnosis or decide a dose or treatment for you. "
    "In an emergency, call your local emergency number now (911 in the US, 112 in the EU, 999 in the UK)."
)
EMERGENCY_MESSAGE = (
    "This sounds like it could be a medical emergency. Call your local emergency number now (" + COMMON_NUMBERS
    + ") or go to the nearest emergency department; do not wait for an answer here. For a poisoning or an "
    "overdose, poison control can also help (1-800-222-1222 in the US)."
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


NOTHING_SUPPORTED = (
    "None of what the model wrote is said by the sources below, so it was removed rather than shown as if it "
    "were sourced. Small models sometimes copy a sentence about another condition and change its name. Read "
    "the closest passages below instead."
)
UNSUPPORTED_MARK = "[not in the sources]"


# ---- tiers: what was recognised, the number to call ---------------------------------------------------------


@cache
def red_flags() -> dict[str, Any]:
    """`data/red_flags.json`: per red-flag family (and rule category) the sign it names, what to do now, the words
    that confirm it, and emergency numbers by region."""
    return json.loads(RED_FLAGS.read_text(encoding="utf-8"))


def recognised(key: str, text: str = "", min_words: int = 1) -> dict[str, str] | None:
    """The table entry for family or rule category `key`, when `text` (if given) has `min_words` of its distinct
    words. Two words keep a broad family ("breath", "hot") from naming a sign the message does not describe."""
    entry = red_flags()["families"].get(key)
    if entry is None:
        return None
    if text and len({m.group(0).lower() for m in re.finditer(entry["words"], text, re.IGNORECASE)}) < min_words:
        return None
    return entry


def region_of(accept_language: str) -> str:
    """The region of the first language tag that names one ("en-GB,en;q=0.9" -> "GB"); "" when none does."""
    for tag in (accept_language or "").split(","):
        parts = tag.split(";")[0].strip().replace("_", "-").split("-")
        if len(parts) >= 2 and len(parts[-1]) == 2 and parts[-1].isalpha():
            return parts[-1].upper()
    return ""


# Regional words for the advice texts in `red_flags.json`; elsewhere the texts say what any reader can find.
_LOCAL = {
    "GB": {"advice": "NHS 111", "ed": "A&E", "doctor": "GP"},
}
_ANYWHERE = {"advice": "a nurse advice line", "ed": "the emergency department",
             "doctor": "doctor"}


def _number(region: str) -> str:
    number = red_flags()["numbers"].get(region.upper()) if region else None
    if number:
        return f"{number} (the emergency number in {region.upper()})"
    return f"your local emergency number ({COMMON_NUMBERS})"


def _local(text: str, region: str) -> str:
    """`text` with its {advice}, {ed}, {doctor} and {number} filled for `region`."""
    words = _LOCAL.get(region.upper(), _ANYWHERE)
    number = red_flags()["numbers"].get(region.upper()) if region else None
    return text.format_map({**words, "number": number or "the emergency number"})


def emergency_message(key: str = "", region: str = "", text: str = "", min_words: int = 1) -> str:
    """What was recognised (when `key` is a known family whose words `text` has), then what to do now."""
    if key == "self-harm":
        return CRISIS_MESSAGE
    entry = recognised(key, text, min_words) if key else None
    generic = red_flags()["generic"]["emergency"]
    sign = entry["sign"] if entry and entry.get("label") == "emergency" else generic["sign"]
    now = entry["now"] if entry and entry.get("label") == "emergency" else generic["now"]
    poison = (" For a poisoning or an overdose, poison control can also help (1-800-222-1222 in the US)."
              if key in ("overdose", "overdose-poisoning") or not entry else "")
    return _local(f"{sign} Call {_number(region)} now or go to the nearest emergency department; do not wait "
                  f"for an answer here. {now}{poison}", region)


def urgent_message(key: str = "", region: str = "", text: str = "", min_words: int = 1) -> str:
    """A clear "today" message; the educational answer follows it."""
    entry = recognised(key, text, min_words) if key else None
    generic = red_flags()["generic"]["urgent"]
    sign, now = (entry["sign"], entry["now"]) if entry and entry.get("label") == "urgent" else (
        generic["sign"], generic["now"])
    return _local(f"{sign} {now} If it gets much worse, call {_number(region)}. General information follows; "
                  f"it is not advice for you.", region)
