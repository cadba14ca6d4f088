"""Invariants of sentence splitting and chunk packing (no golden chunk strings)."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from medgemma.errors import InputError
from medgemma.rag.chunking import chunk_text, split_sentences

WORDS = [
    *("blood", "pressure", "insulin", "kidney", "liver", "fever", "dose", "tablet", "infection", "symptom"),
    *("doctor", "treatment", "heart", "lung", "vaccine", "patient", "therapy", "anemia", "chronic", "acute"),
    *("daily", "test", "result", "risk", "children", "adults", "nerve"),
]


def make_text(seed: int, sentences: int = 60, max_words: int = 25) -> str:
    """Random prose with abbreviations, decimals, bullets and hard-wrapped lines mixed in."""
    rng = random.Random(seed)
    parts = []
    for i in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, max_words))]
        if i % 7 == 3:
            words.insert(1, "e.g. aspirin")
        if i % 5 == 1:
            words.insert(2, f"{rng.randint(1, 9)}.{rng.randint(1, 9)} mg")
        sentence = " ".join(words).capitalize() + rng.choice(".?!")
        if i % 11 == 5:
            sentence = "- " + sentence
        parts.append(sentence)
        parts.append(rng.choice([" ", "  ", "\n", "\n\n", " \t"]))
    return "".join(parts)


def windows(chunks: list[str], sentences: list[str]) -> list[tuple[int, int]]:
    """Express each chunk as a sentence window [start, end); fail if one is not a contiguous window."""
    found, covered = [], 0
    for chunk in chunks:
        match = next(
            (
                (s, e)
                for s in range(covered, -1, -1)
                for e in range(covered + 1, len(sentences) + 1)
                if chunk == " ".join(sentences[s:e])
            ),
            None,
        )
        assert match is not None, f"chunk is not a window of whole sentences continuing the last: {chunk!r}"
        found.append(match)
        covered = match[1]
    return found


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("size", "overlap"), [(200, 0), (300, 80), (800, 150), (120, 100)])
def test_chunks_are_ordered_windows_covering_every_sentence(seed: int, size: int, overlap: int) -> None:
    text = make_text(seed)
    sentences = split_sentences(text)
    chunks = chunk_text(text, size, overlap)
    assert chunks and all(chunk.strip() == chunk and chunk for chunk in chunks)
    assert all(len(chunk) <= size for chunk in chunks)
    if max(map(len, sentences)) > size:
        # Some sentence was split at words, so chunks are not whole-sentence windows; check every word.
        assert set(" ".join(chunks).split()) == set(" ".join(sentences).split())
        return
    spans = windows(chunks, sentences)
    assert spans[0][0] == 0 and spans[-1][1] == len(sentences)
    for (s1, e1), (s2, e2) in pairwise(spans):
        assert e2 > e1  # every chunk adds new sentences
        shared = sentences[s2:e1]
        assert len(" ".join(shared)) <= overlap
        if overlap == 0:
            assert not shared


def test_neighbours_share_trailing_sentences() -> None:
    text = " ".join(f"Sentence number {i} is about the kidney." for i in range(40))
    chunks = chunk_text(text, size=200, overlap=90)
    assert len(chunks) > 3
    for a, b in pairwise(chunks):
        # Each sentence is ~38 characters, so at least the last one always carries over.
        last = split_sentences(a)[-1]
        shared = b[: b.index(last) + len(last)]
        assert a.endswith(shared) and len(shared) <= 90


def test_whitespace_is_normalised_and_chunking_deterministic() -> None:
    text = make_text(7)
    chunks = chunk_text(text, 250, 60)
    assert chunks == chunk_text(text, 250, 60)
    assert not any("  " in c or "\n" in c or "\t" in c for c in chunks)


def test_long_sentence_splits_at_word_boundaries() -> None:
    words = [f"word{i}" for i in range(300)]
    chunks = chunk_text(" ".join(words) + ".", size=100, overlap=20)
    assert all(len(c) <= 100 for c in chunks)
    seen = [w.rstrip(".") for c in chunks for w in c.split()]
    # Parts of one sentence are longer than the overlap, so nothing repeats: the words come back in order.
    assert seen == words


def test_only_an_unsplittable_word_may_exceed_size() -> None:
    giant = "x" * 150
    chunks = chunk_text(f"Short start here. {giant} tail words. End.", size=50, overlap=10)
    assert giant in chunks
    assert all(len(c) <= 50 for c in chunks if c != giant)


@pytest.mark.parametrize("text", ["", "   \n\t  ", "\n\n"])
def test_blank_text_gives_no_chunks(text: str) -> None:
    assert chunk_text(text) == []
    assert split_sentences(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Take it with food, e.g. Toast or rice, twice a day.",
        "Ask your doctor, i.e. Your GP, before starting.",
        "Dr. Smith and Mrs. Jones reviewed it.",
        "The dose is 2.5 mg daily and 0.75 mg at night.",
        "See Dr. J. R. Smith for details.",
        "The U.S. Food and Drug Administration approved it.",
        "Results are in No. 5 and Fig. 2 of the leaflet.",
    ],
)
def test_abbreviations_and_decimals_do_not_end_sentences(text: str) -> None:
    assert split_sentences(text) == [text]


def test_sentence_boundaries() -> None:
    text = 'It is hepatitis B. It spreads by blood. Is it safe? No. "Wash your hands." Then eat!'
    assert split_sentences(text) == [
        "It is hepatitis B.",
        "It spreads by blood.",
        "Is it safe?",
        "No.",
        '"Wash your hands."',
        "Then eat!",
    ]


def test_lines_bullets_and_headings() -> None:
    text = (
        "# Diabetes\n"
        "Diabetes is a condition where\nblood sugar is too high.\n\n"
        "Key Points\n    - Drink water.    - Walk daily\n* Sleep well\n1. Check feet\n• See a nurse • Eat fibre"
    )
    assert split_sentences(text) == [
        "# Diabetes",
        "Diabetes is a condition where blood sugar is too high.",
        "Key Points",
        "- Drink water.",
        "- Walk daily",
        "* Sleep well",
        "1. Check feet",
        "• See a nurse",
        "• Eat fibre",
    ]
    assert split_sentences("Give 5 - 10 mg.") == ["Give 5 - 10 mg."]  # a single-spaced dash is not a bullet


@pytest.mark.parametrize(
    ("size", "overlap"), [(0, 0), (-5, 0), (100, 100), (100, 150), (100, -1), (1.5, 0), (100, True), ("800", 0)]
)
def test_invalid_sizes_raise_input_error(size: object, overlap: object) -> None:
    with pytest.raises(InputError):
        chunk_text("Some text.", size, overlap)  # type: ignore[arg-type]
