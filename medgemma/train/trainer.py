"""LoRA fine-tuning of a Gemma model on question → answer examples, with TRL's SFTTrainer.

Each example becomes a prompt (its messages rendered by `medgemma.prompts.render`, exactly as the backends
render them at answer time) and a completion (the answer followed by `<end_of_turn>`); the loss is on the
completion only. The run lives in `adapters/<output_name>/`:

- `checkpoints/` — Trainer checkpoints every `save_steps` (the last two are kept), so a stopped run resumes;
- `train_log.jsonl` — one JSON line per log event (the UI tails it, so a page reload loses nothing);
- at the end, moved in atomically: `adapter_model.safetensors`, `adapter_config.json`, `provenance.json`,
  `dataset_stats.json` and a `README.md` adapter card.

Speed: the output layer of Gemma 3 has 262,144 rows, and on a CPU projecting every position through it costs
more than the rest of the network. The loss needs only the answer positions, so by default the trainer asks the
model for logits there only (`logits_to_keep` with a boolean mask, transformers >= 5.x); the loss is the same
number (tested to 1e-5). TRL 1.16's own fused LM head projects only the labelled positions on CUDA/XPU (Triton)
but every position elsewhere; `fast_loss=False` uses it, for comparison.

torch, transformers, peft, trl and datasets are imported inside the functions so `import medgemma` stays fast.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from ..assets import atomic_write_text, sha256_file
from ..errors import BackendError, InputError, MedGemmaError, require
from ..prompts import render
from .config import TrainConfig

Progress = Callable[[dict[str, Any]], None]

TURN_END = "<end_of_turn>"
CHECKPOINTS = "checkpoints"
LOG_NAME = "train_log.jsonl"
RUN_CONFIG = "run_config.json"  # in checkpoints/: the settings the checkpoints were trained with
PROVENANCE = "provenance.json"
STATS_NAME = "dataset_stats.json"
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
SAVE_TOTAL_LIMIT = 2
# Settings that may change when a run is resumed: how long it trains and how often it reports.
RESUMABLE = frozenset({"max_steps", "epochs", "save_steps", "eval_steps", "logging_steps", "target_loss"})
# Above this many parameters a dry run on the CPU estimates the time from a formula instead of measuring a step.
MEASURE_LIMIT_CPU = 1.5e9
LICENSES = {
    "pubmedqa": "MIT (github.com/pubmedqa/pubmedqa)",
    "medquad": "CC BY 4.0 (github.com/abachaa/MedQuAD)",
}


@dataclass
class TrainResult:
    """Where the adapter is (or will be), what the run measured, how far it got and whether it finished.

    A run stopped by the caller is not finished: its last checkpoint is kept and the same settings resume it.
    A dry run returns its estimates in `metrics` and `finished=False`."""

    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    finished: bool = False


# --- examples → prompt/completion records → token ids ----------------------------------------------------


def to_records(examples: Sequence[Any], prompt_style: str = "chat") -> list[dict[str, str]]:
    """Prompt/completion records: the rendered messages, and the answer closed by Gemma's end-of-turn marker."""
    records = []
    for ex in examples:
        answer = str(ex.answer).strip()
        if not answer:
            raise InputError(f"Example {ex.id!r} has an empty answer: there is nothing to learn from it.")
        records.append({"id": str(ex.id), "prompt": render(list(ex.messages), prompt_style),
                        "completion": answer + TURN_END})
    return records


def tokenize_records(tokenizer: Any, records: Sequence[dict[str, str]], max_length: int) -> tuple[list[dict], dict]:
    """Token ids and a completion mask for each record, at most `max_length` tokens each.

    The prompt is tokenized as the backends tokenize it at answer time (with <bos>), the completion on its own,
    and the two are joined, so training sees exactly the prompt inference sees. A sequence that is too long loses
    the start of its prompt (after <bos>), never any of its answer: TRL 1.16 offers only `keep_start`
    truncation, which would cut the answer, so truncation happens here. An example whose answer alone does not
    fit is left out and counted.
    """
    bos = tokenizer.bos_token_id
    rows: list[dict] = []
    info = {"prompt_tokens": 0, "completion_tokens": 0, "truncated_prompts": 0, "dropped_too_long": 0,
            "dropped_ids": [], "longest": 0}
    for rec in records:
        p = list(tokenizer(rec["prompt"], add_special_tokens=True)["input_ids"])
        c = list(tokenizer(rec["completion"], add_special_tokens=False)["input_ids"])
        head = [p[0]] if p and p[0] == bos else []
        room = max_length - len(c) - len(head)
        if room < 1:  # not even one prompt token fits beside the answer
            info["dropped_too_long"] += 1
            info["dropped_ids"].append(rec["id"])
            continue
        if len(p) + len(c) > max_length:
            p = head + p[len(p) - room:]
            info["truncated_prompts"] += 1
        ids = p + c
        rows.append({"input_ids": ids, "completion_mask": [0] * len(p) + [1] * len(c)})
        info["prompt_tokens"] += len(p)
        info["completion_tokens"] += len(c)
        info["longest"] = max(info["longest"], len(ids))
    info["total_tokens"] = info["prompt_tokens"] + info["completion_tokens"]
    info["sequences"] = len(rows)
    info["dropped_ids"] = info["dropped_ids"][:10]
    return rows, info


# --- the loss --------------------------------------------------------------------------------------------


def completion_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> tuple[Any, Any, Any]:
    """Next-token cross-entropy over the labelled positions, projecting only those through the output layer.

    Returns (loss, labelled tokens, correctly predicted tokens). The loss is the sum over labelled tokens divided
    by `num_items_in_batch` when given (the Trainer's count over the whole accumulated batch), else by their
    count: the same reduction as TRL's SFTTrainer and as the model's own loss.
    """
    import torch
    import torch.nn.functional as F

    labels = inputs["labels"]
    targets_all = labels[:, 1:]
    wanted = targets_all != -100
    forward = {k: v for k, v in inputs.items() if k not in ("labels", "num_items_in_batch")}
    forward["use_cache"] = False
    if _takes_logits_to_keep(model):
        # A boolean (batch, seq) mask: hidden states of the True positions only, flattened in row-major order,
        # which is also the order of `targets_all[wanted]` below.
        keep = torch.zeros_like(labels, dtype=torch.bool)
        keep[:, :-1] = wanted
        logits = model(**forward, logits_to_keep=keep).logits
        logits = logits.reshape(-1, logits.shape[-1])
    else:  # an architecture without logits_to_keep: full logits, then the same selection
        logits = model(**forward).logits[:, :-1][wanted]
    targets = targets_all[wanted].to(logits.device)
    loss_sum = F.cross_entropy(logits.float(), targets, reduction="sum")
    count = targets.numel()
    denom = num_items_in_batch if num_items_in_batch is not None else count
    loss = loss_sum / torch.as_tensor(denom, device=loss_sum.device).clamp(min=1)
    with torch.no_grad():
        correct = (logits.argmax(dim=-1) == targets).sum()
    return loss, torch.tensor(count, device=loss.device), correct


def _takes_logits_to_keep(model: Any) -> bool:
    base = getattr(model, "module", model)  # accelerate / DDP wrapper
    if hasattr(base, "get_base_model"):  # PEFT wrapper; TRL's patched forward keeps the original signature
        base = base.get_base_model()
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


@functools.cache
def _trainer_class() -> type:
    """SFTTrainer with the answer-only output layer (built on first use: importing trl takes seconds)."""
    import torch
    from trl import SFTTrainer

    class MedGemmaSFTTrainer(SFTTrainer):  # type: ignore[misc, valid-type]
        """SFTTrainer whose loss projects only the answer positions through the output layer (`fast_loss`)."""

        fast_loss = True

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
            if not self.fast_loss or return_outputs or "labels" not in inputs:
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            mode = "train" if self.model.training else "eval"
            loss, count, correct = completion_loss(model, inputs, num_items_in_batch)
            # As in TRL/Trainer: with token averaging the gradients are averaged across processes afterwards.
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
            # The metrics TRL's own compute_loss records (entropy is left out: it needs a softmax over the vocabulary).
            count = self.accelerator.gather_for_metrics(count).sum()
            correct = self.accelerator.gather_for_metrics(correct).sum()
            self._metrics[mode]["mean_token_accuracy"].append((correct / count).item() if count > 0 else 0.0)
            if mode == "train":
                if "attention_mask" in inputs:
                    seen = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
                else:
                    seen = self.accelerator.gather_for_metrics(
                        torch.tensor(inputs["input_ids"].numel(), device=loss.device)).sum().item()
                self._total_train_tokens += seen // self._tp_size
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

    return MedGemmaSFTTrainer


# --- progress, stop and the JSON-lines log ---------------------------------------------------------------


def _stop_requested(stop: Any) -> bool:
    """True when a stop signal is set; accepts threading.Event (is_set()) and StopSignal (is_set property)."""
    if stop is None:
        return False
    flag = getattr(stop, "is_set", False)
    return bool(flag() if callable(flag) else flag)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def append_log(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and flush it, so a reader tailing the file sees whole lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")
        fh.flush()


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a train_log.jsonl (a torn last line is skipped)."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _reporter(log_path: Path, progress: Progress | None, stop: Any, target_loss: float | None) -> Any:
    from transformers import TrainerCallback

    class Reporter(TrainerCallback):  # type: ignore[misc, valid-type]
        """Reports progress, logs JSON lines, and stops on the stop signal or when the loss reaches its target."""

        def __init__(self) -> None:
            self.t0 = time.monotonic()
            self.step0 = 0
            self.loss: float | None = None
            self.eval_loss: float | None = None
            self.stopped = ""  # "", "stop" (the caller) or "target_loss"

        def info(self, state: Any) -> dict[str, Any]:
            elapsed = time.monotonic() - self.t0
            done = state.global_step - self.step0
            left = max(state.max_steps - state.global_step, 0)
            eta = elapsed / done * left if done > 0 else None
            return {"step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch,
                    "loss": self.loss, "eval_loss": self.eval_loss, "elapsed": round(elapsed, 2),
                    "eta": None if eta is None else round(eta, 2), "tokens": state.num_input_tokens_seen}

        def report(self, state: Any) -> None:
            if progress is not None:
                progress(self.info(state))

        def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[override]
            self.t0 = time.monotonic()
            self.step0 = state.global_step
            append_log(log_path, {"event": "start", "time": _now(), **self.info(state),
                                  "resumed_from_step": state.global_step or None})
            self.report(state)
            return control

        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[override]
            if state.global_step >= state.max_steps:
                control.should_log = True  # so the final loss is in the log, whatever logging_steps is
            self.report(state)  # first: the progress callable may be what sets the stop signal
            if not self.stopped and _stop_requested(stop):
                self.stopped = "stop"
                control.should_training_stop = True
                control.should_save = True  # checkpoint first, so the same settings resume from here
                control.should_log = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[override]
            logs = dict(logs or {})
            if "train_loss" in logs and "loss" not in logs:  # the Trainer's closing summary
                event = "summary"
            elif any(k.startswith("eval_") for k in logs):
                event = "eval"
                self.eval_loss = logs.get("eval_loss", self.eval_loss)
            else:
                event = "log"
                self.loss = logs.get("loss", self.loss)
            record = {"event": event, "time": _now(), **self.info(state),
                      **{k: v for k, v in logs.items() if isinstance(v, (int, float, str)) or v is None}}
            append_log(log_path, record)
            if (event == "log" and target_loss is not None and self.loss is not None and self.loss < target_loss
                    and not self.stopped and state.global_step < state.max_steps):
                self.stopped = "target_loss"
                control.should_training_stop = True
                control.should_save = True  # this log precedes the step's save decision, so it saves now
            self.report(state)
            return control

    return Reporter()


# --- the base model, the data and the evaluation items ---------------------------------------------------


def resolve_base(base_model: str, cache_dir: Path | None = None) -> tuple[str, bool]:
    """(folder or Hub id, whether it is a local folder). Empty means the embedded Gemma 3 270M."""
    if not base_model:
        from ..convert import default_hf_model

        if cache_dir is None:
            from ..config import AppConfig

            cache_dir = AppConfig.from_env().cache_dir
        return str(default_hf_model(Path(cache_dir))), True
    local = Path(base_model).expanduser()
    if local.is_dir():
        return str(local.resolve()), True
    if base_model.startswith((".", "/", "~")) or base_model.count("/") > 1:
        raise InputError(f"Base model folder {base_model} does not exist.")
    return base_model, False


def hash_model(model_id: str, local: bool) -> dict[str, Any]:
    """sha256 of each safetensors file of the model and one digest over them all (name:sha lines, sorted)."""
    folder: Path | None = Path(model_id) if local else None
    if folder is None:
        try:  # the Hub cache's snapshot folder, without downloading anything
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(model_id, local_files_only=True))
        except Exception:  # noqa: BLE001 - provenance is best effort for a Hub id that is not cached
            return {"sha256": "", "files": {}, "note": "Hub model not in the local cache; not hashed"}
    files = {p.name: sha256_file(p) for p in sorted(folder.glob("*.safetensors"))}
    digest = hashlib.sha256("".join(f"{n}:{s}\n" for n, s in files.items()).encode()).hexdigest() if files else ""
    return {"sha256": digest, "files": files}


def _data_module() -> Any:
    """medgemma.train.data, or None while it is not there (the fallbacks below keep training possible)."""
    try:
        from . import data
    except ImportError:
        return None
    return data


def load_training_examples(cfg: TrainConfig) -> tuple[list[Any], dict[str, Any]]:
    """The examples the config names (files or a recipe) and what provenance records about their source."""
    data = _data_module()
    if cfg.recipe:
        try:
            from .recipes import build_recipe
        except ImportError as exc:
            raise InputError("Recipes need medgemma.train.recipes, which is not installed.") from exc
        built = build_recipe(cfg.recipe, **dict(cfg.recipe_args))
        examples = list(getattr(built, "examples", built))
        return examples, {"recipe": {"name": cfg.recipe, "args": dict(cfg.recipe_args),
                                     "license": _license_of(cfg.recipe)}, "files": []}
    if not cfg.data:
        raise InputError("No training data: give data files or a recipe.")
    if data is None:
        raise InputError("Reading training files needs medgemma.train.data, which is not installed.")
    examples: list[Any] = []
    files = []
    for name in cfg.data:
        path = Path(name).expanduser()
        if not path.is_file():
            raise InputError(f"Training file {path} not found.")
        loaded = data.load_examples(path, fmt=cfg.data_format, limit=cfg.limit or None)
        examples.extend(loaded)
        files.append({"path": str(path.resolve()), "sha256": sha256_file(path), "examples": len(loaded),
                      "license": _license_of(path.name)})
    return examples, {"files": files, "recipe": None}


def _license_of(name: str) -> str:
    low = name.lower()
    return next((lic for key, lic in LICENSES.items() if key in low), "")


def split(examples: Sequence[Any], cfg: TrainConfig) -> tuple[list[Any], list[Any]]:
    """Training and validation examples: data.split_examples when there is one, else a seeded random split."""
    if cfg.val_fraction <= 0:
        return list(examples), []
    data = _data_module()
    if data is not None and hasattr(data, "split_examples"):
        train_part, val_part = data.split_examples(list(examples), val_fraction=cfg.val_fraction,
                                                   stratify=cfg.stratify, seed=cfg.seed)
        return list(train_part), list(val_part)
    import random

    order = list(examples)
    random.Random(cfg.seed).shuffle(order)
    n_val = int(round(len(order) * cfg.val_fraction))
    n_val = min(max(n_val, 1), len(order) - 1) if len(order) > 1 else 0
    return order[n_val:], order[:n_val]


def evaluation_reference(data_dir: Path | None = None) -> tuple[set[str], set[str]]:
    """Ids and questions of every evaluation item that can be loaded (missing data sets are skipped)."""
    from ..eval.tasks import TASKS, load_task, pubmedqa_test_ids

    ids: set[str] = set()
    questions: set[str] = set()
    for name in TASKS:
        try:
            items = load_task(name, data_dir)
        except MedGemmaError:
            continue
        for it in items:
            ids.add(it.id)
            if it.question:
                questions.add(it.question)
    try:
        pmids = pubmedqa_test_ids(data_dir)
        ids |= pmids | {f"pubmedqa-{p}" for p in pmids}
    except MedGemmaError:
        pass
    return ids, questions


def check_leakage(examples: Sequence[Any], allow: bool) -> dict[str, Any]:
    """Refuse examples that are evaluation items unless `allow`; what was found goes into provenance."""
    data = _data_module()
    if data is None or not hasattr(data, "check_leakage"):
        return {"checked": False, "note": "medgemma.train.data.check_leakage not available", "matches": 0}
    ids, questions = evaluation_reference()
    found = list(data.check_leakage(list(examples), ids, questions))
    if found and not allow:
        raise InputError(
            f"{len(found)} training example(s) are evaluation items (e.g. {', '.join(map(str, found[:5]))}): "
            "training on them would make the evaluation overstate the model. Remove them, or set allow_leakage "
            "if you really mean it.")
    return {"checked": True, "matches": len(found), "allowed": bool(allow), "examples": [str(f) for f in found[:20]]}


def _stats(train_part: Sequence[Any], val_part: Sequence[Any], tokenizer: Any, stratify: str) -> dict[str, Any]:
    data = _data_module()
    if data is not None and hasattr(data, "dataset_stats"):
        return dict(data.dataset_stats(list(train_part), list(val_part), tokenizer, stratify=stratify))
    return {"train_examples": len(train_part), "val_examples": len(val_part)}


def _write_stats(path: Path, stats: dict[str, Any]) -> None:
    data = _data_module()
    if data is not None and hasattr(data, "write_stats"):
        data.write_stats(path, stats)
    else:
        atomic_write_text(path, json.dumps(stats, indent=2, default=str) + "\n")


# --- model, precision, LoRA ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Precision:
    """How the weights are loaded and which autocast the Trainer uses."""

    load_dtype: str  # torch dtype name for from_pretrained
    bf16: bool
    fp16: bool
    label: str


def precision_for(plan: Any) -> Precision:
    """bf16 on CUDA GPUs that support it, fp16 autocast over fp32 weights on other CUDA GPUs (Gemma's activations
    overflow fp16 weights), fp32 on the CPU and on Apple MPS (fp16 training there is not reliable)."""
    if plan.device == "cuda":
        if plan.dtype == "bfloat16":
            return Precision("bfloat16", True, False, plan.precision)
        return Precision("float32", False, True, plan.precision if plan.quantization != "none" else "fp16-mixed")
    return Precision("float32", False, False, "fp32")


def load_tokenizer(model_id: str, local: bool) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model_id, local_files_only=local)  # never trust_remote_code
    except (OSError, ValueError) as exc:
        raise BackendError(f"Could not load the tokenizer of {model_id}: {exc}") from exc
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model_id: str, local: bool, plan: Any, cfg: TrainConfig) -> Any:
    """The base model in the training precision (4/8-bit through bitsandbytes on CUDA), ready for LoRA."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    prec = precision_for(plan)
    try:
        config = AutoConfig.from_pretrained(model_id, local_files_only=local)
        kwargs: dict[str, Any] = dict(dtype=getattr(torch, prec.load_dtype), use_safetensors=True,
                                      local_files_only=local)
        if getattr(config.get_text_config(), "attn_logit_softcapping", None):
            kwargs["attn_implementation"] = "eager"  # SDPA cannot soft-cap attention logits (Gemma 2 style)
        if plan.quantization != "none":
            from ..backends.hf import _quantization_config

            kwargs["quantization_config"] = _quantization_config(plan)
            kwargs["device_map"] = {"": 0}
        model = AutoModelForCausalLM.from_pretrained(model_id, **kwargs)
    except (OSError, ValueError) as exc:
        raise BackendError(f"transformers could not load the base model {model_id}: {exc}") from exc
    if plan.quantization != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    return model


def lora_config(cfg: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")


def count_parameters(model_id: str, local: bool, cfg: TrainConfig) -> dict[str, int]:
    """Total and trainable parameters of the LoRA model, built on the meta device (no weights are read)."""
    from accelerate import init_empty_weights
    from peft import get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_id, local_files_only=local)
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config)
    model.tie_weights()  # inside init_empty_weights the output layer stays untied from the embeddings
    base_total = sum(p.numel() for p in model.parameters())
    try:
        peft_model = get_peft_model(model, lora_config(cfg))  # the LoRA matrices follow the base layers: meta
    except ValueError as exc:
        raise InputError(f"target_modules {list(cfg.target_modules)} do not fit this model: {exc}") from exc
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    return {"base": int(base_total), "trainable": int(trainable)}


def sft_args(cfg: TrainConfig, plan: Any, out_dir: Path, has_val: bool) -> Any:
    from trl import SFTConfig

    prec = precision_for(plan)
    scheduler = cfg.lr_scheduler
    if scheduler == "constant" and cfg.warmup_ratio > 0:
        scheduler = "constant_with_warmup"
    return SFTConfig(
        output_dir=str(out_dir),
        per_device_train_batch_size=cfg.per_device_batch_size,
        per_device_eval_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        lr_scheduler_type=scheduler,
        # transformers 5 dropped `warmup_ratio`: a float below 1 in `warmup_steps` is that ratio.
        warmup_steps=cfg.warmup_ratio,
        logging_strategy="steps",
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=SAVE_TOTAL_LIMIT,
        save_only_model=False,  # the optimizer and scheduler state are what make resuming exact
        # (transformers 5 has no `save_safetensors` switch any more: weights are always saved as safetensors.)
        eval_strategy="steps" if has_val else "no",
        eval_steps=cfg.eval_steps if has_val else None,
        prediction_loss_only=True,  # evaluation needs the loss only: no logits are gathered
        include_num_input_tokens_seen="non_padding",
        seed=cfg.seed,
        data_seed=cfg.seed,
        # TRL defaults bf16=True (also on the CPU) and gradient checkpointing on: both are set explicitly.
        bf16=prec.bf16,
        fp16=prec.fp16,
        use_cpu=plan.device == "cpu",
        # transformers 5.23 renamed gradient_checkpointing to activation_checkpointing (the old name warns);
        # setting the new name also overrides TRL's default of True for the old one.
        activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=plan.device == "cuda",
        # The rows are tokenized and truncated here already (prompt side only), so TRL's keep_start truncation
        # never cuts; it still bounds packing.
        max_length=cfg.max_seq_length,
        packing=cfg.packing,
        completion_only_loss=True,  # labels from our completion_mask column: loss on the answer only
        dataset_num_proc=None,
        remove_unused_columns=True,
    )


def make_trainer(cfg: TrainConfig, model: Any, tokenizer: Any, train_rows: list[dict], val_rows: list[dict],
                 plan: Any, out_dir: Path, callbacks: Sequence[Any] = ()) -> Any:
    """The SFTTrainer for already tokenized rows (input_ids + completion_mask); LoRA is added by TRL."""
    from datasets import Dataset

    cls = _trainer_class()
    train_ds = Dataset.from_list(train_rows)
    val_ds = Dataset.from_list(val_rows) if val_rows else None
    trainer = cls(model=model, args=sft_args(cfg, plan, out_dir, val_ds is not None), train_dataset=train_ds,
                  eval_dataset=val_ds, processing_class=tokenizer, peft_config=lora_config(cfg),
                  callbacks=list(callbacks))
    trainer.fast_loss = cfg.fast_loss
    # With disable_tqdm the Trainer prints every log dict to stdout; progress goes through our callback instead.
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer


# --- the run folder --------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _differences(old: dict[str, Any], new: dict[str, Any], ignore: frozenset[str] = frozenset()) -> list[str]:
    return sorted(k for k in set(old) | set(new) if k not in ignore and old.get(k) != new.get(k))


def prepare_folder(folder: Path, cfg: TrainConfig, resume: bool) -> str | None:
    """Check what the adapter folder holds against this run; the checkpoint to resume from, or None.

    - resume and the same settings already finished → InputError (nothing to do);
    - resume with checkpoints trained with other settings (beyond length and reporting) → InputError;
    - resume=False → old checkpoints and log are removed (a finished adapter stays until the new one replaces it).
    """
    from transformers.trainer_utils import get_last_checkpoint

    ckpt_dir = folder / CHECKPOINTS
    new = cfg.to_dict()
    if not resume:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        (folder / LOG_NAME).unlink(missing_ok=True)
        return None
    prov = _read_json(folder / PROVENANCE)
    has_adapter = any((folder / f).is_file() for f in ADAPTER_FILES)
    if has_adapter and not prov:
        raise InputError(f"{folder} holds an adapter that was not trained here (it has no {PROVENANCE}). Choose "
                         "another output_name, or replace it by training without resuming (--no-resume).")
    finished = has_adapter and bool(prov)
    if finished and prov.get("config") == new:
        raise InputError(
            f"{folder} already holds the finished adapter of this run ({prov.get('results', {}).get('steps')} "
            "steps): there is nothing to resume. Raise max_steps or epochs to train it further, choose another "
            "output_name, or start it over without resuming (--no-resume).")
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if last is None:
        if finished:
            raise InputError(f"{folder} holds a finished adapter but no checkpoint to continue from. Choose another "
                             "output_name, or train it again from scratch without resuming (--no-resume).")
        return None
    old = _read_json(ckpt_dir / RUN_CONFIG)
    changed = _differences(old, new, RESUMABLE) if old else []
    if changed:
        raise InputError(
            f"The checkpoints in {ckpt_dir} were trained with other settings ({', '.join(changed)} differ). Resume "
            "with the same settings, choose another output_name, or start over without resuming (--no-resume).")
    return last


def _move_into(tmp: Path, folder: Path, names: Sequence[str]) -> None:
    for name in names:
        os.replace(tmp / name, folder / name)


# --- dry run ---------------------------------------------------------------------------------------------


def _steps_planned(cfg: TrainConfig, n_train: int) -> int:
    if cfg.max_steps > 0:
        return cfg.max_steps
    per_epoch = max(math.ceil(math.ceil(n_train / cfg.per_device_batch_size) / cfg.gradient_accumulation_steps), 1)
    return max(int(math.ceil(per_epoch * cfg.epochs)), 1)


def _memory_estimate(params: dict[str, int], model_cfg: Any, cfg: TrainConfig, prec: Precision, plan: Any,
                     longest: int, completion_per_batch: int) -> dict[str, float]:
    """Peak memory in GB from a formula (weights + LoRA optimiser state + activations + output layer)."""
    text = model_cfg.get_text_config()
    weight_bytes = {"none": 2 if prec.load_dtype == "bfloat16" else 4, "8bit": 1.1, "4bit": 0.6}[plan.quantization]
    act_bytes = 2 if (prec.bf16 or prec.fp16) else 4
    hidden = int(getattr(text, "hidden_size", 0))
    inter = int(getattr(text, "intermediate_size", 4 * hidden))
    layers = int(getattr(text, "num_hidden_layers", 0))
    vocab = int(getattr(text, "vocab_size", 0))
    tokens = cfg.per_device_batch_size * min(longest, cfg.max_seq_length)
    per_layer = tokens * (16 * hidden + 4 * inter) * act_bytes  # saved activations per decoder layer
    activations = per_layer * (1 if cfg.gradient_checkpointing else layers) + (
        tokens * hidden * act_bytes * layers if cfg.gradient_checkpointing else 0)
    out_tokens = completion_per_batch if cfg.fast_loss else tokens
    logits = out_tokens * vocab * 4 * 3  # fp32 logits, log-softmax and its gradient
    gb = {
        "weights": params["base"] * weight_bytes,
        "lora_and_optimizer": params["trainable"] * 16,  # fp32 weight, gradient and two Adam moments
        "activations": activations,
        "output_layer": logits,
    }
    out = {k: round(v / 1e9, 3) for k, v in gb.items()}
    out["total"] = round(sum(gb.values()) * 1.15 / 1e9, 3)  # allocator slack
    return out


def _measure_step(cfg: TrainConfig, model_id: str, local: bool, plan: Any, tokenizer: Any,
                  rows: list[dict]) -> dict[str, float]:
    """Seconds for forward+backward of the first micro-batches (the second one timed: the first warms up)."""
    import torch
    from peft import get_peft_model

    model = load_model(model_id, local, plan, cfg)
    model = get_peft_model(model, lora_config(cfg))
    if plan.quantization == "none":
        model.to(plan.device)
    model.train()
    prec = precision_for(plan)
    pad = tokenizer.pad_token_id
    batches = [rows[i:i + cfg.per_device_batch_size] for i in range(0, len(rows), cfg.per_device_batch_size)][:2]
    times, tokens, peak = [], [], 0.0
    for batch in batches:
        width = max(len(r["input_ids"]) for r in batch)
        ids = torch.tensor([r["input_ids"] + [pad] * (width - len(r["input_ids"])) for r in batch])
        mask = torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in batch])
        labels = torch.tensor([[t if m else -100 for t, m in zip(r["input_ids"], r["completion_mask"])]
                               + [-100] * (width - len(r["input_ids"])) for r in batch])
        inputs = {"input_ids": ids.to(plan.device), "attention_mask": mask.to(plan.device),
                  "labels": labels.to(plan.device)}
        dtype = torch.bfloat16 if prec.bf16 else torch.float16
        ctx = torch.autocast(plan.device, dtype=dtype) if (prec.bf16 or prec.fp16) else torch.autocast(
            "cpu", enabled=False)
        t = time.perf_counter()
        with ctx:
            if cfg.fast_loss:
                loss = completion_loss(model, inputs)[0]
            else:
                loss = model(**inputs, use_cache=False).loss
        loss.backward()
        if plan.device == "cuda":
            torch.cuda.synchronize()
            peak = max(peak, torch.cuda.max_memory_allocated() / 1e9)
        times.append(time.perf_counter() - t)
        tokens.append(int(mask.sum()))
        model.zero_grad(set_to_none=True)
    del model
    return {"seconds": times[-1], "tokens": tokens[-1], "peak_gb": round(peak, 3)}


def _dry_run(cfg: TrainConfig, folder: Path, model_id: str, local: bool, plan: Any, tokenizer: Any,
             train_rows: list[dict], val_rows: list[dict], tok_info: dict, examples_info: dict,
             stats: dict) -> TrainResult:
    from transformers import AutoConfig

    prec = precision_for(plan)
    params = count_parameters(model_id, local, cfg)
    model_cfg = AutoConfig.from_pretrained(model_id, local_files_only=local)
    steps = _steps_planned(cfg, len(train_rows))
    n = max(len(train_rows), 1)
    avg_tokens = sum(len(r["input_ids"]) for r in train_rows) / n
    avg_completion = sum(sum(r["completion_mask"]) for r in train_rows) / n
    memory = _memory_estimate(params, model_cfg, cfg, prec, plan, tok_info["longest"],
                              int(avg_completion * cfg.per_device_batch_size))
    micro_tokens = avg_tokens * cfg.per_device_batch_size
    step_tokens = micro_tokens * cfg.gradient_accumulation_steps
    estimate: dict[str, Any]
    if plan.device == "cuda" or params["base"] <= MEASURE_LIMIT_CPU:
        measured = _measure_step(cfg, model_id, local, plan, tokenizer, train_rows)
        per_token = measured["seconds"] / max(measured["tokens"], 1)
        estimate = {"method": "measured: one forward+backward micro-batch, scaled by tokens",
                    "seconds_per_step": round(per_token * step_tokens, 3),
                    "total_seconds": round(per_token * step_tokens * steps, 1),
                    "tokens_per_second": round(1 / per_token, 1) if per_token else None}
        if measured["peak_gb"]:
            memory["measured_peak_gb"] = measured["peak_gb"]
    else:
        # Heuristic: 6 FLOPs per parameter per token (forward + backward), the output layer on the answer
        # tokens only, at an assumed 50 GFLOP/s on the CPU. Only the order of magnitude is meaningful.
        text = model_cfg.get_text_config()
        out_layer = 6 * text.hidden_size * text.vocab_size * (avg_completion if cfg.fast_loss else avg_tokens)
        flops = (6 * params["base"] * avg_tokens + out_layer) * cfg.per_device_batch_size \
            * cfg.gradient_accumulation_steps
        estimate = {"method": "heuristic: 6 x parameters x tokens at an assumed 50 GFLOP/s (order of magnitude)",
                    "seconds_per_step": round(flops / 50e9, 1), "total_seconds": round(flops / 50e9 * steps)}
    metrics = {
        "dry_run": True, "adapter_folder": str(folder), "base_model": model_id, "device": plan.device,
        "precision": prec.label, "quantization": plan.quantization,
        "examples": examples_info, "tokens": tok_info,
        "val_sequences": len(val_rows), "steps_planned": steps,
        "parameters": params, "trainable_parameters": params["trainable"],
        "memory_gb_estimate": memory, "time_estimate": estimate, "dataset_stats": stats,
    }
    return TrainResult(folder=folder, metrics=metrics, steps=0, finished=False)


# --- the run ---------------------------------------------------------------------------------------------


def train(
    cfg: TrainConfig,
    *,
    adapters_dir: Path,
    examples: Sequence[Any] | None = None,
    progress: Progress | None = None,
    stop: Any = None,
    dry_run: bool = False,
    resume: bool = True,
    cache_dir: Path | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter as `cfg` says and save it to `adapters_dir/cfg.output_name`.

    `examples` replaces the config's data files / recipe. `progress` receives a dict (step, max_steps, loss,
    eval_loss, elapsed, eta, tokens) after every step and log; `stop` (anything with `is_set`) ends the run at
    the next step with a checkpoint, and the same call with `resume=True` continues it. `dry_run` reads the
    tokenizer and the data and estimates tokens, parameters, memory and time, writing nothing.
    """
    require("trl", "trl", "Fine-tuning")
    require("peft", "peft", "Fine-tuning")
    from ..backends.hf import plan_device

    started = _now()
    t_start = time.monotonic()
    adapters_dir = Path(adapters_dir)
    folder = adapters_dir / cfg.output_name
    plan = plan_device(cfg.device, cfg.quantization)
    prec = precision_for(plan)
    model_id, local = resolve_base(cfg.base_model, cache_dir)

    if examples is None:
        examples, source = load_training_examples(cfg)
    else:
        examples = list(examples)
        source = {"files": [], "recipe": None, "note": "examples passed in by the caller"}
    if not examples:
        raise InputError("There are no training examples.")
    ids = [str(e.id) for e in examples]
    if len(set(ids)) != len(ids):
        raise InputError("Example ids must be unique; some repeat.")
    leakage = check_leakage(examples, cfg.allow_leakage)
    train_part, val_part = split(examples, cfg)
    tokenizer = load_tokenizer(model_id, local)
    train_rows, tok_info = tokenize_records(tokenizer, to_records(train_part, cfg.prompt_style), cfg.max_seq_length)
    val_rows, val_info = tokenize_records(tokenizer, to_records(val_part, cfg.prompt_style), cfg.max_seq_length)
    if not train_rows:
        raise InputError(f"No training example fits in max_seq_length={cfg.max_seq_length} tokens "
                         "(their answers alone are longer): raise max_seq_length.")
    stats = _stats(train_part, val_part, tokenizer, cfg.stratify)
    examples_info = {"train": len(train_part), "val": len(val_part), "source": source}
    if dry_run:
        return _dry_run(cfg, folder, model_id, local, plan, tokenizer, train_rows, val_rows,
                        tok_info | {"val": val_info}, examples_info, stats)

    folder.mkdir(parents=True, exist_ok=True)
    last = prepare_folder(folder, cfg, resume)
    ckpt_dir = folder / CHECKPOINTS
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if last is None:
        atomic_write_text(ckpt_dir / RUN_CONFIG, json.dumps(cfg.to_dict(), indent=2) + "\n")
    log_path = folder / LOG_NAME
    if _stop_requested(stop):
        return TrainResult(folder=folder, metrics={"stopped": "stop"}, steps=0, finished=False)

    count_parameters(model_id, local, cfg)  # fails early, and clearly, on target_modules the model lacks
    model = load_model(model_id, local, plan, cfg)
    reporter = _reporter(log_path, progress, stop, cfg.target_loss)
    trainer = make_trainer(cfg, model, tokenizer, train_rows, val_rows, plan, ckpt_dir, [reporter])
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    # Resuming reads optimizer.pt, scheduler.pt and rng_state.pth: transformers 5.23 loads each of them with
    # torch.load(weights_only=True) (after check_torch_load_is_safe, torch >= 2.6), so no pickled code runs;
    # the adapter weights themselves are safetensors. (training_args.bin, a pickle the Trainer writes into each
    # checkpoint, is never read back.)
    try:
        output = trainer.train(resume_from_checkpoint=last)
    except (RuntimeError, ValueError) as exc:
        append_log(log_path, {"event": "error", "time": _now(), "error": str(exc)})
        raise BackendError(f"Training failed: {exc}") from exc
    state = trainer.state
    results = {
        "train_loss": reporter.loss,
        "eval_loss": reporter.eval_loss,
        "mean_train_loss_this_session": float(output.training_loss),
        "steps": int(state.global_step),
        "max_steps": int(state.max_steps),
        "epochs": float(state.epoch or 0.0),
        "tokens_seen": int(state.num_input_tokens_seen),
        "stopped_early": reporter.stopped or None,
        "resumed_from": Path(last).name if last else None,
        "runtime_s": round(time.monotonic() - t_start, 2),
    }
    if reporter.stopped == "stop":
        append_log(log_path, {"event": "stopped", "time": _now(), "step": state.global_step,
                              "checkpoint": str(ckpt_dir)})
        return TrainResult(folder=folder, metrics=results, steps=int(state.global_step), finished=False)

    from ..eval.runner import git_commit, versions

    provenance = {
        "format": 1,
        "adapter": cfg.output_name,
        "base_model": {"id": cfg.base_model or "gemma-3-270m (embedded, converted from the packaged GGUF)",
                       "path": model_id, "local": local, **hash_model(model_id, local),
                       "license": "Gemma Terms of Use (ai.google.dev/gemma/terms)"},
        "data": {**source, "examples": {"train": len(train_part), "val": len(val_part)},
                 "tokens": {"train": tok_info, "val": val_info}, "leakage": leakage},
        "config": cfg.to_dict(),
        "dataset_stats": stats,
        "versions": {**versions(), **_extra_versions()},
        "git_commit": git_commit(),
        "started": started,
        "finished": _now(),
        "device": {"device": plan.device, "precision": prec.label, "quantization": plan.quantization},
        "results": results,
        "trainable_parameters": int(trainable),
        "total_parameters": int(total),
        "fast_loss": cfg.fast_loss,
    }
    _save_adapter(trainer, folder, provenance, stats)
    append_log(log_path, {"event": "end", "time": _now(), "step": state.global_step, "folder": str(folder),
                          "train_loss": results["train_loss"], "eval_loss": results["eval_loss"]})
    return TrainResult(folder=folder, metrics=provenance["results"] | {"trainable_parameters": int(trainable)},
                       steps=int(state.global_step), finished=True)


def _extra_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("trl", "accelerate", "datasets", "bitsandbytes"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _save_adapter(trainer: Any, folder: Path, provenance: dict[str, Any], stats: dict[str, Any]) -> None:
    """Write everything into a temporary folder beside the adapter, then move the files in, weights last."""
    from .card import adapter_card

    tmp = Path(tempfile.mkdtemp(prefix=".final-", dir=folder))
    try:
        trainer.model.save_pretrained(str(tmp), safe_serialization=True)
        missing = [f for f in ADAPTER_FILES if not (tmp / f).is_file()]
        if missing:
            raise BackendError(f"Saving the adapter produced no {', '.join(missing)}.")
        _write_stats(tmp / STATS_NAME, stats)
        (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=2, default=str) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(adapter_card(provenance), encoding="utf-8")  # replaces PEFT's draft card
        _move_into(tmp, folder, ["README.md", STATS_NAME, PROVENANCE, "adapter_model.safetensors",
                                 "adapter_config.json"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

