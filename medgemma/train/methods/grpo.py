"""Group relative policy optimisation on TRL's GRPOTrainer, with the verifiable grounded reward (`rewards.py`).

Each step samples `num_generations` answers per question and moves the model toward the ones the answer check
would keep: supported sentences citing the passage that says them, "not covered" when no passage does, and no
doses. Sampling dominates the cost, so this is a GPU path; on a CPU it runs for tiny models (the tests).
Rows carry each question's passage texts and whether its sources cover it (the grounded recipe records both).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ...errors import InputError
from ...prompts import render
from ..config import TrainConfig
from ..rewards import reward_function
from .common import finish, trainer_args


def rows(cfg: TrainConfig, tokenizer: Any, examples: Sequence[Any], end: str) -> tuple[list[dict], dict]:
    """{prompt, passages, covered} rows; only the prompt is tokenized, by TRL."""
    out, tokens = [], 0
    for ex in examples:
        try:
            shown = json.loads(ex.meta.get("passages", ""))
        except ValueError:
            shown = None
        if not isinstance(shown, list) or ex.meta.get("grounded") not in ("answer", "no_answer"):
            raise InputError(f"Example {ex.id!r} has no passages to check answers against: method 'grpo' trains "
                             "on grounded examples (the grounded recipe).")
        prompt = render(list(ex.messages), cfg.prompt_style)
        out.append({"prompt": prompt, "passages": [str(p.get("text", "")) for p in shown],
                    "covered": ex.meta["grounded"] == "answer"})
        tokens += len(tokenizer(prompt)["input_ids"])
    return out, {"sequences": len(out), "total_tokens": tokens, "longest": 0}


def make_trainer(cfg: TrainConfig, model: Any, tokenizer: Any, train_rows: list[dict], val_rows: list[dict],
                 plan: Any, out_dir: Path, callbacks: Sequence[Any] = (), peft_config: Any = None,
                 ref_model: Any = None) -> Any:
    """The GRPOTrainer. Its KL reference (beta > 0) is the model with its LoRA switched off; TRL builds it."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    if cfg.per_device_batch_size % cfg.num_generations:
        raise InputError(f"per_device_batch_size ({cfg.per_device_batch_size}) must be a multiple of "
                         f"num_generations ({cfg.num_generations}): each batch holds whole groups of answers.")
    args = GRPOConfig(**trainer_args(cfg, plan, out_dir, bool(val_rows)), beta=cfg.beta,
                      num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
                      remove_unused_columns=False)
    trainer = GRPOTrainer(model=model, reward_funcs=[reward_function], args=args,
                          train_dataset=Dataset.from_list(train_rows),
                          eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
                          processing_class=tokenizer, peft_config=peft_config, callbacks=list(callbacks))
    return finish(trainer)
