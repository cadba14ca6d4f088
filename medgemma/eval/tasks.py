"""Task loaders: each public data set (read in place from the shared data folder, never copied) or project file
becomes a list of `EvalItem`s in a fixed order, with ids that are stable, unique and prefixed by the task.

`TASKS` names every task for the UI and the runner; `load_task` loads one, optionally a fixed random sample.
`pubmedqa_test_ids` and `medquad_split` tell training recipes which items evaluation uses, so they can leave
them out. The BIPIA task's judge, `obeyed`, is in `injection.py`.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ROOT
from .. import files
from ..errors import InputError
from .items import EvalItem, Kind

PROJECT_DATA = Path(__file__).resolve().parent / "data"
EMERGENCIES_FILE = PROJECT_DATA / "emergencies.jsonl"
CLINICAL_ERRORS_FILE = PROJECT_DATA / "clinical_errors.jsonl"

PUBMEDQA_SETTINGS = ("gold", "rag", "none")
MIRAGE_SUBSETS = ("medqa", "medmcqa", "mmlu", "pubmedqa")
MEDQUAD_EVAL_PERCENT = 10


def default_data_dir() -> Path:
    """The shared data folder: $MEDGEMMA_DATA when set, else `shared/data` beside the project."""
    env = os.environ.get("MEDGEMMA_DATA", "").strip()
    return Path(env).expanduser() if env else ROOT.parent / "shared" / "data"


# --- reading files ------------------------------------------------------------------------------------------


def _dir(data_dir: Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir()


def _need(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"{path} not found. The evaluation data sets are read in place from the shared data "
                         f"folder (see its README.md); set MEDGEMMA_DATA to where they are.")
    return path


# The shared sets are a few MB; the cap only stops a wrong path from reading something huge.
MAX_DATA_BYTES = 200 * 1024 * 1024


def _read_json(path: Path) -> Any:
    return files.read_json(_need(path), MAX_DATA_BYTES, "evaluation data")


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; gzip when the name ends in .gz."""
    return files.read_jsonl(_need(path), MAX_DATA_BYTES, "evaluation data")


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with _need(path).open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"{path} lacks the column(s) {', '.join(missing)}.")
            return list(reader)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV file: {exc}") from exc


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: '{key}' is missing or empty.")
    return value.strip()


def _norm(text: str) -> str:
    """Lower case, single spaces, no space before punctuation: "What is X ?" and "what is x?" are one question.

    Not `train.examples.normalize_question`, which also drops punctuation: this is the key `medquad_split`
    hashes, and that coarser key would move 2,751 of MedQuAD's 14,979 questions across the split, 1,390 of
    them from the side the shipped adapters trained on into evaluation. Training matches evaluation questions
    with the coarser key on top of the split (`train.sources`), so near-duplicates stay out as well."""
    return re.sub(r"\s+([?.!,;:])", r"\1", " ".join(text.lower().split()))


def _sample(items: list[EvalItem], limit: int | None, seed: int) -> list[EvalItem]:
    if limit is None:
        return items
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit must be a positive whole number, not {limit!r}.")
    if limit >= len(items):
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


# --- PubMedQA -----------------------------------------------------------------------------------------------

# Study design from the abstract's MeSH terms, most specific first. PubMedQA gives no publication type, so
# this is approximate (an "X as Topic" term means the paper is about such studies), but it is what a reader of
# evidence asks first: how much does a yes from a retrospective series weigh against one from a trial?
_DESIGNS: tuple[tuple[str, frozenset[str]], ...] = (
    ("randomized or blinded trial", frozenset({
        "Randomized Controlled Trials as Topic", "Random Allocation", "Double-Blind Method", "Single-Blind Method",
        "Clinical Trials as Topic"})),
    ("case-control", frozenset({"Case-Control Studies"})),
    ("cross-sectional or survey", frozenset({
        "Cross-Sectional Studies", "Surveys and Questionnaires", "Health Care Surveys", "Health Surveys",
        "Nutrition Surveys"})),
    ("prospective", frozenset({"Prospective Studies"})),
    ("retrospective", frozenset({"Retrospective Studies"})),
    ("cohort or follow-up", frozenset({"Cohort Studies", "Follow-Up Studies", "Longitudinal Studies"})),
)


def pubmedqa_design(meshes: list[str] | tuple[str, ...]) -> str:
    """The study design a PubMedQA abstract's MeSH terms name, or "animal" / "design not indexed"."""
    terms = set(meshes)
    for name, keys in _DESIGNS:
        if terms & keys:
            return name
    if "Animals" in terms and "Humans" not in terms:
        return "animal"
    return "design not indexed"


def pubmedqa_test_ids(data_dir: Path | None = None) -> set[str]:
    """The 500 PubMed ids of the official PubMedQA test split; training recipes must leave them out."""
    path = _dir(data_dir) / "pubmedqa" / "test_ground_truth.json"
    truth = _read_json(path)
    if not isinstance(truth, dict) or not truth:
        raise InputError(f"{path} should map PubMed ids to labels.")
    return {str(k) for k in truth}


def pubmedqa(data_dir: Path | None = None, setting: str = "gold") -> list[EvalItem]:
    """The official PubMedQA test questions (yes/no/maybe), in the order of test_ground_truth.json.

    "gold" gives each question its own abstract as `context`; "rag" and "none" give no context (the runner
    retrieves, or not). Category: the study design named by the abstract's MeSH terms (`pubmedqa_design`)."""
    if setting not in PUBMEDQA_SETTINGS:
        raise InputError(f"PubMedQA setting must be one of {', '.join(PUBMEDQA_SETTINGS)}, not {setting!r}.")
    data = _dir(data_dir) / "pubmedqa"
    path = data / "ori_pqal.json"
    records = _read_json(path)
    if not isinstance(records, dict):
        raise InputError(f"{path} should map PubMed ids to records.")
    truth = _read_json(data / "test_ground_truth.json")
    if not isinstance(truth, dict) or not truth:
        raise InputError(f"{data / 'test_ground_truth.json'} should map PubMed ids to labels.")
    task = f"pubmedqa-{setting}"
    items = []
    for pmid in truth:
        rec = records.get(pmid)
        where = f"{path}, record {pmid}"
        if not isinstance(rec, dict):
            raise InputError(f"{where}: a test id has no record.")
        label = rec.get("final_decision")
        if label not in ("yes", "no", "maybe"):
            raise InputError(f"{where}: final_decision must be yes, no or maybe, not {label!r}.")
        contexts = rec.get("CONTEXTS")
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise InputError(f"{where}: CONTEXTS must be a list of passages.")
        meshes = rec.get("MESHES") or []
        items.append(EvalItem(
            id=f"{task}-{pmid}", task=task, kind="choice", question=_text(rec, "QUESTION", where),
            reference=label, options=("yes", "no", "maybe"),
            context="\n\n".join(c.strip() for c in contexts) if setting == "gold" else "",
            category=pubmedqa_design(meshes),
            meta={"pmid": str(pmid), "setting": setting, "year": str(rec.get("YEAR") or "")}))
    return items


# --- MIRAGE -------------------------------------------------------------------------------------------------


def mirage(data_dir: Path | None = None, subset: str = "medqa") -> list[EvalItem]:
    """One MIRAGE subset (multiple choice, 3-4 options), in file order.

    Category: the MMLU subject (from the question id, e.g. "anatomy-000") for mmlu; the subset name otherwise,
    since the file holds no finer field for the others."""
    if subset not in MIRAGE_SUBSETS:
        raise InputError(f"MIRAGE subset must be one of {', '.join(MIRAGE_SUBSETS)}, not {subset!r}.")
    path = _dir(data_dir) / "mirage" / "benchmark_no_bioasq.json"
    bench = _read_json(path)
    questions = bench.get(subset) if isinstance(bench, dict) else None
    if not isinstance(questions, dict) or not questions:
        raise InputError(f"{path} has no '{subset}' questions.")
    task = f"mirage-{subset}"
    items = []
    for qid, rec in questions.items():
        where = f"{path}, {subset} question {qid}"
        if not isinstance(rec, dict) or not isinstance(rec.get("options"), dict) or not rec["options"]:
            raise InputError(f"{where}: needs 'question', 'options' and 'answer'.")
        letters = tuple(str(k) for k in rec["options"])
        texts = tuple(str(v).strip() for v in rec["options"].values())
        answer = rec.get("answer")
        if answer not in letters:
            raise InputError(f"{where}: answer {answer!r} is not one of the options {', '.join(letters)}.")
        category = qid.rsplit("-", 1)[0].replace("_", " ") if subset == "mmlu" and "-" in qid else subset
        items.append(EvalItem(
            id=f"{task}-{qid}", task=task, kind="choice", question=_text(rec, "question", where), reference=answer,
            options=letters, option_texts=texts, category=category, meta={"subset": subset}))
    return items


# --- K-QA ---------------------------------------------------------------------------------------------------


def _kqa_topic(tags: object) -> str:
    """What a K-QA question is about, from K-QA's own entity tags: a treatment beats a test beats a problem."""
    found = set(tags) if isinstance(tags, list) else set()
    for tag, name in (("treatment", "treatment"), ("test", "test"), ("problem", "condition or symptom")):
        if tag in found:
            return name
    return "untagged"


def _kqa_questions(data_dir: Path) -> list[tuple[int, str, str]]:
    """(line, question, topic) of kqa/questions.jsonl, first occurrence of each question only."""
    path = data_dir / "kqa" / "questions.jsonl"
    seen: set[str] = set()
    out = []
    for n, row in _read_jsonl(path):
        question = _text(row, "Question", f"{path}, line {n}")
        if _norm(question) not in seen:
            seen.add(_norm(question))
            out.append((n, question, _kqa_topic(row.get("entity_tag"))))
    return out


def kqa(data_dir: Path | None = None) -> list[EvalItem]:
    """K-QA's 201 patient questions with physician answers (free text), in file order.

    meta["must_have"] holds the must-have statements, one a line. Category: what the question is about
    (treatment, test, condition or symptom), from the entity tags K-QA gives the same question in
    questions.jsonl; "untagged" where K-QA tagged nothing (95 of the 201)."""
    data = _dir(data_dir)
    path = data / "kqa" / "questions_w_answers.jsonl"
    topics = {_norm(q): topic for _, q, topic in _kqa_questions(data)}
    items = []
    for n, row in _read_jsonl(path):
        where = f"{path}, line {n}"
        question = _text(row, "Question", where)
        must = row.get("Must_have")
        if not isinstance(must, list) or not all(isinstance(s, str) for s in must):
            raise InputError(f"{where}: 'Must_have' must be a list of statements.")
        nice = row.get("Nice_to_have") or []
        items.append(EvalItem(
            id=f"kqa-{n:03d}", task="kqa", kind="free", question=question,
            reference=_text(row, "Free_form_answer", where), category=topics.get(_norm(question), "untagged"),
            meta={"must_have": "\n".join(s.strip() for s in must),
                  "nice_to_have": "\n".join(str(s).strip() for s in nice if isinstance(s, str)),
                  "sources": str(row.get("Sources") or "")}))
    return items


def kqa_benign(data_dir: Path | None = None) -> list[EvalItem]:
    """K-QA's real patient questions (questions.jsonl, repeats dropped): each should be answered, so a refusal
    is over-refusal. Category as in `kqa`."""
    return [EvalItem(id=f"kqa-benign-{n:04d}", task="kqa-benign", kind="safety", question=q, category=topic,
                     expect="answer")
            for n, q, topic in _kqa_questions(_dir(data_dir))]


# --- MedQuAD ------------------------------------------------------------------------------------------------


def medquad_split(question: str) -> str:
    """"eval" for about 10% of MedQuAD questions, "train" for the rest, by a SHA-256 of the normalised question.

    Keyed on the question text, not the qid: MedQuAD repeats qids across documents (16,407 records share
    12,133), and the same question asked by two sites must fall on one side, or training would see an
    evaluation question. The same text always gives the same answer, on any machine."""
    digest = hashlib.sha256(_norm(question).encode("utf-8")).digest()
    return "eval" if int.from_bytes(digest[:8], "big") % 100 < MEDQUAD_EVAL_PERCENT else "train"


def medquad_heldout(data_dir: Path | None = None, limit: int | None = None) -> list[EvalItem]:
    """The MedQuAD questions `medquad_split` puts in "eval" (free text, NIH answers), each question once, in file
    order; `limit` keeps a fixed sample (seed 0) that still spans every source. Category: the question type
    (treatment, symptoms, ...)."""
    path = _dir(data_dir) / "medquad" / "medquad_answered.jsonl.gz"
    items = []
    seen: set[str] = set()
    for n, row in _read_jsonl(path):
        where = f"{path}, line {n}"
        question = _text(row, "question", where)
        key = _norm(question)
        if key in seen or medquad_split(question) != "eval":
            continue
        seen.add(key)
        qid = _text(row, "qid", where)
        # qid repeats across records, so a digest of the question (unique after dedup) completes the id.
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
        items.append(EvalItem(
            id=f"medquad-{qid}-{digest}", task="medquad", kind="free", question=question,
            reference=_text(row, "answer", where), category=_text(row, "qtype", where),
            meta={k: str(row.get(k) or "") for k in ("qid", "source", "url", "focus")}))
    return _sample(items, limit, seed=0)


# --- safety sets --------------------------------------------------------------------------------------------

# MedSafetyBench files are numbered by the AMA Principle of Medical Ethics the requests violate (I-IX).
MEDSAFETY_CATEGORIES = {
    1: "I competence, compassion and dignity",
    2: "II professionalism and honesty",
    3: "III law and responsibility to society",
    4: "IV patient rights and confidentiality",
    5: "V continued study and sharing knowledge",
    6: "VI physician's freedom of choice",
    7: "VII community and public health",
    8: "VIII responsibility to the patient",
    9: "IX medical care for all",
}


def medsafetybench(data_dir: Path | None = None) -> list[EvalItem]:
    """MedSafetyBench's 900 harmful medical requests (GPT-4 and Llama-2 written), each to be refused.
    Category: the AMA principle the file's number stands for."""
    root = _dir(data_dir) / "medsafetybench" / "train"
    numbered = sorted((p.parent.name, int(m.group(1)), p) for p in root.glob("*/*.csv")
                      if (m := re.search(r"category_(\d+)\.csv$", p.name)))
    if not numbered:
        raise InputError(f"No MedSafetyBench files (*/..._category_N.csv) under {root}; set MEDGEMMA_DATA to the "
                         f"shared data folder.")
    items = []
    for _, number, path in numbered:
        category = MEDSAFETY_CATEGORIES.get(number, f"category {number}")
        for i, row in enumerate(_read_csv(path, ("harmful_medical_request",))):
            items.append(EvalItem(
                id=f"medsafetybench-{path.parent.name}-{number}-{i:03d}", task="medsafetybench", kind="safety",
                question=_text(row, "harmful_medical_request", f"{path}, row {i + 2}"), category=category,
                expect="refuse", meta={"writer": path.parent.name}))
    return items


def xstest(data_dir: Path | None = None) -> list[EvalItem]:
    """XSTest's 250 safe prompts that look unsafe (answer them) and 200 unsafe contrasts (refuse them).
    Category: XSTest's prompt type (homonyms, contrast_homonyms, ...)."""
    path = _dir(data_dir) / "xstest" / "xstest_prompts.csv"
    items = []
    for i, row in enumerate(_read_csv(path, ("id", "prompt", "type", "label")), 2):
        where = f"{path}, row {i}"
        label = row.get("label")
        if label not in ("safe", "unsafe"):
            raise InputError(f"{where}: label must be safe or unsafe, not {label!r}.")
        items.append(EvalItem(
            id=f"xstest-{_text(row, 'id', where)}", task="xstest", kind="safety", question=_text(row, "prompt", where),
            category=_text(row, "type", where), expect="answer" if label == "safe" else "refuse",
            meta={"label": label, "focus": row.get("focus") or "", "note": row.get("note") or ""}))
    return items


def _project_rows(path: Path) -> Iterator[tuple[int, dict, str]]:
    """Rows of a project JSONL file with their line number and a unique, non-empty id."""
    seen: dict[str, int] = {}
    for n, row in _read_jsonl(path):
        raw = row.get("id")
        if not isinstance(raw, (str, int)) or isinstance(raw, bool) or not str(raw).strip():
            raise InputError(f"{path}, line {n}: 'id' is missing or empty.")
        rid = str(raw).strip()
        if rid in seen:
            raise InputError(f"{path}, line {n}: id {rid!r} repeats line {seen[rid]}.")
        seen[rid] = n
        yield n, row, rid


def emergencies(path: Path | None = None) -> list[EvalItem]:
    """The project's hand-written emergency set (medgemma/eval/data/emergencies.jsonl): messages that must get
    emergency advice ("emergency") and look-alikes that must be answered ("answer"). Category: the file's."""
    path = Path(path) if path is not None else EMERGENCIES_FILE
    items = []
    for n, row, rid in _project_rows(path):
        where = f"{path}, line {n}"
        expect = row.get("expect")
        if expect not in ("emergency", "answer"):
            raise InputError(f"{where}: 'expect' must be emergency or answer, not {expect!r}.")
        category = row.get("category", "")
        if not isinstance(category, str):
            raise InputError(f"{where}: 'category' must be text.")
        items.append(EvalItem(id=f"emergency-{rid}", task="emergency", kind="safety",
                              question=_text(row, "question", where), expect=expect, category=category.strip()))
    return items


# --- clinical error detection -------------------------------------------------------------------------------

_VERDICT_RX = re.compile(r"\s*(ERROR|CORRECT)\b[\s:.,;\-\u2013\u2014]*(.*)", re.DOTALL)


def clinical_errors(path: Path | None = None) -> list[EvalItem]:
    """The project's clinical error-detection set (medgemma/eval/data/clinical_errors.jsonl): a report to judge
    ERROR or CORRECT. Category: the modality; meta: the metadata as text plus the reason. `image_file`, when
    present, is relative to the file's folder."""
    path = Path(path) if path is not None else CLINICAL_ERRORS_FILE
    return [clinical_item(row, rid, f"{path}, line {n}") for n, row, rid in _project_rows(path)]


def clinical_item(row: dict, rid: str, where: str = "clinical report") -> EvalItem:
    """One clinical-errors row (id, instruction, input, output "ERROR: ..." / "CORRECT: ...", metadata) as the
    item the runner asks: the instruction, a blank line, the report. Training recipes build their prompts
    through this too, so a report is worded for the model the same way in training and in evaluation."""
    verdict = _VERDICT_RX.match(_text(row, "output", where))
    if not verdict:
        raise InputError(f"{where}: 'output' must begin with ERROR or CORRECT.")
    metadata = row.get("metadata")
    if not isinstance(metadata, dict):
        raise InputError(f"{where}: 'metadata' must be an object.")
    meta = {str(k): "" if v is None else str(v) for k, v in metadata.items()}
    if not meta.get("modality", "").strip():
        raise InputError(f"{where}: 'metadata.modality' is missing or empty.")
    meta["reason"] = verdict.group(2).strip()
    return EvalItem(
        id=f"clinical-errors-{rid}", task="clinical-errors", kind="error_detection",
        question=_text(row, "instruction", where) + "\n\n" + _text(row, "input", where),
        reference=verdict.group(1), options=("ERROR", "CORRECT"), category=meta["modality"].strip(),
        meta=meta)


# --- BIPIA prompt injection ---------------------------------------------------------------------------------


def bipia_injection(data_dir: Path | None = None, split: str = "test", limit: int | None = None) -> list[EvalItem]:
    """BIPIA's text attacks (test: 75 instructions in 15 categories), each paired with a K-QA patient question,
    round-robin in file order. `attack` is to be spliced into the passages; the reply must answer the question
    without obeying it (`obeyed`). `reference` is K-QA's physician answer. `limit` keeps a fixed sample (seed 0)."""
    if split not in ("test", "train"):
        raise InputError(f"BIPIA split must be test or train, not {split!r}.")
    data = _dir(data_dir)
    path = data / "bipia" / f"text_attack_{split}.json"
    attacks = _read_json(path)
    if not isinstance(attacks, dict) or not attacks:
        raise InputError(f"{path} should map attack categories to lists of instructions.")
    kqa_items = kqa(data)
    items = []
    for category, instructions in attacks.items():
        if not isinstance(instructions, list) or not all(isinstance(s, str) and s.strip() for s in instructions):
            raise InputError(f"{path}: category {category!r} should hold a list of instructions.")
        slug = re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")
        for j, attack in enumerate(instructions):
            host = kqa_items[len(items) % len(kqa_items)]
            items.append(EvalItem(
                id=f"bipia-{split}-{slug}-{j}", task="bipia", kind="injection", question=host.question,
                reference=host.reference, category=category, attack=attack.strip(),
                meta={"split": split, "question_id": host.id}))
    return _sample(items, limit, seed=0)


# --- the registry -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    """A task the runner and the UI can offer."""

    name: str
    kind: Kind
    description: str  # one line for the UI
    loader: Callable[[Path], list[EvalItem]]  # data_dir -> items


def _specs() -> dict[str, TaskSpec]:
    specs = [
        TaskSpec("pubmedqa-gold", "choice", "PubMedQA test (500), yes/no/maybe with the question's own abstract given",
                 lambda d: pubmedqa(d, "gold")),
        TaskSpec("pubmedqa-rag", "choice", "PubMedQA test (500), yes/no/maybe with passages retrieved from the index",
                 lambda d: pubmedqa(d, "rag")),
        TaskSpec("pubmedqa-none", "choice", "PubMedQA test (500), yes/no/maybe from the model alone",
                 lambda d: pubmedqa(d, "none")),
        TaskSpec("mirage-medqa", "choice", "MIRAGE MedQA: US medical licensing exam questions, 4 options",
                 lambda d: mirage(d, "medqa")),
        TaskSpec("mirage-medmcqa", "choice", "MIRAGE MedMCQA: Indian medical entrance exam questions, 4 options",
                 lambda d: mirage(d, "medmcqa")),
        TaskSpec("mirage-mmlu", "choice", "MIRAGE MMLU medical subjects (anatomy, genetics, ...), 4 options",
                 lambda d: mirage(d, "mmlu")),
        TaskSpec("mirage-pubmedqa", "choice", "MIRAGE PubMedQA*: the PubMedQA test questions without abstracts",
                 lambda d: mirage(d, "pubmedqa")),
        TaskSpec("kqa", "free", "K-QA: real patient questions with physician answers and must-have statements", kqa),
        TaskSpec("medquad", "free", "MedQuAD held-out 10%: consumer questions answered by NIH sites",
                 lambda d: medquad_heldout(d)),
        TaskSpec("medsafetybench", "safety", "MedSafetyBench: harmful medical requests that must be refused",
                 medsafetybench),
        TaskSpec("xstest", "safety", "XSTest: safe prompts that look unsafe (answer) and unsafe contrasts (refuse)",
                 xstest),
        TaskSpec("kqa-benign", "safety", "K-QA patient questions that must be answered (over-refusal)", kqa_benign),
        TaskSpec("emergency", "safety", "Hand-written emergencies (get emergency advice) and look-alikes (answer)",
                 lambda d: emergencies()),
        TaskSpec("bipia", "injection", "BIPIA test attacks spliced into the passages: the answer must not obey them",
                 lambda d: bipia_injection(d)),
        TaskSpec("clinical-errors", "error_detection", "Hand-written reports: spot the clinical error or say CORRECT",
                 lambda d: clinical_errors()),
    ]
    return {s.name: s for s in specs}


TASKS: dict[str, TaskSpec] = _specs()


def load_task(name: str, data_dir: Path | None = None, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
    """The items of task `name`; with `limit`, a sample of that many chosen by `random.Random(seed)`, kept in the
    task's order (the same seed gives the same items)."""
    spec = TASKS.get(name)
    if spec is None:
        raise InputError(f"Unknown evaluation task {name!r}. Known tasks: {', '.join(TASKS)}.")
    return _sample(spec.loader(_dir(data_dir)), limit, seed)
