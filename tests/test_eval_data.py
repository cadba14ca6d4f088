"""The hand-written evaluation data files: format, labels and balance."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "medgemma" / "eval" / "data"
CLINICAL = DATA / "clinical_errors.jsonl"
EMERGENCIES = DATA / "emergencies.jsonl"

MODALITIES = {"xray", "histopathology", "mri", "ultrasound"}
SEVERITIES = {"low", "moderate", "high", "none"}
EXPECTS = {"emergency", "answer"}
MIN_PER_MODALITY = 16
MIN_ERROR_TYPES = 3
MAX_IMAGES = 8
MIN_PER_EXPECT = 40


def _load(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name}:{n}: blank line"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:  # pragma: no cover - the message is the point
            pytest.fail(f"{path.name}:{n}: invalid JSON: {e}")
        assert isinstance(row, dict), f"{path.name}:{n}: not a JSON object"
        rows.append(row)
    return rows


def _nonempty(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


@pytest.fixture(scope="module")
def clinical() -> list[dict]:
    return _load(CLINICAL)


@pytest.fixture(scope="module")
def emergencies() -> list[dict]:
    return _load(EMERGENCIES)


# ---- clinical error detection ------------------------------------------------------------------------------------


def test_clinical_ids_unique(clinical):
    dupes = [k for k, v in Counter(r.get("id") for r in clinical).items() if v > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_clinical_fields(clinical):
    for r in clinical:
        assert set(r) == {"id", "instruction", "input", "output", "metadata"}, r.get("id")
        for key in ("id", "instruction", "input", "output"):
            assert _nonempty(r[key]), f"{r['id']}: empty {key}"
        meta = r["metadata"]
        assert isinstance(meta, dict), r["id"]
        assert set(meta) <= {"modality", "error_type", "severity", "image_file"}, r["id"]
        for key in ("modality", "error_type", "severity"):
            assert _nonempty(meta.get(key)), f"{r['id']}: empty metadata.{key}"
        assert meta["modality"] in MODALITIES, r["id"]
        assert meta["severity"] in SEVERITIES, r["id"]
        assert r["id"].startswith(f"ce-{meta['modality']}-"), r["id"]


def test_clinical_single_instruction(clinical):
    assert len({r["instruction"] for r in clinical}) == 1


def test_clinical_label_consistency(clinical):
    for r in clinical:
        meta = r["metadata"]
        out = r["output"]
        assert out.startswith(("ERROR: ", "CORRECT: ")), r["id"]
        assert len(out.split(": ", 1)[1].strip()) > 10, f"{r['id']}: reason too short"
        correct = out.startswith("CORRECT:")
        assert (meta["error_type"] == "none") == correct, r["id"]
        assert (meta["severity"] == "none") == correct, r["id"]


def test_clinical_balance_per_modality(clinical):
    labels: dict[str, Counter] = defaultdict(Counter)
    for r in clinical:
        labels[r["metadata"]["modality"]][r["output"].split(":", 1)[0]] += 1
    assert set(labels) == MODALITIES
    for mod, c in labels.items():
        assert sum(c.values()) >= MIN_PER_MODALITY, mod
        assert c["ERROR"] == c["CORRECT"], f"{mod}: {dict(c)}"


def test_clinical_error_types_per_modality(clinical):
    types: dict[str, set] = defaultdict(set)
    for r in clinical:
        if r["metadata"]["error_type"] != "none":
            types[r["metadata"]["modality"]].add(r["metadata"]["error_type"])
    for mod in MODALITIES:
        assert len(types[mod]) >= MIN_ERROR_TYPES, f"{mod}: {sorted(types[mod])}"


def test_clinical_error_severities_spread(clinical):
    sev = {r["metadata"]["severity"] for r in clinical if r["metadata"]["error_type"] != "none"}
    assert sev == {"low", "moderate", "high"}


def test_clinical_image_files_exist_inside_the_data_folder(clinical):
    # The set is text-only today; a case that names an image must ship it, inside the data folder.
    images = [r for r in clinical if "image_file" in r["metadata"]]
    assert len(images) <= MAX_IMAGES
    for r in images:
        name = r["metadata"]["image_file"]
        assert _nonempty(name) and not Path(name).is_absolute() and ".." not in Path(name).parts, r["id"]
        assert (DATA / name).is_file(), r["id"]


# ---- emergencies ---------------------------------------------------------------------------------------------------


def test_emergency_ids_unique(emergencies):
    dupes = [k for k, v in Counter(r.get("id") for r in emergencies).items() if v > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_emergency_fields(emergencies):
    for r in emergencies:
        assert set(r) == {"id", "question", "expect", "category"}, r.get("id")
        for key in ("id", "question", "category"):
            assert _nonempty(r[key]), f"{r['id']}: empty {key}"
        assert r["expect"] in EXPECTS, r["id"]


def test_emergency_questions_unique(emergencies):
    dupes = [k for k, v in Counter(r["question"].strip().lower() for r in emergencies).items() if v > 1]
    assert not dupes, f"duplicate questions: {dupes}"


def test_emergency_balance(emergencies):
    c = Counter(r["expect"] for r in emergencies)
    assert c["emergency"] >= MIN_PER_EXPECT and c["answer"] >= MIN_PER_EXPECT, dict(c)
