"""The Trainer settings every method shares: schedule, checkpoints, logging, evaluation, precision, device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..model import precision_for


def trainer_args(cfg: TrainConfig, plan: Any, out_dir: Path, has_val: bool) -> dict[str, Any]:
    """Keyword arguments for any TRL config class (SFTConfig, DPOConfig, GRPOConfig)."""
    prec = precision_for(plan, cfg.precision)
    scheduler = cfg.lr_scheduler
    if scheduler == "constant" and cfg.warmup_ratio > 0:
        scheduler = "constant_with_warmup"
    return dict(
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
        save_total_limit=2,  # the last two checkpoints: one may be torn by a crash while saving
        save_only_model=False,  # the optimizer and scheduler state are what make resuming exact
        eval_strategy="steps" if has_val else "no",
        eval_steps=cfg.eval_steps if has_val else None,
        prediction_loss_only=True,
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
    )


def finish(trainer: Any) -> Any:
    """Drop the Trainer's stdout printer: with disable_tqdm it prints every log dict; progress goes through
    the run's own callback instead."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer
