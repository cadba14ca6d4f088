"""The public data sets the recipes read from the shared data folder, and the guard that keeps evaluation
items out of training: PubMedQA's 500 official test ids, the MedQuAD questions that `medquad_split` holds out,
and (by question text) K-QA's patient questions.
"""

from __future__ import annotations

import hashlib
import json
import random
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..eval.tasks import default_data_dir, kqa, kqa_benign, medquad_split, pubmedqa_test_ids
from ..types import Passage
from .data import check_leakage, read_records, read_text
from .examples import Example, normalize_question

MEDQUAD_FILE = ("medquad", "medquad_answered.jsonl.gz")


PUBMEDQA_FILE = ("pubmedqa", "ori_pqal.json")


DECISIONS = {"yes": "Yes.", "no": "No.", "maybe": "Maybe."}


def shared_data(data_dir: Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir()


def need_file(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"{path} not found. Training recipes read the public data sets in place from the shared "
                         f"data folder (see its README.md); set MEDGEMMA_DATA to where they are.")
    return path


def check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit must be a positive whole number, not {limit!r}.")


def build_sample(items: Sequence[Any], build: Callable[[Any], Any], limit: int | None, seed: int) -> list[Any]:
    """`build(item)` for each item, leaving out None, in input order. With `limit`, items are built in a seeded
    random order until `limit` results exist, so a small sample costs little and is the same every time."""
    order = list(range(len(items)))
    if limit is not None:
        random.Random(seed).shuffle(order)
    built: list[tuple[int, Any]] = []
    for index in order:
        result = build(items[index])
        if result is not None:
            built.append((index, result))
            if limit is not None and len(built) == limit:
                break
    return [result for _, result in sorted(built, key=lambda pair: pair[0])]


def digest(text: str) -> str:
    return hashlib.sha256(normalize_question(text).encode("utf-8")).hexdigest()[:8]


def pubmedqa_records(data: Path) -> dict[str, dict[str, Any]]:
    path = need_file(data.joinpath(*PUBMEDQA_FILE))
    try:
        records = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from exc
    if not isinstance(records, dict) or not all(isinstance(r, dict) for r in records.values()):
        raise InputError(f"{path} should map PubMed ids to records.")
    return {str(k): v for k, v in records.items()}



@dataclass(frozen=True)
class PubMedQA:
    pmid: str
    question: str
    contexts: tuple[str, ...]
    decision: str
    long_answer: str
    year: str
    labels: tuple[str, ...] = ()  # the section of each context (BACKGROUND, METHODS, RESULTS, ...)


def pubmedqa_train(data: Path) -> list[PubMedQA]:
    """The PubMedQA records outside the official test split, in file order, checked."""
    path = data.joinpath(*PUBMEDQA_FILE)
    records = pubmedqa_records(data)
    test = pubmedqa_test_ids(data)
    out = []
    for pmid, rec in records.items():
        if pmid in test:
            continue
        where = f"{path}, record {pmid}"
        question, long_answer = rec.get("QUESTION"), rec.get("LONG_ANSWER")
        if not isinstance(question, str) or not question.strip():
            raise InputError(f"{where}: 'QUESTION' is missing or empty.")
        if not isinstance(long_answer, str) or not long_answer.strip():
            raise InputError(f"{where}: 'LONG_ANSWER' is missing or empty.")
        decision = rec.get("final_decision")
        if decision not in DECISIONS:
            raise InputError(f"{where}: final_decision must be yes, no or maybe, not {decision!r}.")
        contexts = rec.get("CONTEXTS")
        if not isinstance(contexts, list) or not contexts or not all(isinstance(c, str) for c in contexts):
            raise InputError(f"{where}: CONTEXTS must be a list of passages.")
        labels = rec.get("LABELS")
        labels = [str(x) for x in labels] if isinstance(labels, list) and len(labels) == len(contexts) else [""] * len(
            contexts)
        kept = [(c.strip(), label) for c, label in zip(contexts, labels) if c.strip()]
        out.append(PubMedQA(pmid, question.strip(), tuple(c for c, _ in kept), decision, long_answer.strip(),
                             str(rec.get("YEAR") or ""), tuple(label for _, label in kept)))
    return out


def medquad_rows(data: Path) -> list[tuple[str, dict[str, Any]]]:
    return list(read_records(need_file(data.joinpath(*MEDQUAD_FILE))))


def medquad_train(rows: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, str]]]:
    """MedQuAD records `medquad_split` puts in "train", each question once (first occurrence), with an answer."""
    out = []
    seen: set[str] = set()
    for where, row in rows:
        question, answer = row.get("question"), row.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise InputError(f"{where}: 'question' is missing or empty.")
        # The answered file should hold no unanswered record, but one is no reason to stop.
        if not isinstance(answer, str) or not answer.strip() or medquad_split(question) != "train":
            continue
        key = normalize_question(question)
        if key in seen:
            continue
        seen.add(key)
        out.append((where, {k: str(row.get(k) or "").strip() for k in
                            ("qid", "question", "answer", "qtype", "focus", "source", "url", "collection")}))
    return out


def evaluation_items(data: Path, rows: Iterable[tuple[str, dict[str, Any]]] | None = None,
                      ) -> tuple[set[str], list[str]]:
    """(ids, questions) of the evaluation items found under `data`; data sets that are absent are skipped."""
    ids: set[str] = set()
    questions: list[str] = []
    pub = data / "pubmedqa"
    if (pub / "test_ground_truth.json").is_file():
        test = pubmedqa_test_ids(data)
        ids |= test
        if (pub / "ori_pqal.json").is_file():
            records = pubmedqa_records(data)
            questions += [str(r.get("QUESTION") or "") for pmid, r in records.items() if pmid in test]
    if rows is None and data.joinpath(*MEDQUAD_FILE).is_file():
        rows = medquad_rows(data)
    for _, row in rows or ():
        question = row.get("question")
        if isinstance(question, str) and question.strip() and medquad_split(question) == "eval":
            questions.append(question)
    if (data / "kqa" / "questions.jsonl").is_file():
        questions += [item.question for item in kqa_benign(data)]
        if (data / "kqa" / "questions_w_answers.jsonl").is_file():
            questions += [item.question for item in kqa(data)]
    return ids, questions


def drop_leaked_records(records: list[dict[str, str]], questions: list[str], recipe: str) -> list[dict[str, str]]:
    """MedQuAD records whose question is not an evaluation question (after `normalize_question`)."""
    held = {q for q in map(normalize_question, questions) if q}
    kept = [rec for rec in records if normalize_question(rec["question"]) not in held]
    if len(kept) < len(records):
        warnings.warn(f"The {recipe} recipe left out {len(records) - len(kept)} question(s) that match evaluation "
                      f"items.", UserWarning, stacklevel=3)
    return kept


def drop_leaked(examples: list[Example], ids: set[str], questions: list[str], recipe: str) -> list[Example]:
    leaked = set(check_leakage(examples, ids, questions))
    if leaked:
        warnings.warn(f"The {recipe} recipe left out {len(leaked)} example(s) that match evaluation items.",
                      UserWarning, stacklevel=3)
    return [ex for ex in examples if ex.id not in leaked]


def abstract(rec: PubMedQA) -> Passage:
    return Passage(id=f"pubmed-{rec.pmid}", text="\n\n".join(rec.contexts), title="Study abstract", source="PubMed",
                   url=f"https://pubmed.ncbi.nlm.nih.gov/{rec.pmid}/", score=1.0)
