"""Prompt text: the system instruction, the numbered context block and Gemma's turn format.

Passages are numbered from 1 in the order given; `[n]` in an answer refers to the n-th passage. This
module knows nothing about models beyond the turn format strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .types import Message, Passage

SYSTEM_PROMPT = (
    "You are a medical education assistant. Answer the question using only the numbered sources below. "
    "Cite the source of each fact with its number in square brackets, like [1]. If the sources do not "
    "answer the question, say that you do not know. Give general education only: never diagnose the "
    "reader, never give them a dose, and tell them to see a clinician for personal decisions. "
    "Answer in two to four sentences."
)

NO_CONTEXT_PROMPT = (
    "You are a medical education assistant. Give short, general, educational answers. Never diagnose the "
    "reader, never give them a dose, and tell them to see a clinician for personal decisions."
)

# Gemma's chat format. Gemma has no system role: the instruction goes at the top of the first user turn.
TURN_START = "<start_of_turn>"
TURN_END = "<end_of_turn>"
GEMMA_STOPS: tuple[str, ...] = (TURN_END, "<start_of_turn>user", "<eos>")
# A base model continuing a reference sheet goes on to invent the next question: stop there.
DOCUMENT_STOPS: tuple[str, ...] = ("\nQuestion:", "\nSources:", "\n\n\n")

# The shortest passage worth quoting: below this a trimmed passage is dropped rather than cut further.
MIN_PASSAGE_CHARS = 200


@dataclass(frozen=True)
class PromptStyle:
    """How the question and sources are laid out. `chat` suits tuned models, `document` a base model."""

    name: str
    description: str


STYLES = {
    "chat": PromptStyle("chat", "Gemma turns: instruction, numbered sources and question in the user turn."),
    "document": PromptStyle(
        "document",
        "A plain reference-sheet layout that a base (untuned) model continues: sources, question, then "
        "'Answer (cite sources by number):'.",
    ),
    "fewshot": PromptStyle(
        "fewshot",
        "The document layout preceded by one worked example (sources, question, a short cited answer), so "
        "a base model sees the pattern it should continue.",
    ),
}

# One worked example for the fewshot style: short, so it costs about 150 prompt tokens.
FEWSHOT_EXAMPLE = """Sources:
[1] Dehydration (NHS)
Dehydration means the body loses more fluid than it takes in. Signs include thirst, dark yellow urine, dizziness and passing little urine.
[2] Hand washing (CDC)
Washing hands with soap and water for at least 20 seconds removes many germs.

Question: What are the signs of dehydration?

Answer (cite sources by number, like [1]): Signs of dehydration include thirst, dark yellow urine, dizziness and passing little urine [1]. It happens when the body loses more fluid than it takes in [1].

"""


def fit_passages(passages: Sequence[Passage], budget_chars: int) -> list[Passage]:
    """Keep passages in order until `budget_chars` is spent; the last one may be cut at a sentence end."""
    kept: list[Passage] = []
    left = budget_chars
    for p in passages:
        if left < MIN_PASSAGE_CHARS:
            break
        if len(p.text) <= left:
            kept.append(p)
            left -= len(p.text)
            continue
        cut = p.text[:left]
        end = max(cut.rfind(". "), cut.rfind(".\n"))
        cut = cut[: end + 1] if end >= MIN_PASSAGE_CHARS // 2 else cut.rsplit(" ", 1)[0] + " ..."
        kept.append(Passage(p.id, cut, p.title, p.source, p.url, p.score, p.page, dict(p.meta)))
        break
    return kept


def context_block(passages: Sequence[Passage]) -> str:
    """Numbered sources, one per paragraph: `[1] Title (Source)\\ntext`."""
    lines = []
    for n, p in enumerate(passages, 1):
        head = f"[{n}] {p.title}" if p.title else f"[{n}]"
        if p.source:
            head += f" ({p.source})"
        lines.append(f"{head}\n{p.text.strip()}")
    return "\n\n".join(lines)


def build_messages(
    question: str,
    passages: Sequence[Passage],
    history: Sequence[Message] = (),
    note: str = "",
) -> list[Message]:
    """Chat messages for the backend: earlier turns, then the question with its sources in the last turn.

    `note` is extra guidance for this question (e.g. the personal-advice redirect from the safety module).
    """
    system = SYSTEM_PROMPT if passages else NO_CONTEXT_PROMPT
    if note:
        system += " " + note
    parts = []
    if passages:
        parts.append("Sources:\n" + context_block(passages))
    parts.append(f"Question: {question.strip()}")
    messages: list[Message] = [{"role": "system", "content": system}]
    messages.extend(m for m in history if m["role"] in ("user", "assistant"))
    messages.append({"role": "user", "content": "\n\n".join(parts)})
    return messages


def gemma_chat(messages: Sequence[Message]) -> str:
    """Render messages in Gemma's turn format, ending with an open model turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    out = []
    first_user = True
    for m in messages:
        if m["role"] == "system":
            continue
        role = "model" if m["role"] == "assistant" else "user"
        content = m["content"].strip()
        if role == "user" and first_user and system:
            content = f"{system}\n\n{content}"
            first_user = False
        out.append(f"{TURN_START}{role}\n{content}{TURN_END}\n")
    if first_user and system:  # only a system message was given
        out.append(f"{TURN_START}user\n{system}{TURN_END}\n")
    out.append(f"{TURN_START}model\n")
    return "".join(out)


def gemma_document(messages: Sequence[Message]) -> str:
    """Render the last user turn as a reference sheet a base model continues with an answer.

    Earlier turns become a short 'Earlier question' line so follow-ups keep their subject.
    """
    system = " ".join(m["content"] for m in messages if m["role"] == "system")
    users = [m["content"].strip() for m in messages if m["role"] == "user"]
    last = users[-1] if users else ""
    earlier = [f"Earlier question: {u.split('Question:')[-1].strip()}" for u in users[:-1][-2:]]
    body = "\n".join(earlier + [last]) if earlier else last
    return f"{system}\n\n{body}\n\nAnswer (cite sources by number, like [1]):"


def stops_for(style: str) -> tuple[str, ...]:
    """Stop strings for a prompt style: Gemma's turn markers, plus the layout's own for document styles."""
    return GEMMA_STOPS + (DOCUMENT_STOPS if style in ("document", "fewshot") else ())


def render(messages: Sequence[Message], style: str = "chat") -> str:
    """The prompt string for a text-completion backend in the given style."""
    if style == "document":
        return gemma_document(messages)
    if style == "fewshot":
        system, _, rest = gemma_document(messages).partition("\n\n")
        return f"{system}\n\n{FEWSHOT_EXAMPLE}{rest}"
    return gemma_chat(messages)
