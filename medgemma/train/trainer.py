"""LoRA fine-tuning of a Gemma model: the run itself, the same for every method (`methods`: SFT, DPO, GRPO,
distillation), which only says how examples become rows and which TRL trainer trains on them.

The run lives in `adapters/<output_name>/`:

- `checkpoints/` — Trainer checkpoints every `save_steps` (the last two are kept), so a stopped run resumes;
- `train_log.jsonl` — one JSON line per log event (`progress`; the UI tails it, so a page reload loses nothing);
- at the end, each moved in by an atomic rename: `adapter_model.safetensors`, `adapter_config.json`, `provenance.json`
  (`provenance`), `dataset_stats.json` and a `README.md` adapter card.

This module holds `train()`, the rules for resuming a run folder, and training on from an adapter
(`init_adapter`). The base model and its precision are in `model`, the dry-run estimates in `dry_run`. torch,
transformers, peft, trl and datasets are imported inside the functions so `import medgemma` stays fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..files import atomic_folder, atomic_write_text
from ..errors import BackendError, InputError, require
from ..prompts import TURN_END
from .config import TrainConfig
from .data import dataset_stats, split_examples, write_stats
from .dry_run import estimate as dry_run_estimate
from .methods import method
from .model import count_parameters, load_model, load_tokenizer, lora_config, precision_for, resolve_base
from .progress import LOG_NAME, Progress, append_log, now, reporter, stop_requested

from .provenance import build_provenance, check_leakage
from .recipes import load_training_examples

CHECKPOINTS = "checkpoints"
RUN_CONFIG = "run_config.json"  # in checkpoints/: the settings the checkpoints were trained with
PROVENANCE = "provenance.json"
STATS_NAME = "dataset_stats.json"
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
# Settings that may change when a run is resumed: how long it trains and how often it reports.
RESUMABLE = frozenset({"max_steps", "epochs", "save_steps", "eval_steps", "logging_steps", "target_loss"})


@dataclass(frozen=True)
class TrainResult:
    """Where the adapter is (or will be), what the run measured, how far it got and whether it finished.

    A run stopped by the caller is not finished: its last checkpoint is kept and the same settings resume it.
    A dry run returns its estimates in `metrics` and `finished=False`."""

    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    finished: bool = False


def split(examples: Sequence[Any], cfg: TrainConfig) -> tuple[list[Any], list[Any]]:
    """Training and validation examples (`data.split_examples`); all of them train when val_fraction is 0."""
    if cfg.val_fraction <= 0:
        return list(examples), []
    train_part, val_part = split_examples(list(examples), val_fraction=cfg.val_fraction, stratify=cfg.stratify,
                                          seed=cfg.seed)
    return list(train_part), list(val_part)


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
    last = last_complete_checkpoint(ckpt_dir)
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


def last_complete_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest checkpoint that was written to the end, or None. A process killed while saving leaves a
    checkpoint folder without `trainer_state.json` (the Trainer writes it last): such folders are removed."""
    if not ckpt_dir.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in ckpt_dir.iterdir()
                   if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name)))
    for _, path in reversed(found):
        if (path / "trainer_state.json").is_file() and (path / "adapter_model.safetensors").is_file():
            return str(path)
        shutil.rmtree(path, ignore_errors=True)  # torn by a crash; the run redoes those steps
    return None


def start_adapter(cfg: TrainConfig, adapters_dir: Path) -> Path | None:
    """The adapter folder `cfg.init_adapter` names (a path, or a name under `adapters_dir`), or None."""
    if not cfg.init_adapter:
        return None
    given = Path(cfg.init_adapter).expanduser()
    folder = given if given.is_dir() else Path(adapters_dir) / cfg.init_adapter
    if not (folder / "adapter_config.json").is_file() or not (folder / ADAPTER_FILES[0]).is_file():
        raise InputError(f"init_adapter {cfg.init_adapter!r}: {folder} holds no trained adapter "
                         f"({', '.join(ADAPTER_FILES)}).")
    if folder.resolve() == (Path(adapters_dir) / cfg.output_name).resolve():
        raise InputError("init_adapter and output_name are the same folder: the run would overwrite where it "
                         "starts from. Choose another output_name.")
    return folder


def with_adapter(model: Any, folder: Path, trainable: bool) -> Any:
    """`model` with the LoRA adapter in `folder` (safetensors) loaded, trainable or frozen."""
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, str(folder), is_trainable=trainable)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"The adapter in {folder} does not fit this base model: {exc}") from exc


def answer_end(tokenizer: Any, choice: str) -> str:
    """The text that closes each answer: the tokenizer's end-of-text token, or Gemma's end-of-turn marker."""
    if choice == "end_of_turn":
        return TURN_END
    if not tokenizer.eos_token:
        raise InputError("The tokenizer has no end-of-text token; use answer_end='end_of_turn'.")
    return str(tokenizer.eos_token)


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

    started = now()
    t_start = time.monotonic()
    adapters_dir = Path(adapters_dir)
    folder = adapters_dir / cfg.output_name
    plan = plan_device(cfg.device, cfg.quantization)
    prec = precision_for(plan, cfg.precision)
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
    end = answer_end(tokenizer, cfg.answer_end)
    how = method(cfg.method)
    start = start_adapter(cfg, adapters_dir)
    train_rows, tok_info = how.rows(cfg, tokenizer, train_part, end)
    val_rows, val_info = how.rows(cfg, tokenizer, val_part, end)
    if not train_rows:
        raise InputError(f"No training example fits in max_seq_length={cfg.max_seq_length} tokens "
                         "(their answers alone are longer): raise max_seq_length.")
    stats = dataset_stats(train_part, val_part, tokenizer, stratify=cfg.stratify)
    examples_info = {"train": len(train_part), "val": len(val_part), "source": source}
    if dry_run:
        if cfg.method != "sft":
            raise InputError("The dry run estimates SFT runs only; run the method itself for a few steps instead.")
        metrics = dry_run_estimate(cfg, folder, model_id, local, plan, tokenizer, train_rows, val_rows,
                                   tok_info | {"val": val_info}, examples_info, stats)
        return TrainResult(folder=folder, metrics=metrics, steps=0, finished=False)

    folder.mkdir(parents=True, exist_ok=True)
    last = prepare_folder(folder, cfg, resume)
    ckpt_dir = folder / CHECKPOINTS
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if last is None:
        atomic_write_text(ckpt_dir / RUN_CONFIG, json.dumps(cfg.to_dict(), indent=2) + "\n")
    log_path = folder / LOG_NAME
    if stop_requested(stop):
        return TrainResult(folder=folder, metrics={"stopped_early": "stop"}, steps=0, finished=False)

    model = load_model(model_id, local, plan, cfg)
    peft_config, ref_model = None, None
    if start is None:
        count_parameters(model_id, local, cfg)  # fails early, and clearly, on target_modules the model lacks
        peft_config = lora_config(cfg)
    else:
        model = with_adapter(model, start, trainable=True)
        if cfg.method == "dpo":  # the reference is where this run starts: base + the starting adapter
            ref_model = with_adapter(load_model(model_id, local, plan, cfg), start, trainable=False).merge_and_unload()
    callback = reporter(log_path, progress, stop, cfg.target_loss)
    trainer = how.make_trainer(cfg, model, tokenizer, train_rows, val_rows, plan, ckpt_dir, [callback],
                               peft_config=peft_config, ref_model=ref_model)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    # Resuming reads optimizer.pt, scheduler.pt and rng_state.pth: transformers 5.23 loads each of them with
    # torch.load(weights_only=True) (after check_torch_load_is_safe, torch >= 2.6), so no pickled code runs;
    # the adapter weights themselves are safetensors. (training_args.bin, a pickle the Trainer writes into each
    # checkpoint, is never read back.)
    session_loss: float | None = None
    if last is not None and 0 < cfg.max_steps <= _checkpoint_step(last):
        # The checkpoint already holds max_steps steps (a run stopped at its last step, or resumed with a lower
        # max_steps): it is the result. Trainer.train would run one more step before checking the limit.
        _load_checkpoint(trainer, Path(last), callback)
    else:
        try:
            session_loss = float(trainer.train(resume_from_checkpoint=last).training_loss)
        except (RuntimeError, ValueError) as exc:
            append_log(log_path, {"event": "error", "time": now(), "error": str(exc)})
            raise BackendError(f"Training failed: {exc}") from exc
    state = trainer.state
    results = {
        "train_loss": callback.loss,
        "eval_loss": callback.eval_loss,
        "mean_train_loss_this_session": session_loss,
        "steps": int(state.global_step),
        "max_steps": int(state.max_steps),
        "epochs": float(state.epoch or 0.0),
        "tokens_seen": int(state.num_input_tokens_seen),
        "stopped_early": callback.stopped or None,
        "resumed_from": Path(last).name if last else None,
        "runtime_s": round(time.monotonic() - t_start, 2),
    }
    if callback.stopped == "stop":
        append_log(log_path, {"event": "stopped", "time": now(), "step": state.global_step,
                              "checkpoint": str(ckpt_dir)})
        return TrainResult(folder=folder, metrics=results, steps=int(state.global_step), finished=False)

    provenance = build_provenance(
        cfg, model_id=model_id, local=local, source=source,
        examples={"train": len(train_part), "val": len(val_part)}, tokens={"train": tok_info, "val": val_info},
        leakage=leakage, stats=stats, started=started,
        device={"device": plan.device, "precision": prec.label, "quantization": plan.quantization},
        results=results, trainable=trainable, total=total)
    _save_adapter(trainer, folder, provenance, stats)
    append_log(log_path, {"event": "end", "time": now(), "step": state.global_step, "folder": str(folder),
                          "train_loss": results["train_loss"], "eval_loss": results["eval_loss"]})
    return TrainResult(folder=folder, metrics=provenance["results"] | {"trainable_parameters": int(trainable)},
                       steps=int(state.global_step), finished=True)


def _checkpoint_step(path: str) -> int:
    """The step of a `checkpoint-N` folder."""
    return int(Path(path).name.rsplit("-", 1)[-1])


def _load_checkpoint(trainer: Any, folder: Path, callback: Any) -> None:
    """Put a checkpoint's adapter weights and trainer state into `trainer` without training."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import TrainerState

    set_peft_model_state_dict(trainer.model, load_file(str(folder / "adapter_model.safetensors")))
    trainer.state = TrainerState.load_from_json(str(folder / "trainer_state.json"))
    history = trainer.state.log_history
    callback.loss = next((h["loss"] for h in reversed(history) if "loss" in h), callback.loss)
    callback.eval_loss = next((h["eval_loss"] for h in reversed(history) if "eval_loss" in h), callback.eval_loss)


def _save_adapter(trainer: Any, folder: Path, provenance: dict[str, Any], stats: dict[str, Any]) -> None:
    """Build the finished adapter folder beside the run folder, carry the run's logs and checkpoints over, and
    swap it in at once: a reader sees the old run or the finished adapter, never a mix."""
    from .card import adapter_card

    with atomic_folder(folder) as tmp:
        trainer.model.save_pretrained(str(tmp), safe_serialization=True)
        missing = [f for f in ADAPTER_FILES if not (tmp / f).is_file()]
        if missing:
            raise BackendError(f"Saving the adapter produced no {', '.join(missing)}.")
        write_stats(tmp / STATS_NAME, stats)
        (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=2, default=str) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(adapter_card(provenance), encoding="utf-8")  # replaces PEFT's draft card
        for entry in folder.iterdir():  # the log, progress and checkpoints of this run (renames, no copies)
            if not (tmp / entry.name).exists():
                os.replace(entry, tmp / entry.name)
