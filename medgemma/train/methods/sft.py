"""Supervised fine-tuning with the answer-only loss (`loss.py`), on TRL's SFTTrainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..config import TrainConfig
from ..loss import trainer_class
from ..records import to_records, tokenize_records
from .common import finish, trainer_args


def rows(cfg: TrainConfig, tokenizer: Any, examples: Sequence[Any], end: str) -> tuple[list[dict], dict]:
    """Token ids with a completion mask (`records.tokenize_records`), and what tokenizing them found."""
    return tokenize_records(tokenizer, to_records(examples, cfg.prompt_style, end), cfg.max_seq_length)


def sft_args(cfg: TrainConfig, plan: Any, out_dir: Path, has_val: bool) -> Any:
    """The SFTConfig for `cfg` on `plan`'s device."""
    from trl import SFTConfig

    return SFTConfig(
        **trainer_args(cfg, plan, out_dir, has_val),
        # The rows are tokenized and truncated already (prompt side only), so TRL's keep_start truncation never
        # cuts; it still bounds packing.
        max_length=cfg.max_seq_length,
        packing=cfg.packing,
        completion_only_loss=True,  # labels from our completion_mask column: loss on the answer only
        remove_unused_columns=True,
        dataset_num_proc=None,
    )


def make_trainer(cfg: TrainConfig, model: Any, tokenizer: Any, train_rows: list[dict], val_rows: list[dict],
                 plan: Any, out_dir: Path, callbacks: Sequence[Any] = (), peft_config: Any = None,
                 ref_model: Any = None, cls: type | None = None) -> Any:
    """The SFTTrainer (or `cls`, a subclass) for tokenized rows; LoRA is added by TRL from `peft_config` (None
    when `model` already carries the adapter to train). SFT has no reference model."""
    from datasets import Dataset

    cls = cls or trainer_class()
    val_ds = Dataset.from_list(val_rows) if val_rows else None
    trainer = cls(model=model, args=sft_args(cfg, plan, out_dir, val_ds is not None),
                  train_dataset=Dataset.from_list(train_rows), eval_dataset=val_ds, processing_class=tokenizer,
                  peft_config=peft_config, callbacks=list(callbacks))
    trainer.fast_loss = cfg.fast_loss
    return finish(trainer)
