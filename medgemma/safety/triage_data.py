"""The triage model's data and its splits, shared by the training script and the bench so both see the same.

- `safety/data/triage.jsonl`: hand-written messages in red-flag families (emergency, urgent, harmful, personal,
  general with hard negatives), each naming the public guidance its family comes from (`data/SOURCES.md`).
- `safety/data/harm_examples.jsonl`: hand-written harmful requests and benign prompts.
- From the shared data folder: MedSafetyBench's gpt4 subset (harmful) and a seeded sample of MedQuAD questions
  (general). MedSafetyBench llama2, XSTest and K-QA are never read here: they are the bench's held-out sets.

Splits are fixed by family and by a hash of the text, so a rerun gives the same split and adding lines
elsewhere moves nothing: `HELD_OUT` families (every message of them, hard negatives included) are the
generalisation test; 20% of the other triage messages are the held-out messages; 15% of the rest the
development set the thresholds are chosen on.

`counterfactuals` adds training copies that state an age, sex, ethnicity, religion or nationality, so that the
model learns these do not change a verdict. Its words are disjoint from the bench's audit words
(`bench/safety_bench.py`), so the audit still measures the invariance on words the model never saw.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from .. import files
from .triage import LABELS

DATA_DIR = Path(__file__).with_name("data")
TRIAGE = DATA_DIR / "triage.jsonl"
HARM = DATA_DIR / "harm_examples.jsonl"
GPT4_GLOB = "medsafetybench/train/gpt4/*.csv"
MEDQUAD = "medquad/medquad_answered.jsonl.gz"
MAX_BYTES = 64 * 1024 * 1024  # a file of the project's own messages
# Whole families kept out of training, chosen to span body systems and populations: vascular, spinal, male-only,
# environmental, a child's kidneys, an infection after camping, metabolic; two urgent and two harmful families.
HELD_OUT = (
    "aortic-dissection", "cauda-equina", "testicular-torsion", "heat-stroke", "hus-acute-kidney",
    "spotted-fever", "dka", "shingles-near-eye", "kidney-stone-pain", "prescription-forgery", "doping-minors",
)
SPLITS = ("train", "dev", "test_messages", "test_families")


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    family: str
    source: str  # "triage", "hand", "gpt4" or "medquad"


def stable(text: str, salt: str) -> float:
    """A number in [0, 1) fixed by the text."""
    return int(hashlib.sha256(f"{salt}:{text}".encode()).hexdigest()[:12], 16) / 16**12


def read_jsonl(path: Path, source: str) -> list[Row]:
    rows = []
    for n, rec in files.read_jsonl(path, MAX_BYTES, "triage data"):
        if rec.get("label") not in LABELS or not str(rec.get("text", "")).strip():
            raise ValueError(f"{path}:{n}: no text or an unknown label {rec.get('label')!r}")
        rows.append(Row(rec["text"].strip(), rec["label"], rec.get("family", ""), source))
    return rows


def read_gpt4(data: Path) -> tuple[list[Row], list[Path]]:
    files = sorted(data.glob(GPT4_GLOB))
    if not files:
        raise FileNotFoundError(f"no MedSafetyBench gpt4 files under {data / 'medsafetybench'}")
    rows = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            rows += [Row(t, "harmful", "msb-gpt4", "gpt4") for r in csv.DictReader(f)
                     if (t := (r.get("harmful_medical_request") or "").strip())]
    return rows, files


def read_medquad(data: Path, n: int, seed: int) -> list[Row]:
    with gzip.open(data / MEDQUAD, "rt", encoding="utf-8") as f:
        qs = sorted({q for line in f if line.strip() and (q := str(json.loads(line)["question"]).strip())})
    random.Random(seed).shuffle(qs)
    return [Row(q, "general", "medquad", "medquad") for q in qs[:n]]


def dedupe(rows: list[Row]) -> list[Row]:
    """One copy of each text (case and spacing ignored); a text with two labels is an error in the data."""
    seen: dict[str, str] = {}
    out = []
    for r in rows:
        key = " ".join(r.text.lower().split())
        if key in seen:
            if seen[key] != r.label:
                raise ValueError(f"labelled both {seen[key]} and {r.label}: {r.text!r}")
            continue
        seen[key] = r.label
        out.append(r)
    return out


def dataset(data: Path | None, medquad: int = 1500, seed: int = 0) -> tuple[list[Row], list[Path]]:
    """Every row and the files it came from. Without `data` only the project's own files are read."""
    rows = read_jsonl(TRIAGE, "triage") + read_jsonl(HARM, "hand")
    files = [TRIAGE, HARM]
    if data is not None:
        gpt4, gpt4_files = read_gpt4(data)
        rows += gpt4 + read_medquad(data, medquad, seed)
        files += [*gpt4_files, data / MEDQUAD]
    return dedupe(rows), files


def splits(rows: list[Row], seed: int = 0) -> dict[str, list[Row]]:
    """train / dev / test_messages / test_families (see the module docstring)."""
    out: dict[str, list[Row]] = {name: [] for name in SPLITS}
    for r in rows:
        if r.family in HELD_OUT:
            out["test_families"].append(r)
        elif r.source == "triage" and stable(r.text, f"{seed}:test") < 0.2:
            out["test_messages"].append(r)
        elif stable(r.text, f"{seed}:dev") < 0.15:
            out["dev"].append(r)
        else:
            out["train"].append(r)
    return out


# Training-only attribute statements; the audit uses other values (25/45/60, Black/white/Asian/Hispanic/Arab,
# Muslim/Christian/Jewish/Hindu/atheist, Nigerian/Mexican/Chinese/Polish/American, "a man"/"a woman").
ATTRIBUTES = {
    "age": ["I'm 19", "I'm 33", "I'm 52", "I'm 71", "I am 38 years old", "im 84"],
    "sex": ["I'm male", "I'm female", "I'm transgender", "I'm intersex", "I'm non-binary"],
    "ethnicity": ["I'm Korean", "I'm Somali", "I'm Irish", "I'm Latina", "I'm Pakistani", "I'm Jamaican",
                  "I'm Aboriginal", "I'm mixed race"],
    "religion": ["I'm Sikh", "I'm Buddhist", "I'm Catholic", "I'm a Jehovah's Witness", "I'm Jain",
                 "I'm Orthodox"],
    "nationality": ["I'm Brazilian", "I'm Indian", "I'm Vietnamese", "I'm German", "I'm Egyptian",
                    "I'm Filipino", "I'm Ukrainian"],
}


def counterfactuals(rows: list[Row], share: float = 0.5, seed: int = 0) -> list[Row]:
    """`rows` plus, for a fixed `share` of them, a copy with an attribute statement before or after the text."""
    rng = random.Random(f"{seed}:counterfactual")
    out = list(rows)
    for r in rows:
        if rng.random() >= share:
            continue
        attribute = rng.choice(sorted(ATTRIBUTES))
        said = rng.choice(ATTRIBUTES[attribute])
        text = f"{said}. {r.text}" if rng.random() < 0.7 else f"{r.text} ({said.lower()})"
        out.append(Row(text, r.label, r.family, r.source))
    return out

