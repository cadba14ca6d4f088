"""The citation grammar, in one place: the answer check, the metrics and the training data all read it here.

A citation is a bracketed list of passage numbers after a claim: `[1]`, `[1, 2]`, `[1; 3]`, `[1-3]` (a range;
`–` too), or several markers in a row (`[1][3]`). Anything else in brackets (`[a]`, `[note]`, `[2023 data]`)
is text. A marker that follows a sentence's full stop ("... urine. [1] Next ...") belongs to that sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUM = r"\s*\d+\s*(?:[-\u2013]\s*\d+\s*)?"
MARKER = re.compile(r"\[" + _NUM + r"(?:[,;]" + _NUM + r")*\]")
# A run of markers ("[1][3]", "[1] [2]") with the blanks before it.
_MARKERS = re.compile(r"[ \t]*" + MARKER.pattern + r"(?:[ \t]*" + MARKER.pattern + r")*")
MAX_RANGE = 100  # a wider "[1-9999]" is a typo or an attack: its two ends are kept rather than expanded
# A sentence ends at . ! ? (with closing quotes or brackets), then blanks and something more.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"'”’)]*)(\s+)(?=\S)")
_FINAL_MARK = re.compile(r"[.!?]+[\"'”’)\]]*$")


def numbers(marker: str) -> list[int]:
    """The numbers of one marker's text ("[1, 3-4]" -> [1, 3, 4]), in order, repeats kept."""
    out: list[int] = []
    for part in re.split(r"[,;]", marker.strip().strip("[]")):
        ends = [int(n) for n in re.split(r"[-\u2013]", part)]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] <= MAX_RANGE:
            ends = list(range(ends[0], ends[1] + 1))
        out.extend(ends)
    return out


def cited_numbers(text: str) -> list[int]:
    """Every number cited in `text`, unique, in order of first appearance."""
    out: dict[int, None] = {}
    for m in MARKER.finditer(text or ""):
        out.update(dict.fromkeys(numbers(m.group(0))))
    return list(out)


def strip(text: str) -> str:
    """`text` without its citation markers (and the blanks before them): "urine [1]." -> "urine."."""
    return _MARKERS.sub("", text or "")


def cite(sentence: str, nums: Iterable[int]) -> str:
    """The sentence with exactly the citations `nums`, placed before its final punctuation ("... urine [1].").
    With no numbers, the sentence without any citation."""
    nums = list(dict.fromkeys(nums))
    return tag(sentence, "[" + ", ".join(map(str, nums)) + "]" if nums else "")


def tag(sentence: str, marker: str) -> str:
    """The sentence without citations, with `marker` before its final punctuation."""
    sentence = strip(sentence).strip()
    if not marker:
        return sentence
    match = _FINAL_MARK.search(sentence)
    if match:
        return f"{sentence[: match.start()].rstrip()} {marker}{sentence[match.start():]}"
    return f"{sentence} {marker}"


def split(line: str) -> list[tuple[str, str]]:
    """One line of an answer as (sentence, whitespace after it) pairs; joined back they are the line.

    A run of markers opening a sentence is moved to the end of the sentence before it, where it belongs.
    """
    pieces: list[tuple[str, str]] = []
    start = 0
    for m in _SENTENCE_END.finditer(line):
        end = m.start(2)
        pieces.append((line[start:end], m.group(2)))
        start = m.end()
    pieces.append((line[start:], ""))
    out: list[tuple[str, str]] = []
    for text, gap in pieces:
        lead = _MARKERS.match(text)
        if lead and lead.group(0).strip() and out:
            before, before_gap = out[-1]
            out[-1] = (f"{before} {lead.group(0).strip()}", before_gap)
            text = text[lead.end():].lstrip()
        if text or not out:
            out.append((text, gap))
        else:
            out[-1] = (out[-1][0], gap)
    return out
