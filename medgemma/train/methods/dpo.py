"""Direct preference optimisation on TRL's DPOTrainer: raise the chosen answer's likelihood over the rejected
one's, relative to a frozen reference (`beta` sets how close to it the model stays).

Rows are text (the prompt rendered as the backends render it, each answer closed by the end marker); TRL
tokenizes them. Pairs come from preference files (`prompt`, `chosen`, `rejected`) or the grounded-pairs recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ...errors import InputError
from ...prompts import render
from ..config import TrainConfig
from .common import finish, trainer_args


def rows(cfg: TrainConfig, tokenizer: Any, examples: Sequence[Any], end: str) -> tuple[list[dict], dict]:
    """{prompt, chosen, rejected} text rows, and their token counts."""
    out, tokens = [], 0
    for ex in examples:
        rejected = str(getattr(ex, "rejected", "") or "").strip()
        if not rejected:
            raise InputError(f"Example {ex.id!r} has no rejected answer: method 'dpo' trains on preference "
                             "pairs (fields prompt, chosen and rejected, or the grounded-pairs recipe).")
        row = {"prompt": render(list(ex.messages), cfg.prompt_style), "chosen": str(ex.answer).strip() + end,
               "rejected": rejected + end}
        out.append(row)
        tokens += sum(len(tokenizer(row[k], add_special_tokens=False)["input_ids"]) for k in row)
    return out, {"sequences": len(out), "total_tokens": tokens, "longest": 0}


def make_trainer(cfg: TrainConfig, model: Any, tokenizer: Any, train_rows: list[dict], val_rows: list[dict],
                 plan: Any, out_dir: Path, callbacks: Sequence[Any] = (), peft_config: Any = None,
                 ref_model: Any = None) -> Any:
    """The DPOTrainer. Without `ref_model`, the reference is the model with its LoRA switched off."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**trainer_args(cfg, plan, out_dir, bool(val_rows)), beta=cfg.beta,
                     max_length=cfg.max_seq_length)
    trainer = DPOTrainer(model=model, ref_model=ref_model, args=args, train_dataset=Dataset.from_list(train_rows),
                         eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
                         processing_class=tokenizer, peft_config=peft_config, callbacks=list(callbacks))
    return finish(trainer)
