"""The clinical-errors training recipe: deterministic, balanced, kept apart from the evaluation's reports, and
prompted and answered exactly as the evaluation asks and scores. No model is loaded."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from medgemma.errors import InputError
from medgemma.eval.runner import choice_question, parse_choice
from medgemma.eval.tasks import _VERDICT_RX, clinical_errors
from medgemma.prompts import build_messages
from medgemma.train import clinical
from medgemma.train.clinical import (
    INSTRUCTION, MODALITIES, SOURCE, TRAIN_FILE, clinical_errors_recipe, evaluation_reports, jaccard, near_test,
)
from medgemma.train.clinical_templates import SCENARIOS
from medgemma.train.licenses import license_of
from medgemma.train.recipes import RECIPES, build_recipe


@pytest.fixture(scope="module")
def examples():
    return clinical_errors_recipe()


@pytest.fixture(scope="module")
def tests_set():
    return clinical_errors()


def _report(example) -> str:
    return example.meta["question"].partition("\n\n")[2]


def test_deterministic_and_seeded(examples):
    again = clinical_errors_recipe()
    assert [(e.id, e.messages, e.answer) for e in again] == [(e.id, e.messages, e.answer) for e in examples]
    other = clinical_errors_recipe(seed=1)
    assert {_report(e) for e in other} != {_report(e) for e in examples}


def test_size_and_unique(examples):
    assert 600 <= len(examples) <= 1200
    assert len({e.id for e in examples}) == len(examples)
    assert len({" ".join(_report(e).lower().split()) for e in examples}) == len(examples)


def test_balance(examples):
    cells = Counter((e.meta["category"], e.meta["label"]) for e in examples)
    assert set(cells) == {(m, v) for m in MODALITIES for v in ("ERROR", "CORRECT")}
    assert max(cells.values()) <= 1.1 * min(cells.values())
    # Every report family gives as many consistent reports as wrong ones, so a family never gives the label away.
    families = Counter((e.meta["origin"], e.meta["label"]) for e in examples)
    for origin in {o for o, _ in families}:
        assert families[(origin, "ERROR")] == families[(origin, "CORRECT")], origin


def test_every_test_error_type_is_trained(examples, tests_set):
    wanted = {i.meta["error_type"] for i in tests_set} - {"none"}
    trained = Counter(e.meta["error_type"] for e in examples)
    assert wanted <= set(trained)
    assert all(trained[t] >= 20 for t in wanted)
    assert {e.meta["error_type"] for e in examples if e.meta["label"] == "CORRECT"} == {"none"}
    assert "none" not in {e.meta["error_type"] for e in examples if e.meta["label"] == "ERROR"}


def test_no_overlap_with_the_test_reports(examples, tests_set):
    test_texts = [i.question.partition("\n\n")[2] for i in tests_set]
    assert len(test_texts) == 64 and test_texts == evaluation_reports()
    for e in examples:
        assert not near_test(_report(e)), e.id
        assert e.meta["question"] not in {i.question for i in tests_set}
    # The guard does catch a copy and a light paraphrase.
    assert near_test(test_texts[0]) and near_test(test_texts[5].replace("Findings", "findings") + " Reviewed.")


def test_jaccard():
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 1.0


def test_prompt_is_the_evaluations(examples, tests_set):
    """The prompt of a training example is the one the evaluation builds from the same row, with no sources."""
    assert {i.question.partition("\n\n")[0] for i in tests_set} == {INSTRUCTION}
    for e in examples:
        item = replace(tests_set[0], question=e.meta["question"])
        assert list(e.messages) == build_messages(choice_question(item).strip(), [])
        assert e.messages[-1]["content"].endswith("Answer with one word: ERROR, CORRECT.")
        assert e.meta["question"].startswith(INSTRUCTION + "\n\n")


def test_answers_parse_as_the_evaluation_scores_them(examples):
    for e in examples:
        match = _VERDICT_RX.match(e.answer)
        assert match and match.group(1) == e.meta["label"], e.id
        assert e.answer.startswith(("ERROR: ", "CORRECT: "))
        assert parse_choice(e.answer, ("ERROR", "CORRECT")) == e.meta["label"]
        reason = match.group(2).strip()
        # One sentence: a capitalised reason, one full stop at the end (decimals aside).
        assert (reason[:1].isupper() or reason[:1].isdigit()) and reason.endswith(".") and reason.count(". ") == 0, e.id
        assert 30 <= len(reason) <= 300, e.id


def test_meta(examples):
    for e in examples:
        assert e.meta["source"] == SOURCE and e.meta["format"] == "qa"
        assert e.meta["category"] in MODALITIES and e.meta["question"]
        assert e.meta["severity"] in (("none",) if e.meta["label"] == "CORRECT" else ("low", "moderate", "high"))
        assert e.meta["origin"] == "hand-written" or e.meta["origin"].startswith("template:")


def test_reports_read_as_reports(examples):
    for e in examples:
        text = _report(e)
        assert "  " not in text and ".." not in text and " ," not in text and "{" not in text, e.id
        assert not any(f"a {n}" in text for n in ("8 ", "11 ", "18 ", "80", "81", "85", "8-")), e.id
        assert 120 <= len(text) <= 800, e.id


def test_hand_written_file(examples):
    rows = clinical_errors(TRAIN_FILE)
    assert len(rows) >= 40
    counts = Counter((i.category, i.reference) for i in rows)
    assert set(counts) == {(m, v) for m in MODALITIES for v in ("ERROR", "CORRECT")}
    assert {i.question.partition("\n\n")[0] for i in rows} == {INSTRUCTION}
    assert sum(e.meta["origin"] == "hand-written" for e in examples) == len(rows)


def test_every_family_renders_every_error_it_declares():
    import random

    assert {s.modality for s in SCENARIOS} == set(MODALITIES)
    for family in SCENARIOS:
        for err in (None, *family.errors):
            row = clinical._render_row(family, err, random.Random(0), "x")
            assert row["output"].startswith("ERROR: " if err else "CORRECT: ")


def test_limit(examples):
    some = clinical_errors_recipe(limit=40)
    assert len(some) == 40
    ids = [e.id for e in examples]
    assert [ids.index(e.id) for e in some] == sorted(ids.index(e.id) for e in some)  # original order kept
    cells = Counter((e.meta["category"], e.meta["label"]) for e in some)
    assert set(cells.values()) == {5}
    assert [e.id for e in clinical_errors_recipe(limit=40)] == [e.id for e in some]
    assert len(clinical_errors_recipe(limit=10_000)) == len(examples)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_limit(bad):
    with pytest.raises(InputError, match="limit"):
        clinical_errors_recipe(limit=bad)


def test_registered():
    assert RECIPES["clinical-errors"] is clinical_errors_recipe
    assert len(build_recipe("clinical-errors", limit=8)) == 8
    with pytest.raises(InputError, match="takes no index"):
        build_recipe("clinical-errors", index="default")
    assert "project's own" in license_of("clinical-errors")
    assert "project's own" in license_of(TRAIN_FILE.name)
