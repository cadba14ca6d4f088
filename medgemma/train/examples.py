"""A training example and the text helpers the data readers and the recipes share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..rag.chunking import split_sentences
from ..types import Message

_BULLET = re.compile(r"[-*+•▪◦‣–]\s")


@dataclass(frozen=True)
class Example:
    """One training example: the prompt as the assistant would build it, and the model turn to learn.

    `messages` holds the system and user turns (and any earlier turns); the loss is on `answer` only.
    `meta` carries where it came from: source, category, question, eval_split, image_file, ...
    """

    id: str
    messages: tuple[Message, ...]
    answer: str
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pair(Example):
    """A preference pair: `answer` is the chosen answer to `messages`, `rejected` the one to prefer it over."""

    rejected: str = ""


def normalize_question(text: str) -> str:
    """Lower case, punctuation removed, single spaces: "What is (are) X ?" and "what is are x" are one question."""
    return " ".join(re.sub(r"[^\w\s]|_", " ", text.lower()).split())


def question_of(example: Example) -> str:
    """The question an example asks: meta["question"], else the last user turn after its "Question:" label."""
    if example.meta.get("question", "").strip():
        return example.meta["question"]
    users = [m["content"] for m in example.messages if m["role"] == "user"]
    if not users:
        return ""
    # build_messages puts the question last, after the sources, so the last label is the question's.
    head, label, tail = users[-1].rpartition("Question:")
    return tail.strip() if label else users[-1].strip()


def is_bullet(sentence: str) -> bool:
    """Whether a sentence from `split_sentences` is a list item ("- Fever or night sweats.")."""
    return bool(_BULLET.match(sentence))


def _is_heading(sentence: str) -> bool:
    # "Key Points", "Summary": short lines without an end mark that MedQuAD puts before its text.
    return not is_bullet(sentence) and not re.search(r"[.!?:;)\]\"'”’]$", sentence) and len(sentence.split()) <= 5


def lead_sentences(text: str, max_chars: int) -> list[str]:
    """The leading whole sentences of `text` that fit in about `max_chars` (joined by spaces), headings dropped.

    A first sentence longer than `max_chars` is cut at a word and ends with " ...".
    """
    sentences = split_sentences(text)
    while sentences and _is_heading(sentences[0]):
        sentences.pop(0)
    kept: list[str] = []
    length = -1
    for s in sentences:
        if length + 1 + len(s) > max_chars:
            if not kept:
                kept.append(s[: max_chars - 4].rsplit(" ", 1)[0] + " ...")
            break
        kept.append(s)
        length += 1 + len(s)
    return kept


def trim_sentences(text: str, max_chars: int, lines: bool = False) -> str:
    """`lead_sentences` joined back into text. With `lines`, list items go on lines of their own (for
    answers); otherwise sentences are joined by single spaces, the way the index stores chunks."""
    out = ""
    for s in lead_sentences(text, max_chars):
        sep = "\n" if lines and out and (is_bullet(s) or is_bullet(out.rsplit("\n", 1)[-1])) else " "
        out = f"{out}{sep}{s}" if out else s
    return out
