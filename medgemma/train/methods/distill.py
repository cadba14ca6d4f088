"""Logit distillation: the student (base + LoRA) learns the teacher's next-token distributions at the answer
positions, mixed with the usual answer loss: loss = kd_alpha * T^2 * KL(teacher_T || student_T)
+ (1 - kd_alpha) * CE, with T = kd_temperature (Hinton et al., 2015).

Offline: the answers are the training data's, scored by both models; nothing is sampled. The teacher is any
causal LM the hf backend loads with the student's vocabulary (e.g. MedGemma 4B on a GPU for the 270M); it
runs in inference mode in the training precision. Rows and the trainer are the SFT method's.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Sequence

from ...errors import InputError
from ..config import TrainConfig
from ..loss import answer_logits, trainer_class
from . import sft

rows = sft.rows


def kd_loss(student: Any, teacher: Any, temperature: float) -> Any:
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)), averaged over positions."""
    import torch.nn.functional as F

    t = temperature
    return F.kl_div(F.log_softmax(student / t, dim=-1), F.log_softmax(teacher / t, dim=-1), log_target=True,
                    reduction="batchmean") * t * t


@functools.cache
def distill_class() -> type:
    """The SFT trainer whose loss adds the teacher's KL (built on first use: importing trl takes seconds)."""
    import torch
    import torch.nn.functional as F

    class DistillTrainer(trainer_class()):  # type: ignore[misc, valid-type]
        teacher: Any = None
        temperature = 2.0
        alpha = 0.5

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
            logits, targets = answer_logits(model, inputs)
            with torch.no_grad():
                teacher_logits, _ = answer_logits(self.teacher, inputs)
            kd = kd_loss(logits, teacher_logits, self.temperature)
            ce = F.cross_entropy(logits, targets)
            mode = "train" if model.training else "eval"
            self._metrics[mode]["kd_kl"].append(float(kd.detach()))
            loss = self.alpha * kd + (1 - self.alpha) * ce
            return (loss, None) if return_outputs else loss

    return DistillTrainer


def load_teacher(cfg: TrainConfig, plan: Any, student: Any) -> Any:
    """The teacher in inference mode on the student's device; it must share the student's vocabulary."""
    from ..model import load_model, resolve_base

    teacher_id, local = resolve_base(cfg.teacher_model)
    teacher = load_model(teacher_id, local, plan, cfg)
    ours = student.config.get_text_config().vocab_size
    theirs = teacher.config.get_text_config().vocab_size
    if ours != theirs:
        raise InputError(f"The teacher {cfg.teacher_model} has a vocabulary of {theirs} tokens and the student "
                         f"{ours}: distillation needs the same tokenizer.")
    if plan.quantization == "none":
        teacher.to(plan.device)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def make_trainer(cfg: TrainConfig, model: Any, tokenizer: Any, train_rows: list[dict], val_rows: list[dict],
                 plan: Any, out_dir: Path, callbacks: Sequence[Any] = (), peft_config: Any = None,
                 ref_model: Any = None) -> Any:
    """The SFT trainer with the teacher's KL in its loss."""
    trainer = sft.make_trainer(cfg, model, tokenizer, train_rows, val_rows, plan, out_dir, callbacks,
                               peft_config=peft_config, cls=distill_class())
    trainer.teacher = load_teacher(cfg, plan, model)
    trainer.temperature, trainer.alpha = cfg.kd_temperature, cfg.kd_alpha
    return trainer
