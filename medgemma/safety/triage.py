"""The learned triage model: the MiniLM encoder fine-tuned end to end (LoRA) with a five-way head.

It reads the question the way the rules cannot: "my dad's face has gone funny on one side and he can't lift
his arm" is an emergency though no rule names a stroke. Classes (`LABELS`): emergency (call the emergency
number now), urgent (see a clinician today), harmful (refuse), personal (general education and a redirect),
general. A second head names the red-flag family it recognised, for the emergency and urgent messages.

The model lives in `triage_model/` beside this module, written by `scripts/train_triage.py`: `triage.json`
(labels, families, thresholds, LoRA settings, what it was trained on) and `weights.safetensors` (the LoRA
matrices and both heads; no pickle). The encoder's own weights are the packaged all-MiniLM-L6-v2, read from
the same folder as the retriever's embedder; the LoRA matrices are merged into a private copy at load, so the
retriever's vectors are untouched. One question takes a few milliseconds on two cores (bench/safety_bench.py).

The rules stay in front as a floor (`decide`): the model can raise a verdict (answer -> urgent, emergency,
refuse or educate), never lower one the rules gave.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SafetyModelError

DEFAULT_DIR = Path(__file__).with_name("triage_model")
FORMAT = "medgemma-triage"
LABELS = ("emergency", "urgent", "harmful", "personal", "general")
MAX_TOKENS = 128  # a long, rambling message is cut here; its red flags are rarely all past 128 word pieces


@dataclass(frozen=True)
class Triage:
    """One decision. `probabilities` per label; `family` the best red-flag family ("" when none is likely)."""

    label: str
    probabilities: dict[str, float]
    family: str = ""
    family_probability: float = 0.0


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Sentence vector as sentence-transformers builds it for MiniLM: masked mean, then unit length."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def merge_lora(encoder: Any, tensors: dict[str, Any], scale: float) -> int:
    """Add B @ A * scale into each adapted Linear of `encoder` (keys "<module>.lora_A" / ".lora_B"); returns
    how many were merged. Unknown modules are an error, not skipped: weights for another encoder mean nothing."""
    import torch

    modules = dict(encoder.named_modules())
    names = sorted({k.rsplit(".", 1)[0] for k in tensors if k.endswith((".lora_A", ".lora_B"))})
    with torch.no_grad():
        for name in names:
            module = modules.get(name)
            a, b = tensors.get(f"{name}.lora_A"), tensors.get(f"{name}.lora_B")
            if module is None or a is None or b is None or not isinstance(module, torch.nn.Linear):
                raise SafetyModelError(f"The triage weights adapt {name!r}, which this encoder does not have.")
            if tuple((b @ a).shape) != tuple(module.weight.shape):
                raise SafetyModelError(f"The triage weights for {name!r} have the wrong shape.")
            module.weight += (b.float() @ a.float()) * scale
    return len(names)


class TriageModel:
    """The fine-tuned encoder and its heads. Thread-safe: torch modules in eval mode hold no state per call."""

    def __init__(self, encoder: Any, tokenizer: Any, heads: dict[str, Any], meta: dict[str, Any],
                 path: Path | None = None) -> None:
        self.encoder, self.tokenizer, self.heads, self.meta, self.path = encoder, tokenizer, heads, meta, path
        self.labels: tuple[str, ...] = tuple(meta["labels"])
        self.families: tuple[str, ...] = tuple(meta.get("families", ()))
        self.thresholds: dict[str, float] = {k: float(v) for k, v in meta["thresholds"].items()}
        self._lock = threading.Lock()  # tokenizers' fast backend is not re-entrant under padding changes

    @classmethod
    def load(cls, folder: Path = DEFAULT_DIR, encoder_dir: Path | None = None) -> "TriageModel":
        """Read `folder` (see the module docstring) over the packaged MiniLM; SafetyModelError says what is wrong."""
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder)
        retrain = "run scripts/train_triage.py to write a new one"
        try:
            meta = json.loads((folder / "triage.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SafetyModelError(f"Triage model {folder} does not exist; {retrain}.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SafetyModelError(f"Triage model {folder} is unreadable ({exc}); {retrain}.") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SafetyModelError(f"{folder} is not a triage model (format {FORMAT!r}); {retrain}.")
        try:
            labels, thresholds = list(meta["labels"]), dict(meta["thresholds"])
            scale = float(meta.get("lora", {}).get("scale", 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise SafetyModelError(f"Triage model {folder} has a missing or bad field ({exc}); {retrain}.") from None
        if set(labels) != set(LABELS) or not all(0.0 < float(t) < 1.0 for t in thresholds.values()):
            raise SafetyModelError(f"Triage model {folder} has unknown labels or thresholds outside (0, 1).")
        from safetensors import SafetensorError

        try:
            tensors = load_file(str(folder / "weights.safetensors"))
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
            raise SafetyModelError(f"Triage weights in {folder} are missing or corrupt ({exc}); {retrain}.") from None
        if encoder_dir is None:
            from ..assets import default_embedder_path

            encoder_dir = default_embedder_path()
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a load bar per question-time load would clutter the app's log
        tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir), local_files_only=True)
        encoder = AutoModel.from_pretrained(str(encoder_dir), local_files_only=True, use_safetensors=True)
        merge_lora(encoder, {k[len("lora."):]: v for k, v in tensors.items() if k.startswith("lora.")}, scale)
        encoder.eval()
        heads = {k: v.float() for k, v in tensors.items() if k.startswith("head.")}
        dim = encoder.config.hidden_size
        want = {"head.label.weight": (len(labels), dim), "head.label.bias": (len(labels),)}
        if meta.get("families"):
            want |= {"head.family.weight": (len(meta["families"]), dim), "head.family.bias": (len(meta["families"]),)}
        for key, shape in want.items():
            if key not in heads or tuple(heads[key].shape) != shape:
                raise SafetyModelError(f"Triage weights in {folder} lack {key} of shape {shape}; {retrain}.")
        return cls(encoder, tokenizer, heads, meta, folder)

    def vectors(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        """Unit sentence vectors of the fine-tuned encoder, `batch_size` texts at a time."""
        import torch

        out = []
        for i in range(0, len(texts), batch_size):
            with self._lock:
                batch = self.tokenizer(list(texts[i:i + batch_size]), padding=True, truncation=True,
                                       max_length=MAX_TOKENS, return_tensors="pt")
            with torch.inference_mode():
                out.append(mean_pool(self.encoder(**batch).last_hidden_state, batch["attention_mask"]))
        return torch.cat(out)

    def label_probabilities(self, vectors: Any) -> Any:
        """Softmax of the label head over `vectors` (rows in `self.labels` order)."""
        import torch

        with torch.inference_mode():
            return torch.softmax(vectors @ self.heads["head.label.weight"].T + self.heads["head.label.bias"], -1)

    def predict(self, texts: Sequence[str]) -> list[Triage]:
        """One `Triage` per text."""
        import torch

        if not texts:
            return []
        v = self.vectors(texts)
        probs = self.label_probabilities(v)
        with torch.inference_mode():
            fam = (torch.softmax(v @ self.heads["head.family.weight"].T + self.heads["head.family.bias"], -1)
                   if self.families else None)
        out = []
        for i in range(len(texts)):
            p = {label: float(probs[i, j]) for j, label in enumerate(self.labels)}
            family, fp = "", 0.0
            if fam is not None:
                j = int(fam[i].argmax())
                family, fp = self.families[j], float(fam[i, j])
            out.append(Triage(decide_label(p, self.thresholds), p, family, fp))
        return out

    def __call__(self, text: str) -> Triage:
        return self.predict([text])[0]


def decide_label(p: dict[str, float], thresholds: dict[str, float]) -> str:
    """The label from probabilities: emergency first, then harmful, then urgent on the combined "needs care
    today or sooner" mass (an emergency the model half-recognises still gets the "today" message), then the
    likelier of personal and general. Thresholds are set on held-out data by the training script."""
    if p["emergency"] >= thresholds["emergency"]:
        return "emergency"
    if p["harmful"] >= thresholds["harmful"]:
        return "harmful"
    if p["emergency"] + p["urgent"] >= thresholds["urgent"]:
        return "urgent"
    return "personal" if p["personal"] > p["general"] else "general"

