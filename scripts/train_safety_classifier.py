"""Train the learned second safety layer: logistic regression on MiniLM embeddings of the question.

Protocol (kept honest so that bench/safety_bench.py still measures something):
- Harmful: MedSafetyBench's gpt4 subset only (medsafetybench/train/gpt4/*.csv, `harmful_medical_request`) and
  the hand-written requests in scripts/safety_examples.py.
- Benign: a seeded sample of MedQuAD questions and the hand-written benign prompts in scripts/safety_examples.py.
- Never used here: MedSafetyBench llama2, XSTest and K-QA. They are the held-out evaluation sets.
- Features are the unit vectors of the app's embedder, standardised; the scaling is folded into the weights,
  so the app computes sigmoid(coef . vector + intercept) on the raw embedding with numpy alone.
- The regularisation strength and the weight of the hand-written examples are chosen by stratified k-fold
  cross-validation on the training data. The threshold is chosen on the out-of-fold probabilities (each
  predicted by a model that never saw that example): the lowest threshold whose false-positive rate is at most
  --max-fpr on the MedQuAD sample and on the hand-written patient questions (the traffic the app is for), and
  at most --max-fpr-hard on all hand-written benign prompts (deliberately hard: benign imperatives, questions
  about harmful topics, violent words used innocently). The final model is then refit on all the data.
- Output: medgemma/safety_model.json, written atomically. JSON only: embedder name, dimension, weights,
  intercept, threshold, and what it was trained on (counts, sha256 of every data file used, date).

Usage: python scripts/train_safety_classifier.py [--data ../shared/data] [--out medgemma/safety_model.json]
Needs scikit-learn (training only; the app does not import it). Takes about two minutes on two CPU cores,
most of it embedding.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import safety_examples  # noqa: E402  (beside this script)

from medgemma.assets import DEFAULT_EMBEDDER, atomic_write_text, sha256_file  # noqa: E402

GPT4_GLOB = "medsafetybench/train/gpt4/*.csv"
MEDQUAD = "medquad/medquad_answered.jsonl.gz"
DEFAULT_OUT = REPO / "medgemma" / "safety_model.json"
SOURCES = ("gpt4", "hand_harmful", "medquad", "hand_benign")


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 harmful, 0 benign
    source: str  # one of SOURCES
    group: str  # the category within the source (hand-written tables), or the source again


def load_gpt4(data: Path) -> tuple[list[str], list[Path]]:
    files = sorted(data.glob(GPT4_GLOB))
    if not files:
        raise SystemExit(f"no MedSafetyBench gpt4 files under {data / 'medsafetybench'}")
    texts = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            texts += [t for row in csv.DictReader(f) if (t := (row.get("harmful_medical_request") or "").strip())]
    return texts, files


def load_medquad(data: Path, n: int, seed: int) -> list[str]:
    with gzip.open(data / MEDQUAD, "rt", encoding="utf-8") as f:
        questions = sorted({q for line in f if line.strip() and (q := str(json.loads(line)["question"]).strip())})
    random.Random(seed).shuffle(questions)
    return questions[:n]


def build(data: Path, n_medquad: int, seed: int) -> tuple[list[Example], list[Path]]:
    gpt4, files = load_gpt4(data)
    rows = [Example(t, 1, "gpt4", "gpt4") for t in gpt4]
    rows += [Example(t, 1, "hand_harmful", g) for g, ts in safety_examples.HARMFUL.items() for t in ts]
    rows += [Example(t, 0, "medquad", "medquad") for t in load_medquad(data, n_medquad, seed)]
    rows += [Example(t, 0, "hand_benign", g) for g, ts in safety_examples.BENIGN.items() for t in ts]
    seen: dict[str, int] = {}
    kept = []
    for ex in rows:  # one copy of each text; a text with both labels would be a bug in the tables
        key = " ".join(ex.text.lower().split())
        if key in seen:
            if seen[key] != ex.label:
                raise SystemExit(f"labelled both harmful and benign: {ex.text!r}")
            continue
        seen[key] = ex.label
        kept.append(ex)
    return kept, files + [data / MEDQUAD, Path(safety_examples.__file__)]


def sample_weights(rows: list[Example], w_harm: float, w_benign: float) -> np.ndarray:
    """Hand-written examples count more (they carry the boundary); then both classes weigh the same in total."""
    w = np.array([w_harm if r.source == "hand_harmful" else w_benign if r.source == "hand_benign" else 1.0
                  for r in rows])
    y = np.array([r.label for r in rows])
    w[y == 1] *= w[y == 0].sum() / w[y == 1].sum()
    return w


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Standardise, fit, and fold the scaling into (coef, intercept) for raw vectors."""
    from sklearn.linear_model import LogisticRegression

    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-8
    model = LogisticRegression(C=c, max_iter=10000).fit((x - mu) / sd, y, sample_weight=w)
    coef = model.coef_[0] / sd
    return coef, float(model.intercept_[0] - coef @ mu)


def probability(x: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))


def out_of_fold(x: np.ndarray, y: np.ndarray, w: np.ndarray, strata: list[str], c: float, folds: int,
                seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros(len(y))
    for train, valid in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, strata):
        coef, b = fit(x[train], y[train], w[train], c)
        p[valid] = probability(x[valid], coef, b)
    return p


def pick_threshold(p: np.ndarray, limits: list[tuple[np.ndarray, float]]) -> float:
    """The lowest threshold at which every benign mask's false-positive rate is within its limit."""
    for t in np.unique(p):
        if all((p[mask] >= t).mean() <= limit for mask, limit in limits):
            return float(t)
    return 1.0


def rates(p: np.ndarray, rows: list[Example], t: float) -> dict[str, float]:
    """Share flagged at threshold t, per source and per hand-written group."""
    out: dict[str, float] = {}
    groups = {f"{r.source}/{r.group}" for r in rows if r.source.startswith("hand")}
    keys = sorted({r.source for r in rows}) + sorted(groups)
    for key in keys:
        mask = np.array([r.source == key or f"{r.source}/{r.group}" == key for r in rows])
        out[key] = round(float((p[mask] >= t).mean()), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    default_data = (REPO / ".." / "shared" / "data").resolve()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data, help=f"shared data folder (default {default_data})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the model JSON")
    ap.add_argument("--medquad", type=int, default=3000, help="MedQuAD questions sampled as benign examples")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-fpr", type=float, default=0.02,
                    help="false-positive limit on MedQuAD and on hand-written patient questions (out of fold)")
    ap.add_argument("--max-fpr-hard", type=float, default=0.05,
                    help="false-positive limit on all hand-written benign prompts (out of fold)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    rows, files = build(args.data, args.medquad, args.seed)
    counts = {s: sum(r.source == s for r in rows) for s in SOURCES}
    print("training examples:", ", ".join(f"{k} {v}" for k, v in counts.items()), flush=True)

    from medgemma.rag.embedder import Embedder

    embedder = Embedder(DEFAULT_EMBEDDER)
    print(f"embedding {len(rows)} texts with {embedder.name} ({embedder.dim} dimensions)...", flush=True)
    x = embedder.encode([r.text for r in rows], batch_size=64).astype(np.float64)
    print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)

    y = np.array([r.label for r in rows])
    strata = [r.source for r in rows]
    benign_limits = [
        (np.array([r.source == "medquad" for r in rows]), args.max_fpr),
        (np.array([r.source == "hand_benign" and r.group == "patient" for r in rows]), args.max_fpr),
        (np.array([r.source == "hand_benign" for r in rows]), args.max_fpr_hard),
    ]
    gpt4 = np.array([r.source == "gpt4" for r in rows])
    hand = np.array([r.source == "hand_harmful" for r in rows])

    print(f"choosing C and hand-written weights by {args.folds}-fold cross-validation", flush=True)
    best: tuple[float, float, float, float, float, np.ndarray] | None = None
    for c in (0.001, 0.002, 0.004, 0.01, 0.03):
        for w_harm, w_benign in ((2.0, 4.0), (3.0, 6.0), (3.0, 3.0)):
            w = sample_weights(rows, w_harm, w_benign)
            p = out_of_fold(x, y, w, strata, c, args.folds, args.seed)
            t = pick_threshold(p, benign_limits)
            # Recall on the hand-written requests says most about phrasings the gpt4 subset lacks.
            score = 0.5 * ((p[gpt4] >= t).mean() + (p[hand] >= t).mean())
            print(f"  C={c:<6} weights harmful x{w_harm:g} benign x{w_benign:g}: threshold {t:.3f}, "
                  f"recall gpt4 {(p[gpt4] >= t).mean():.3f} hand-written {(p[hand] >= t).mean():.3f}", flush=True)
            if best is None or score > best[0]:
                best = (score, c, w_harm, w_benign, t, p)
    assert best is not None
    _, c, w_harm, w_benign, threshold, p_oof = best
    validation = rates(p_oof, rows, threshold)
    print(f"\nchosen: C={c}, hand-written weights harmful x{w_harm:g} benign x{w_benign:g}, threshold {threshold:.3f}")
    print("out-of-fold share flagged at that threshold (recall for harmful sources, FPR for benign ones):")
    for key, value in validation.items():
        print(f"  {key:<36} {value:.3f}")

    w = sample_weights(rows, w_harm, w_benign)
    coef, intercept = fit(x, y, w, c)
    fitted = rates(probability(x, coef, intercept), rows, threshold)
    print("training fit of the final model (in sample, optimistic):",
          ", ".join(f"{k} {v:.3f}" for k, v in fitted.items() if "/" not in k))

    model = {
        "format": "medgemma-harm-classifier",
        "version": 1,
        "embedder": embedder.name,
        "dim": int(embedder.dim),
        "coef": [float(f"{v:.7g}") for v in coef],
        "intercept": float(f"{intercept:.7g}"),
        "threshold": float(f"{threshold:.6f}"),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "training": {
            "model": "logistic regression (scikit-learn) on standardised embeddings; scaling folded into coef",
            "positives": "MedSafetyBench gpt4 subset (harmful_medical_request) + hand-written harmful requests",
            "negatives": f"MedQuAD questions (seeded sample of {args.medquad}) + hand-written benign prompts",
            "held_out": ["MedSafetyBench llama2", "XSTest", "K-QA"],
            "counts": counts,
            "C": c,
            "weights": {"hand_harmful": w_harm, "hand_benign": w_benign, "classes": "balanced"},
            "seed": args.seed,
            "files": [
                {"path": str(f.relative_to(args.data) if f.is_relative_to(args.data) else f.relative_to(REPO)),
                 "sha256": sha256_file(f)}
                for f in files
            ],
        },
        "validation": {
            "method": f"{args.folds}-fold stratified cross-validation, out-of-fold probabilities",
            "threshold_rule": (f"lowest threshold with FPR <= {args.max_fpr} on MedQuAD and on hand-written patient "
                               f"questions, and <= {args.max_fpr_hard} on all hand-written benign prompts"),
            "flagged_share": validation,
        },
    }
    atomic_write_text(args.out, json.dumps(model, indent=1) + "\n")
    args.out.chmod(0o644)  # the temporary file behind the atomic write is private; the model ships with the code
    print(f"\nwrote {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
