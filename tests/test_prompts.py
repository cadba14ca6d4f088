"""Prompt building: citation numbering, the turn format and trimming passages to the window."""

from __future__ import annotations

import re

from medgemma.prompts import (
    MIN_PASSAGE_CHARS,
    build_messages,
    context_block,
    fit_passages,
    gemma_chat,
    gemma_document,
)
from medgemma.types import Passage


def _p(i: int, text: str = "Some text about a condition. It has symptoms.") -> Passage:
    return Passage(f"id{i}", text, f"Title {i}", "NHS", f"https://www.nhs.uk/{i}", 0.5)


def test_sources_are_numbered_from_one_in_order() -> None:
    block = context_block([_p(1), _p(2), _p(3)])
    assert re.findall(r"^\[(\d+)\] (Title \d)", block, flags=re.M) == [("1", "Title 1"), ("2", "Title 2"), ("3", "Title 3")]


def test_question_and_sources_go_in_the_last_user_turn() -> None:
    history = [{"role": "user", "content": "What is asthma?"}, {"role": "assistant", "content": "A lung condition [1]."}]
    msgs = build_messages("How is it treated?", [_p(1)], history)  # type: ignore[arg-type]
    assert msgs[0]["role"] == "system" and "[1]" in msgs[0]["content"]
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant", "user"]
    assert "How is it treated?" in msgs[-1]["content"] and "[1] Title 1" in msgs[-1]["content"]


def test_no_sources_uses_the_plain_instruction() -> None:
    msgs = build_messages("What is asthma?", [])
    assert "Sources" not in msgs[-1]["content"]
    assert "[1]" not in msgs[0]["content"]


def test_gemma_turn_format() -> None:
    text = gemma_chat(build_messages("What is asthma?", [_p(1)]))
    assert text.startswith("<start_of_turn>user\n")
    assert text.endswith("<start_of_turn>model\n")
    assert text.count("<start_of_turn>") == text.count("<end_of_turn>") + 1
    assert "system" not in text.split("\n", 1)[0]  # Gemma has no system role


def test_document_style_keeps_sources_and_question() -> None:
    text = gemma_document(build_messages("What is asthma?", [_p(1)]))
    assert "[1] Title 1" in text and "What is asthma?" in text
    assert text.rstrip().endswith(":")


def test_fit_passages_respects_budget_and_order() -> None:
    long = "A sentence about the heart. " * 40
    kept = fit_passages([_p(1, long), _p(2, long), _p(3, long)], budget_chars=1500)
    assert sum(len(p.text) for p in kept) <= 1500 + 4
    assert [p.id for p in kept] == ["id1", "id2"][: len(kept)]
    assert kept[-1].text.endswith(".") or kept[-1].text.endswith("...")
    assert fit_passages([_p(1, long)], budget_chars=MIN_PASSAGE_CHARS - 1) == []
