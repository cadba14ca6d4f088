"""The clinical-errors recipe: imaging and pathology reports to judge ERROR or CORRECT, for an error-detection
adapter evaluated on the `clinical-errors` task.

Two sources, both written for this project:
- templated reports (`clinical_templates.py`): for each modality (X-ray, histopathology, MRI, ultrasound) a
  set of report families rendered consistent and with one injected error of each type the family allows
  (laterality, a dismissed critical finding, mm versus cm, a patient detail that cannot fit, wrong anatomy,
  a wrong normal range, a contradictory impression, a wrong technique claim, a misidentified finding, a
  misread stain, a wrong stage or grade). Each family gives as many CORRECT as ERROR reports, so no family
  or phrase predicts the label by itself;
- hand-written reports (`data/clinical_errors_train.jsonl`, the evaluation file's row format).

The prompt is the evaluation's own: the row becomes an item through `eval.tasks.clinical_item`, the item a
question through `eval.runner.choice_question`, the question messages through `prompts.build_messages`
without sources. So evaluate an adapter trained on this with retrieval off (`--rag off`): with retrieval on,
the evaluation adds passages the training prompt never had. The answer is "ERROR: <reason>" or
"CORRECT: <reason>", whose first word is the option the evaluation scores.

The 64 evaluation reports stay out: any report whose text equals one of them after normalising, or shares
half or more of its word 3-grams with one (Jaccard), is dropped (`near_test`). The templates also avoid the
evaluation's situations, so a gain on the test is the skill, not recall. What the reports do not know: they
are short, one error at a time, and written from textbook rules; real reports are longer and messier.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path

from ..eval.runner import choice_question
from ..eval.tasks import clinical_errors, clinical_item
from ..prompts import build_messages
from ..textclean import scrub
from .clinical_templates import SCENARIOS, Draft, Patient, Scenario
from .examples import Example, normalize_question
from .sources import check_limit

INSTRUCTION = ("Review the imaging or pathology report below and decide whether it contains a clinical error. "
               "Answer ERROR or CORRECT, then give the reason in one sentence.")
MODALITIES = ("xray", "histopathology", "mri", "ultrasound")
TRAIN_FILE = Path(__file__).resolve().parent / "data" / "clinical_errors_train.jsonl"
SOURCE = "clinical-errors-train"
# Templated reports per modality, half ERROR and half CORRECT: with the hand-written ones about 950 examples.
PER_MODALITY = 224
NEAR_DUPLICATE = 0.5  # word 3-gram Jaccard at or above which a report counts as a copy of a test report
_TRIES = 30  # fresh renderings tried before a family that keeps repeating itself is given up for a slot


def clinical_errors_recipe(limit: int | None = None, seed: int = 0) -> list[Example]:
    """Templated and hand-written reports, each with the verdict and a one-sentence reason.

    The same `seed` gives the same examples, in the same order (modality by modality, then the hand-written
    file). `limit` keeps a sample of that many drawn evenly across modality and label (seeded, in order).
    """
    check_limit(limit)
    tests = [_shingles(text) for text in evaluation_reports()]
    test_norms = {normalize_question(text) for text in evaluation_reports()}
    seen: set[str] = set()
    rows: list[dict] = []
    for modality in MODALITIES:
        rows.extend(_templated(modality, seed, seen, tests, test_norms))
    for item in clinical_errors(TRAIN_FILE):
        report = item.question.partition("\n\n")[2]
        key = normalize_question(report)
        if key in seen or near_test(report, tests, test_norms):
            continue
        seen.add(key)
        rows.append({"id": item.id.removeprefix("clinical-errors-"), "instruction": INSTRUCTION, "input": report,
                     "output": f"{item.reference}: {item.meta['reason']}", "origin": "hand-written",
                     "metadata": {k: item.meta[k] for k in ("modality", "error_type", "severity")}})
    examples = [_example(row) for row in rows]
    return _sample(examples, limit, seed) if limit is not None else examples


def evaluation_reports() -> list[str]:
    """The report texts of the evaluation's clinical-errors set (its file, read through its own loader)."""
    return [item.question.partition("\n\n")[2] for item in clinical_errors()]


def near_test(report: str, tests: list[set[tuple[str, ...]]] | None = None,
              test_norms: set[str] | None = None) -> bool:
    """Whether `report` equals a test report after normalising, or shares NEAR_DUPLICATE or more of its word
    3-grams with one (Jaccard)."""
    if tests is None or test_norms is None:
        tests = [_shingles(t) for t in evaluation_reports()]
        test_norms = {normalize_question(t) for t in evaluation_reports()}
    if normalize_question(report) in test_norms:
        return True
    mine = _shingles(report)
    return any(jaccard(mine, other) >= NEAR_DUPLICATE for other in tests)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = normalize_question(text).split()
    return {tuple(words[i:i + 3]) for i in range(max(len(words) - 2, 1))}


# --- templated reports --------------------------------------------------------------------------------------


def _templated(modality: str, seed: int, seen: set[str], tests: list, test_norms: set[str]) -> list[dict]:
    """PER_MODALITY reports of one modality: each (family, error type) pair in turn, in a shuffled order each
    round, gives one report with that error and one consistent report of the same family."""
    rng = random.Random(f"clinical-errors/{seed}/{modality}")
    pairs = [(s, e) for s in SCENARIOS if s.modality == modality for e in s.errors]
    rows: list[dict] = []
    order: list[tuple[Scenario, str]] = []
    while len(rows) < PER_MODALITY:
        if not order:
            order = pairs[:]
            rng.shuffle(order)
        family, error = order.pop()
        for err in (error, None):
            row = None
            for _ in range(_TRIES):
                candidate = _render_row(family, err, rng, f"cet-{modality}-{len(rows) + 1:04d}")
                key = normalize_question(candidate["input"])
                if key not in seen and not near_test(candidate["input"], tests, test_norms):
                    seen.add(key)
                    row = candidate
                    break
            if row is not None:
                rows.append(row)
    return rows


def _render_row(family: Scenario, err: str | None, rng: random.Random, rid: str) -> dict:
    sexes = family.sexes
    if err == "patient_detail_mismatch" and family.flip_sex:
        sexes = tuple({"male", "female"} - set(family.sexes))
    patient = Patient(rng.randint(*family.ages), rng.choice(sexes))
    draft = family.make(rng, patient, err)
    report = _articles(render(family.modality, patient, draft, rng))
    verdict = "ERROR" if err else "CORRECT"
    return {"id": rid, "instruction": INSTRUCTION, "input": report, "output": f"{verdict}: {_articles(draft.reason)}",
            "origin": f"template:{family.name}",
            "metadata": {"modality": family.modality, "error_type": err or "none",
                         "severity": family.errors[err] if err else "none"}}


def _articles(text: str) -> str:
    """"a 11 mm" -> "an 11 mm", "a 8 cm" -> "an 8 cm": the article a number needs when read aloud."""
    def fix(m: re.Match) -> str:
        whole = m.group(2).split(".")[0]
        vowel = whole.startswith("8") or whole in ("11", "18")
        return f"{m.group(1)}{'n' if vowel else ''} {m.group(2)}"
    return re.sub(r"\b([Aa])n? (\d+(?:\.\d+)?)\b", fix, text)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def render(modality: str, pt: Patient, d: Draft, rng: random.Random) -> str:
    """A report in one of three layouts: one paragraph (as most evaluation reports are), labelled lines, or
    a request-first paragraph."""
    hist, tech, find, imp = (s.rstrip(". ") for s in (d.history, d.technique, d.findings, d.impression))
    style = rng.choices((0, 1, 2), weights=(3, 2, 2))[0]
    if modality == "histopathology":
        if style == 0:
            return (f"{tech} from {pt.a} {pt.noun} with {hist}. Microscopy: {find}. Conclusion: {imp}.")
        if style == 1:
            return (f"Clinical details: {pt.noun}, {hist}.\nSpecimen: {tech}.\nMicroscopy: {_cap(find)}.\n"
                    f"Diagnosis: {_cap(imp)}.")
        return (f"Specimen: {tech}, received from {pt.a} {pt.noun} with {hist}. Microscopic description: "
                f"{_cap(find)}. Conclusion: {_cap(imp)}.")
    if style == 0:
        verb = rng.choice(["has", "presents with", "is referred with"])
        return f"{_cap(pt.a)} {pt.noun} {verb} {hist}. {tech} findings: {find}. Impression: {imp}."
    if style == 1:
        return (f"Clinical history: {pt.noun}, {hist}.\nExamination: {tech}.\nFindings: {_cap(find)}.\n"
                f"Impression: {_cap(imp)}.")
    return f"{tech} for {pt.a} {pt.noun} with {hist}. Findings: {_cap(find)}. Conclusion: {_cap(imp)}."


# --- examples -----------------------------------------------------------------------------------------------


def _example(row: dict) -> Example:
    item = clinical_item(row, row["id"], f"clinical-errors recipe, {row['id']}")
    question = choice_question(item)
    # What Assistant.check_input does to the question before the evaluation builds its messages.
    messages = build_messages(scrub(question).strip(), [])
    meta = row["metadata"]
    return Example(
        id=f"clinical-errors-train-{row['id']}", messages=tuple(messages), answer=row["output"],
        meta={"source": SOURCE, "category": meta["modality"], "error_type": meta["error_type"],
              "severity": meta["severity"], "label": item.reference, "origin": row["origin"],
              "eval_split": "train", "format": "qa", "question": item.question})


def _sample(examples: list[Example], limit: int, seed: int) -> list[Example]:
    """`limit` examples taken in turn from each (modality, label) stratum, each shuffled with `seed`, kept in
    their original order."""
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        strata[(ex.meta["category"], ex.meta["label"])].append(i)
    rng = random.Random(f"clinical-errors-sample/{seed}")
    queues = [rng.sample(idx, len(idx)) for _, idx in sorted(strata.items())]
    keep: list[int] = []
    while len(keep) < min(limit, len(examples)):
        for q in queues:
            if q and len(keep) < limit:
                keep.append(q.pop())
    return [examples[i] for i in sorted(keep)]
