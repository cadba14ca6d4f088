"""What a LoRA fine-tuning run does: one frozen dataclass, with a plain-language help line per field.

The UI shows the help lines beside its controls and the CLI builds one flag per field from them
(`medgemma.config.field_help(TrainConfig)`). A run can also be described in YAML (`TrainConfig.from_yaml`):
the keys are the field names, and a key this class does not know is an error rather than silently ignored.
"""

from __future__ import annotations

import math
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import InputError

QUANTIZATIONS = ("none", "4bit", "8bit")
PRECISIONS = ("auto", "fp32", "bf16")
METHODS = ("sft", "dpo", "grpo", "distill")
DEVICES = ("auto", "cpu", "cuda", "mps")
SCHEDULERS = ("linear", "cosine", "constant")
PROMPT_STYLES = ("chat", "document", "fewshot")
# Every linear layer of a Gemma decoder block: attention (q, k, v, o) and the MLP (gate, up, down).
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_NAME_RX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _help(text: str, default: Any = MISSING, factory: Any = MISSING) -> Any:
    if factory is not MISSING:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class TrainConfig:
    """One LoRA fine-tuning run: the model, the data, the adapter's shape and the optimisation schedule."""

    # -- method ----------------------------------------------------------------------------------------
    method: str = _help("How the adapter learns: 'sft' (imitate the answers), 'dpo' (prefer the chosen answer of "
                        "each pair over the rejected one), 'grpo' (sample answers and reward the checkable ones; a "
                        "GPU path) or 'distill' (match a teacher model's next-token distributions).", "sft")
    init_adapter: str = _help("Start from this trained adapter (a folder, or a name under adapters/): its LoRA "
                              "weights train further and, for dpo and grpo, a frozen copy is the reference.", "")
    beta: float = _help("dpo / grpo: how strongly the model is held near its reference (KL weight).", 0.1)
    num_generations: int = _help("grpo: answers sampled per question and compared with each other.", 4)
    max_completion_length: int = _help("grpo: longest sampled answer, in tokens.", 192)
    teacher_model: str = _help("distill: the teacher, a local folder or Hub id with the student's vocabulary.", "")
    kd_temperature: float = _help("distill: softmax temperature of teacher and student (higher = softer).", 2.0)
    kd_alpha: float = _help("distill: weight of the distillation loss; the rest is the usual answer loss.", 0.5)
    # -- model -----------------------------------------------------------------------------------------
    base_model: str = _help("Model to adapt: a local folder or Hub id; empty means the embedded Gemma 3 270M.", "")
    device: str = _help("Where to train: 'auto' picks a CUDA GPU when there is one, else Apple MPS, else the CPU.",
                        "auto")
    quantization: str = _help("Load the base model in 'none' (full precision), '4bit' or '8bit' (QLoRA; CUDA and "
                              "bitsandbytes only).", "none")
    precision: str = _help("Training precision: 'auto' is bf16 on GPUs and CPUs that compute in bf16 natively "
                           "(AVX512-BF16 or AMX; the LoRA weights and optimizer stay fp32), else fp32.", "auto")
    prompt_style: str = _help("How each question is laid out for the model: 'chat' (Gemma turns), 'document' or "
                              "'fewshot'; use the style you will answer with.", "chat")
    # -- data ------------------------------------------------------------------------------------------
    data: tuple[str, ...] = _help("Training files (jsonl, json or csv), one or more; leave empty to use a recipe.",
                                  factory=tuple)
    data_format: str = _help("Format of the training files: 'auto' guesses from the file's name and fields.", "auto")
    limit: int = _help("Use at most this many examples from each file (0 = all of them).", 0)
    recipe: str = _help("A built-in data recipe (e.g. PubMedQA or MedQuAD answers) instead of your own files.", "")
    recipe_args: dict[str, Any] = _help("Settings passed to the recipe, such as how many examples to take.",
                                        factory=dict)
    val_fraction: float = _help("Share of the examples held out to measure validation loss (0 = none).", 0.1)
    stratify: str = _help("Keep the share of each value of this example field (e.g. 'category') the same in the "
                          "training and validation parts; empty for a plain random split.", "category")
    seed: int = _help("Random seed for the split, the adapter's initial weights and the data order.", 0)
    allow_leakage: bool = _help("Train even when examples match evaluation questions (the evaluation then "
                                "overstates the model). Leave off.", False)
    # -- adapter ---------------------------------------------------------------------------------------
    output_name: str = _help("Name of the adapter folder created under adapters/.", "medgemma-lora")
    lora_r: int = _help("LoRA rank: how many directions each adapted layer can learn (higher = more capacity).",
                        16)
    lora_alpha: int = _help("LoRA scaling: the update is multiplied by alpha / r (often twice the rank).", 32)
    # Off by default: on a CPU the random masks of every adapted layer cost about a quarter of each step, and a
    # few hundred LoRA steps on this much data gain nothing measurable from them.
    lora_dropout: float = _help("Dropout on the LoRA input during training, against overfitting (0 = off).", 0.0)
    target_modules: tuple[str, ...] = _help("Which layers get a LoRA adapter (attention and MLP projections).",
                                            DEFAULT_TARGETS)
    # -- optimisation ----------------------------------------------------------------------------------
    max_seq_length: int = _help("Longest example in tokens; longer prompts lose their beginning, answers are kept "
                                "whole.", 1024)
    learning_rate: float = _help("Step size of the optimiser; 1e-4 to 3e-4 suits LoRA.", 2e-4)
    epochs: float = _help("How many passes over the training examples (used when max_steps is -1).", 1.0)
    max_steps: int = _help("Stop after this many optimiser steps; -1 trains for `epochs` passes instead.", -1)
    per_device_batch_size: int = _help("Examples per forward pass; lower it if memory runs out.", 4)
    gradient_accumulation_steps: int = _help("Forward passes added up before each optimiser step (effective batch "
                                             "= batch size x this).", 4)
    warmup_ratio: float = _help("Share of the steps over which the learning rate ramps up from zero.", 0.03)
    lr_scheduler: str = _help("How the learning rate changes after warm-up: 'linear', 'cosine' or 'constant'.",
                              "cosine")
    answer_end: str = _help("What ends each answer: 'eos' (the end-of-text token a pretrained model already "
                            "predicts) or 'end_of_turn' (Gemma's turn marker, for instruction-tuned models).", "eos")
    packing: bool = _help("Pack several short examples into one sequence of max_seq_length tokens (faster on "
                          "GPUs with FlashAttention; off is safest).", False)
    gradient_checkpointing: bool = _help("Recompute activations in the backward pass: less memory, about 20-30% "
                                         "slower.", False)
    fast_loss: bool = _help("Compute the output layer only where the answer is, which gives the same loss much "
                            "faster; turn off only to compare.", True)
    # -- bookkeeping -----------------------------------------------------------------------------------
    save_steps: int = _help("Save a checkpoint every this many steps, so a stopped run can resume.", 50)
    eval_steps: int = _help("Measure the validation loss every this many steps.", 50)
    logging_steps: int = _help("Record the training loss every this many steps.", 10)
    target_loss: float | None = _help("Stop early once the training loss falls below this (empty = train to the "
                                      "end).", None)

    def __post_init__(self) -> None:
        # YAML and the UI hand lists; keep the dataclass hashable-ish and immutable.
        for name in ("data", "target_modules"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,) if value else ()
            object.__setattr__(self, name, tuple(str(v) for v in value))
        if self.recipe_args is None:
            object.__setattr__(self, "recipe_args", {})
        problems = list(self._problems())
        if problems:
            raise InputError("Training settings: " + " ".join(problems))

    def _problems(self) -> Any:
        if self.quantization not in QUANTIZATIONS:
            yield f"quantization must be one of {', '.join(QUANTIZATIONS)} (got {self.quantization!r})."
        if self.device not in DEVICES:
            yield f"device must be one of {', '.join(DEVICES)} (got {self.device!r})."
        if self.prompt_style not in PROMPT_STYLES:
            yield f"prompt_style must be one of {', '.join(PROMPT_STYLES)} (got {self.prompt_style!r})."
        if self.answer_end not in ("eos", "end_of_turn"):
            yield f"answer_end must be 'eos' or 'end_of_turn' (got {self.answer_end!r})."
        if self.lr_scheduler not in SCHEDULERS:
            yield f"lr_scheduler must be one of {', '.join(SCHEDULERS)} (got {self.lr_scheduler!r})."
        if not _NAME_RX.match(self.output_name or ""):
            yield ("output_name must be a folder name of letters, digits, '.', '_' or '-' (not starting with '.' "
                   f"or '-'), at most 100 characters (got {self.output_name!r}).")
        if self.data and self.recipe:
            yield "give either data files or a recipe, not both."
        if not isinstance(self.recipe_args, dict):
            yield "recipe_args must be a mapping of setting names to values."
        if self.limit < 0:
            yield "limit must be 0 (all) or more."
        if not 0.0 <= self.val_fraction < 1.0:
            yield f"val_fraction must be at least 0 and below 1 (got {self.val_fraction})."
        if self.method not in METHODS:
            yield f"method must be one of {', '.join(METHODS)} (got {self.method!r})."
        if self.method == "distill" and not self.teacher_model:
            yield "method 'distill' needs a teacher_model."
        if not (self.beta >= 0 and math.isfinite(self.beta)):
            yield f"beta must be 0 or more (got {self.beta})."
        if self.num_generations < 2:
            yield f"num_generations must be at least 2: grpo compares answers with each other (got {self.num_generations})."
        if self.max_completion_length < 1:
            yield f"max_completion_length must be at least 1 (got {self.max_completion_length})."
        if not (self.kd_temperature > 0 and math.isfinite(self.kd_temperature)):
            yield f"kd_temperature must be above 0 (got {self.kd_temperature})."
        if not 0.0 <= self.kd_alpha <= 1.0:
            yield f"kd_alpha must be between 0 and 1 (got {self.kd_alpha})."
        if self.precision not in PRECISIONS:
            yield f"precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})."
        if self.lora_r < 1:
            yield f"lora_r must be at least 1 (got {self.lora_r})."
        if self.lora_alpha <= 0:
            yield f"lora_alpha must be positive (got {self.lora_alpha})."
        if not 0.0 <= self.lora_dropout < 1.0:
            yield f"lora_dropout must be at least 0 and below 1 (got {self.lora_dropout})."
        if not self.target_modules:
            yield "target_modules must name at least one layer."
        if self.max_seq_length < 16:
            yield f"max_seq_length must be at least 16 tokens (got {self.max_seq_length})."
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)) or self.learning_rate >= 1:
            yield f"learning_rate must be above 0 and below 1 (got {self.learning_rate})."
        if self.max_steps == 0 or self.max_steps < -1:
            yield f"max_steps must be -1 (train by epochs) or at least 1 (got {self.max_steps})."
        if self.max_steps == -1 and not self.epochs > 0:
            yield f"epochs must be above 0 when max_steps is -1 (got {self.epochs})."
        if self.per_device_batch_size < 1:
            yield f"per_device_batch_size must be at least 1 (got {self.per_device_batch_size})."
        if self.gradient_accumulation_steps < 1:
            yield f"gradient_accumulation_steps must be at least 1 (got {self.gradient_accumulation_steps})."
        if not 0.0 <= self.warmup_ratio < 1.0:
            yield f"warmup_ratio must be at least 0 and below 1 (got {self.warmup_ratio})."
        for name in ("save_steps", "eval_steps", "logging_steps"):
            if getattr(self, name) < 1:
                yield f"{name} must be at least 1 (got {getattr(self, name)})."
        if self.target_loss is not None and not (self.target_loss > 0 and math.isfinite(self.target_loss)):
            yield f"target_loss must be a positive number or empty (got {self.target_loss})."

    # -- conversion ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists)."""
        out = asdict(self)
        for name in ("data", "target_modules"):
            out[name] = list(out[name])
        out["recipe_args"] = dict(self.recipe_args)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "the settings") -> "TrainConfig":
        """Build from a mapping; keys that are not fields are an InputError that names them all."""
        if not isinstance(values, dict):
            raise InputError(f"{where} must be a mapping of setting names to values.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in values if k not in known)
        if unknown:
            raise InputError(f"{where} has unknown setting(s): {', '.join(unknown)}. Known settings: "
                             f"{', '.join(sorted(known))}.")
        return cls(**{k: _coerce(k, v, where) for k, v in values.items()})

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        """Read a YAML mapping of field names to values (yaml.safe_load: plain data only)."""
        import yaml

        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"Could not read the training config {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise InputError(f"{path} is not valid YAML: {exc}") from exc
        return cls.from_dict(loaded or {}, where=str(path))


_TYPES = {f.name: f.type for f in fields(TrainConfig)}


def _coerce(name: str, value: Any, where: str) -> Any:
    """Check a value's type against the field, allowing ints for floats and lists for tuples."""
    kind = str(_TYPES[name])
    ok = True
    if value is None:
        ok = "None" in kind
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind.startswith("float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind == "str":
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        value = str(value) if ok else value
    elif kind.startswith("tuple"):
        ok = isinstance(value, (list, tuple, str)) and all(isinstance(v, str) for v in
                                                           ([value] if isinstance(value, str) else value))
    elif kind.startswith("dict"):
        ok = isinstance(value, dict)
    if not ok:
        raise InputError(f"{where}: {name} should be {kind.replace('tuple[str, ...]', 'a list of strings')}, "
                         f"got {value!r}.")
    return value
