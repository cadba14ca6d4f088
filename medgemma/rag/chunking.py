"""Sentence-aware chunking: split text into sentences, then pack whole sentences into overlapping chunks.

Sizes are in characters, not tokens: this module knows nothing about embedders or tokenizers. Sentence
splitting is a regex heuristic tuned for English patient-education text (abbreviations, decimals, bullet
lists, hard-wrapped lines); it is not a linguistic parser and will sometimes split or join wrongly.
"""

from __future__ import annotations

import re

from medgemma.errors import InputError

# A line opening with one of these starts a new block: bullets, "1." / "2)" numbering, markdown headings.
_ITEM_START = re.compile(r"\s*(?:[-*+•▪◦‣–]|\d{1,3}[.)]|#{1,6})\s")
_HEADING = re.compile(r"\s*#{1,6}\s")
# Bullets flattened into one line (MedQuAD writes "...cells.    - Leukemia may..."): two or more spaces
# before a dash-style bullet, or spaces before a "•", start a new block. One space is not enough: "5 - 10 mg".
# Possessive quantifiers stop backtracking through MedQuAD's long runs of spaces (a 3x speed-up there).
_INLINE_BULLET = re.compile(r"[ \t](?:[ \t]++(?=[-*+▪◦‣]\s)|[ \t]*+(?=•))")
# Candidate sentence end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
# Dotted abbreviations such as "e.g", "i.e", "U.S", "a.m", "Ph.D" (the final period is not included).
_DOTTED = re.compile(r"(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}")
_OPENERS = "\"'“‘(["
# Lower-cased, without the final period. "etc." is left out on purpose: it ends sentences more often
# than not, and the next word's capital letter is the better signal.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "drs", "prof", "sr", "jr", "st", "mt", "vs", "approx", "dept", "est", "inc", "ltd"}
    | {"co", "corp", "al", "viz", "resp", "incl", "cf"}
)
# Abbreviations only before a number ("No. 5", "Fig. 2"): "Is it safe? No. It is not." ends a sentence.
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "fig", "figs", "eq", "eqs", "vol", "pp", "p", "ref", "refs", "ca"})


def split_sentences(text: str) -> list[str]:
    """Split `text` into sentences with whitespace normalised; list items and headings count as sentences."""
    sentences: list[str] = []
    for block in _blocks(text):
        sentences.extend(_split_block(block))
    return sentences


def validate_chunking(size: int, overlap: int) -> None:
    """Raise InputError unless size > 0 and 0 <= overlap < size (both whole numbers of characters)."""
    for name, value in (("size", size), ("overlap", overlap)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"Chunk {name} must be a whole number of characters, got {value!r}.")
    if size <= 0:
        raise InputError(f"Chunk size must be positive, got {size}.")
    if not 0 <= overlap < size:
        raise InputError(f"Chunk overlap must be at least 0 and smaller than the size ({size}), got {overlap}.")


def chunk_text(text: str, size: int = 800, overlap: int = 150) -> list[str]:
    """Pack whole sentences into chunks of at most `size` characters.

    Neighbouring chunks share the trailing sentences of the earlier one, up to `overlap` characters.
    A sentence longer than `size` is split at word boundaries; only a single word longer than `size`
    can make a chunk exceed it. Returns no empty chunks (an empty list for blank text).
    """
    validate_chunking(size, overlap)
    pieces: list[str] = []
    for sentence in split_sentences(text):
        pieces.extend(_split_words(sentence, size) if len(sentence) > size else [sentence])
    return _pack(pieces, size, overlap)


def _blocks(text: str) -> list[str]:
    """Group lines into blocks: blank lines, list items and headings break; other newlines are soft wraps."""
    blocks: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            blocks.append(" ".join(current))
            current.clear()

    for line in text.splitlines():
        if not line.strip():
            close()
            continue
        if _ITEM_START.match(line):
            close()
        current.append(line.strip())
        if _HEADING.match(line):
            close()  # a heading has no full stop, so it must not run into the next paragraph
    close()

    out: list[str] = []
    for block in blocks:
        for part in _INLINE_BULLET.split(block):
            normalised = " ".join(part.split())
            if normalised:
                out.append(normalised)
    return out


def _split_block(block: str) -> list[str]:
    """Split one whitespace-normalised block at the sentence ends `_is_boundary` accepts."""
    sentences: list[str] = []
    start = 0
    for match in _END.finditer(block):
        if match.end() < len(block) and _is_boundary(block, match):
            sentences.append(block[start : match.end()].strip())
            start = match.end()
    tail = block[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _is_boundary(block: str, match: re.Match[str]) -> bool:
    """Whether a candidate sentence end really ends a sentence, judged by the words either side of it."""
    # Index arithmetic, not slicing: blocks can be long and this runs at every candidate full stop.
    # Blocks are whitespace-normalised, so words are separated by exactly one space.
    i = match.end()
    while i < len(block) and block[i] in _OPENERS:
        i += 1
    if i == len(block) or not (block[i].isupper() or block[i].isdigit()):
        return False  # "e.g. aspirin", "approx. five": a lower-case word continues the sentence
    punct = match.group()
    if not punct.startswith("."):
        return True  # "?", "!" and "…" are not used in abbreviations
    if punct.startswith(".."):
        return True  # an ellipsis followed by a capital
    space = block.rfind(" ", 0, match.start())
    token = block[space + 1 : match.start()].lstrip(_OPENERS)
    if space < 0 and token.isdigit() and len(token) <= 3:
        return False  # the "1." opening a numbered list item
    if token.lower() in _ABBREVIATIONS or _DOTTED.fullmatch(token):
        return False
    if token.lower() in _NUMBER_ABBREVIATIONS and block[i].isdigit():
        return False
    if len(token) == 1 and token.isupper():
        # An initial ("Dr. J. Smith", "J. R. Smith") versus a sentence ending in a letter ("hepatitis B.").
        previous = block[block.rfind(" ", 0, space) + 1 : space] if space > 0 else ""
        bare = previous.lstrip(_OPENERS).rstrip(".").lower()
        after_title = previous.endswith(".") and (bare in _ABBREVIATIONS or len(bare) == 1)
        before_initial = re.match(r"[A-Z]\.\s", block[i : i + 3]) is not None
        return not (after_title or before_initial)
    return True


def _split_words(sentence: str, size: int) -> list[str]:
    """Split an over-long sentence at spaces into parts of at most `size` (a longer single word stands alone)."""
    parts: list[str] = []
    current = ""
    for word in sentence.split(" "):
        if current and len(current) + 1 + len(word) > size:
            parts.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        parts.append(current)
    return parts


def _pack(pieces: list[str], size: int, overlap: int) -> list[str]:
    """Greedy packing; each new chunk starts with the previous chunk's tail that fits in `overlap`."""
    chunks: list[str] = []
    current: list[str] = []
    length = 0  # len(" ".join(current)), kept up to date instead of recomputed
    for piece in pieces:
        if current and length + 1 + len(piece) > size:
            chunks.append(" ".join(current))
            start, tail_length = len(current), -1
            while start > 0 and tail_length + 1 + len(current[start - 1]) <= overlap:
                start -= 1
                tail_length += 1 + len(current[start])
            # The carried tail gives way to the new piece: every chunk must add text of its own.
            while start < len(current) and tail_length + 1 + len(piece) > size:
                tail_length -= 1 + len(current[start])
                start += 1
            current, length = current[start:], max(tail_length, 0)
        length += len(piece) + (1 if current else 0)
        current.append(piece)
    if current:
        chunks.append(" ".join(current))
    return chunks
