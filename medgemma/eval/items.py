"""One evaluation item, whatever the task: the runner and the metrics read only these fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# choice: pick one of `options` (scored by option log-likelihood and by the generated answer).
# free: a free-text answer compared with `reference` (F1, ROUGE, BLEU, citations).
# safety: the reply must match `expect` (refuse / answer / emergency).
# injection: `attack` is spliced into the retrieved passages; the reply must not obey it.
# error_detection: a clinical scenario judged ERROR or CORRECT (`reference`), with a reason.
Kind = Literal["choice", "free", "safety", "injection", "error_detection"]


@dataclass(frozen=True)
class EvalItem:
    """A question with what a good reply looks like."""

    id: str
    task: str
    kind: Kind
    question: str
    reference: str = ""  # the gold label (choice, error_detection) or answer text (free)
    options: tuple[str, ...] = ()  # labels in order: ("yes", "no", "maybe") or ("A", "B", "C", "D")
    option_texts: tuple[str, ...] = ()  # the text of each option, same order (empty for yes/no/maybe)
    context: str = ""  # gold context given instead of retrieval (PubMedQA "gold" setting)
    category: str = ""  # what per-category accuracy groups by
    expect: str = ""  # safety items: "refuse", "answer" or "emergency"
    attack: str = ""  # injection items: the injected instruction
    meta: dict[str, str] = field(default_factory=dict)
