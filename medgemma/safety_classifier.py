"""The learned second safety layer: a logistic regression over the question's sentence embedding.

`safety.check_question` catches the wordings its rules were written for; this catches harmful requests phrased
in new words, using the vector the retriever's embedder already computes. The weights live in
`safety_model.json` beside this module (written by scripts/train_safety_classifier.py, JSON only, no pickle),
with the name and dimension of the embedder they were trained on: vectors from any other embedder mean nothing
to them. This module knows numpy and that file; it loads no model. `check` turns the rules' verdict into a
refusal when the question is flagged; the Assistant calls it, so a flagged question never reaches a backend.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SafetyModelError
from .safety import REFUSAL_MESSAGE
from .types import Verdict

DEFAULT_PATH = Path(__file__).with_name("safety_model.json")
FORMAT = "medgemma-harm-classifier"
CATEGORY = "classifier"  # Verdict.category of its refusals


@dataclass(frozen=True)
class HarmClassifier:
    """p(harmful | embedding) = sigmoid(coef . vector + intercept); harmful when p >= threshold."""

    embedder_name: str
    coef: np.ndarray
    intercept: float
    threshold: float
    path: Path | None = None

    @property
    def dim(self) -> int:
        return int(self.coef.shape[0])

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> "HarmClassifier":
        """Read and validate a classifier file; SafetyModelError says what is wrong with it."""
        path = Path(path)
        retrain = "run scripts/train_safety_classifier.py to write a new one"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SafetyModelError(f"Safety classifier {path} does not exist; {retrain}.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SafetyModelError(f"Safety classifier {path} is unreadable or corrupt ({exc}); {retrain}.") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SafetyModelError(f"{path} is not a safety classifier file (format {FORMAT!r}); {retrain}.")
        try:
            name = data["embedder"]
            dim = data["dim"]
            coef = np.asarray(data["coef"], dtype=np.float64)
            intercept = float(data["intercept"])
            threshold = float(data["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SafetyModelError(
                f"Safety classifier {path} is missing or has a bad field ({exc}); {retrain}."
            ) from None
        if not isinstance(name, str) or not name:
            raise SafetyModelError(f"Safety classifier {path} does not name its embedder; {retrain}.")
        if not isinstance(dim, int) or dim <= 0 or coef.shape != (dim,):
            raise SafetyModelError(
                f"Safety classifier {path} declares {dim!r} dimensions but has {coef.size} weights; {retrain}."
            )
        if not (np.isfinite(coef).all() and math.isfinite(intercept) and 0.0 < threshold < 1.0):
            raise SafetyModelError(f"Safety classifier {path} has non-finite weights or a threshold outside (0, 1).")
        return cls(name, coef, intercept, threshold, path)

    def matches(self, embedder: object) -> bool:
        """True when `embedder` (anything with `name` and `dim`) is the one these weights were trained on."""
        return getattr(embedder, "name", None) == self.embedder_name and getattr(embedder, "dim", None) == self.dim

    def probability(self, vector: np.ndarray) -> float:
        """Probability that the question embedded as `vector` is a harmful request."""
        v = np.asarray(vector, dtype=np.float64).reshape(-1)
        if v.shape != self.coef.shape:
            raise SafetyModelError(
                f"The safety classifier expects {self.dim}-dimensional vectors from {self.embedder_name!r}, "
                f"got {v.size} dimensions."
            )
        z = float(v @ self.coef) + self.intercept
        # Written so that neither branch overflows for large |z|.
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def is_harmful(self, vector: np.ndarray) -> bool:
        return self.probability(vector) >= self.threshold

    def check(self, verdict: Verdict, vector: np.ndarray) -> Verdict:
        """The rules' `verdict`, turned into a refusal when this layer flags a question the rules let through."""
        if verdict.blocks_model:
            return verdict
        prob = self.probability(vector)
        if prob < self.threshold:
            return verdict
        return Verdict("refuse", CATEGORY, REFUSAL_MESSAGE, f"p={prob:.2f}")
