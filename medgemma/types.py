"""Data that crosses module boundaries: chat messages, passages, safety verdicts and replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

Role = Literal["system", "user", "assistant"]


class Message(TypedDict):
    """One chat turn in the shape Gradio's messages format and OpenAI's API both use."""

    role: Role
    content: str
    # Image files for a multimodal model, shown with this turn; backends that read text only ignore them.
    images: NotRequired[list[str]]


@dataclass(frozen=True)
class Chunk:
    """A piece of a source document, ready to embed. `meta` keeps what the loader knew (topic, date...)."""

    id: str
    text: str
    title: str = ""
    source: str = ""
    url: str = ""
    page: int | None = None
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its retrieval score (higher is better; the scale depends on the method)."""

    id: str
    text: str
    title: str
    source: str
    url: str
    score: float
    page: int | None = None
    meta: dict[str, str] = field(default_factory=dict)


Action = Literal["answer", "educate", "urgent", "emergency", "refuse"]


@dataclass(frozen=True)
class Verdict:
    """What the safety module decided about a question.

    answer: answer normally. educate: a personal diagnosis/dose/treatment request; answer with general
    education and `message` as the redirect to a clinician. urgent: `message` says to see a clinician today,
    then the educational answer. emergency / refuse: show `message` only; the model is never called.
    """

    action: Action
    category: str = ""
    message: str = ""
    matched: str = ""

    @property
    def blocks_model(self) -> bool:
        return self.action in ("emergency", "refuse")


@dataclass(frozen=True)
class SentenceSupport:
    """One answer sentence and what backs it. `passages` are 1-based numbers, best first; `missing` lists the
    key terms the best passage lacks (why an unsupported sentence was removed)."""

    sentence: str
    passages: tuple[int, ...]
    score: float
    kept: bool
    missing: tuple[str, ...] = ()
    kind: str = "claim"  # "claim", or "plain" for a sentence with nothing to check ("The sources do not say.")

    @property
    def supported(self) -> bool:
        return bool(self.passages)

    def to_dict(self) -> dict:
        return {"sentence": self.sentence, "passages": list(self.passages), "score": round(self.score, 3),
                "kept": self.kept, "missing": list(self.missing), "kind": self.kind}


@dataclass(frozen=True)
class AnswerCheck:
    """The result of checking generated text: the cleaned text and what was changed."""

    text: str
    cited: tuple[int, ...] = ()
    removed_citations: tuple[int, ...] = ()
    flags: tuple[str, ...] = ()
    support: tuple[SentenceSupport, ...] = ()  # one per sentence checked, in order


@dataclass(frozen=True)
class Reply:
    """A finished answer: text after the safety check, the passages it cites, and the question's verdict."""

    text: str
    passages: tuple[Passage, ...]
    verdict: Verdict
    cited: tuple[int, ...] = ()
    flags: tuple[str, ...] = ()
    raw_text: str = ""  # what the model generated, before the answer check (for evaluating citations)
    support: tuple[SentenceSupport, ...] = ()  # what backs each generated sentence, kept or removed
