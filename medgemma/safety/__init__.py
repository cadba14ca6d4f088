"""The safety layer, one package for every door (chat, API, MCP): the question check, the answer check, messages.

- `questions.check_question`: rules that sort a question into emergency / refuse / educate / answer.
- `triage`: the learned model beside the rules, for everyday words they never saw; it adds the urgent tier.
- `answers.check_answer`: each generated sentence cited to the passage that says it, doses removed.
- `messages`: every text the safety layer shows; `rules` and `refusals`: the pattern tables (data).
"""

from __future__ import annotations

from .answers import check_answer
from .decide import decide
from .messages import (
    CRISIS_MESSAGE,
    DISCLAIMER,
    DOSING_NOTE,
    EMERGENCY_MESSAGE,
    NOTHING_SUPPORTED,
    PERSONAL_REDIRECT,
    POLICY,
    REFUSAL_MESSAGE,
    UNSUPPORTED_MARK,
)
from .questions import check_question

__all__ = [
    "CRISIS_MESSAGE", "DISCLAIMER", "DOSING_NOTE", "EMERGENCY_MESSAGE", "NOTHING_SUPPORTED", "PERSONAL_REDIRECT",
    "POLICY", "REFUSAL_MESSAGE", "UNSUPPORTED_MARK", "check_answer", "check_question", "decide",
]
