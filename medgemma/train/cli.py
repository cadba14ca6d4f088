"""`python -m medgemma train [CONFIG.yaml] [--flag value ...]`: fine-tune a LoRA adapter from the terminal.

Every TrainConfig field has a flag (`--lora-r 8`, `--data a.jsonl b.jsonl`, `--packing/--no-packing`,
`--recipe-arg n=500`); flags override the YAML file, which overrides the defaults. Ctrl-C once stops at the
next step with a checkpoint (run the same command again to resume); twice aborts at once.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from ..config import field_help
from .config import TrainConfig

FIELD_CHOICES = {
    "quantization": ["none", "4bit", "8bit"],
    "device": ["auto", "cpu", "cuda", "mps"],
    "lr_scheduler": ["linear", "cosine", "constant"],
    "answer_end": ["eos", "end_of_turn"],
    "prompt_style": ["chat", "document", "fewshot"],
}


def _recipe_arg(text: str) -> tuple[str, Any]:
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--recipe-arg wants KEY=VALUE, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _optional_float(text: str) -> float | None:
    if text.strip().lower() in ("", "none", "off", "null"):
        return None
    return float(text)


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `train` command to an argparse subparsers object; returns its parser."""
    helps = field_help(TrainConfig)
    p = subparsers.add_parser(
        "train", help="Fine-tune a LoRA adapter (TRL) and save it under adapters/.",
        description="Fine-tune a LoRA adapter on question-answer examples. Settings come from the optional YAML "
                    "file, then from these flags.")
    p.add_argument("config", nargs="?", help="YAML file of training settings (keys are the flag names with '_').")
    group = p.add_argument_group("training settings (override the YAML file)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = str(f.type)
        default_text = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory
                                                                   is not MISSING else None)
        text = f"{helps[f.name]} (default: {default_text!r})".replace("%", "%%")
        if f.name == "recipe_args":
            group.add_argument("--recipe-arg", dest="recipe_args", action="append", type=_recipe_arg,
                               metavar="KEY=VALUE", default=None,
                               help=helps[f.name].replace("%", "%%") + " Repeat for each setting.")
        elif kind == "bool":
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif kind.startswith("tuple"):
            group.add_argument(flag, dest=f.name, nargs="+", default=None, metavar="VALUE", help=text)
        elif kind == "float | None":
            group.add_argument(flag, dest=f.name, type=_optional_float, default=None, help=text)
        else:
            conv = {"int": int, "float": float}.get(kind, str)
            group.add_argument(flag, dest=f.name, type=conv, default=None, choices=FIELD_CHOICES.get(f.name),
                               help=text)
    p.add_argument("--adapters-dir", dest="adapters_dir", help="Folder holding adapters (default: adapters/ or "
                   "$MEDGEMMA_ADAPTERS_DIR).")
    p.add_argument("--cache-dir", dest="cache_dir", help="Where the converted default model is cached.")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="Load the tokenizer and data, estimate tokens, parameters, memory and time; train nothing.")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="Start over, discarding the checkpoints of an earlier run with this output name.")
    p.set_defaults(func=cmd_train, resume=True)
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The YAML file (if any) with the flags that were given laid over it."""
    base = TrainConfig.from_yaml(args.config) if getattr(args, "config", None) else TrainConfig()
    values = base.to_dict()
    for f in fields(TrainConfig):
        given = getattr(args, f.name, None)
        if given is None:
            continue
        if f.name == "recipe_args":
            given = {**values.get("recipe_args", {}), **dict(given)}
        values[f.name] = given
    return TrainConfig.from_dict(values, where="the training settings")


def _print_dry_run(m: dict[str, Any]) -> None:
    tok = m["tokens"]
    est = m["time_estimate"]
    mem = m["memory_gb_estimate"]
    print(f"Dry run for {m['adapter_folder']} (nothing trained, nothing written)")
    print(f"  base model        {m['base_model']} on {m['device']} ({m['precision']})")
    print(f"  examples          {m['examples']['train']} train, {m['examples']['val']} validation")
    print(f"  tokens (train)    prompt {tok['prompt_tokens']:,}, completion {tok['completion_tokens']:,}, "
          f"total {tok['total_tokens']:,}; longest {tok['longest']}")
    print(f"  truncated         {tok['truncated_prompts']} prompts shortened, {tok['dropped_too_long']} examples "
          "dropped (answer longer than max_seq_length)")
    params = m["parameters"]
    print(f"  parameters        {params['trainable']:,} trainable of {params['base'] + params['trainable']:,} "
          f"({100 * params['trainable'] / max(params['base'], 1):.2f}%)")
    print(f"  steps planned     {m['steps_planned']}")
    parts = json.dumps({k: v for k, v in mem.items() if k != "total"})
    print(f"  memory (GB)       ~{mem['total']} (heuristic: {parts})")
    print(f"  time              ~{est['total_seconds']} s, {est['seconds_per_step']} s/step ({est['method']})")


def _quiet_library_bars() -> None:
    """Only our bar on the terminal: datasets' per-map bars and transformers' weight-loading bar are hidden."""
    try:
        from datasets.utils.logging import disable_progress_bar
        from transformers.utils import logging as hf_logging

        disable_progress_bar()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def cmd_train(args: argparse.Namespace) -> int:
    """Run (or dry-run) one training from parsed arguments; 0 when finished, 1 when stopped early."""
    from tqdm import tqdm

    from ..config import AppConfig
    from .trainer import train

    cfg = config_from_args(args)
    app = AppConfig.from_env()
    _quiet_library_bars()
    adapters_dir = Path(args.adapters_dir) if getattr(args, "adapters_dir", None) else app.adapters_dir
    cache_dir = Path(args.cache_dir) if getattr(args, "cache_dir", None) else app.cache_dir
    if getattr(args, "dry_run", False):
        result = train(cfg, adapters_dir=adapters_dir, cache_dir=cache_dir, dry_run=True)
        _print_dry_run(result.metrics)
        return 0

    stop = threading.Event()
    bar = tqdm(total=None, unit="step", desc=cfg.output_name, dynamic_ncols=True)

    def progress(info: dict[str, Any]) -> None:
        if info.get("max_steps"):
            bar.total = info["max_steps"]
        bar.n = info.get("step", 0)
        post = {}
        if info.get("loss") is not None:
            post["loss"] = f"{info['loss']:.4f}"
        if info.get("eval_loss") is not None:
            post["eval"] = f"{info['eval_loss']:.4f}"
        bar.set_postfix(post, refresh=False)
        bar.refresh()

    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum: int, frame: Any) -> None:
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()
            bar.write("Stopping after this step (a checkpoint is saved); Ctrl-C again to abort now.")

        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = train(cfg, adapters_dir=adapters_dir, cache_dir=cache_dir, progress=progress, stop=stop,
                       resume=getattr(args, "resume", True))
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    m = result.metrics
    if not result.finished:
        print(f"Stopped at step {result.steps}; the checkpoint is in {result.folder / 'checkpoints'}. Run the same "
              "command again to resume.", file=sys.stderr)
        return 1
    print(f"Adapter saved in {result.folder} after {result.steps} steps: train loss {m.get('train_loss')}, "
          f"validation loss {m.get('eval_loss')}" + (f" (stopped early: {m['stopped_early']})"
                                                     if m.get("stopped_early") else ""))
    return 0
