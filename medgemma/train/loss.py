"""The answer-only loss, and the SFTTrainer subclass that uses it.

Speed: the output layer of Gemma 3 has 262,144 rows, and on a CPU projecting every position through it costs
more than the rest of the network. The loss needs only the answer positions, so by default the trainer asks the
model for logits there only (`logits_to_keep` with a boolean mask, transformers >= 5.x); the loss is the same
number (tested to 1e-5). TRL 1.16's own fused LM head projects only the labelled positions on CUDA/XPU (Triton)
but every position elsewhere; `fast_loss=False` uses it, for comparison.

torch and trl are imported inside the functions.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any


def completion_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> tuple[Any, Any, Any]:
    """Next-token cross-entropy over the labelled positions, projecting only those through the output layer.

    Returns (loss, labelled tokens, correctly predicted tokens). The loss is the sum over labelled tokens divided
    by `num_items_in_batch` when given (the Trainer's count over the whole accumulated batch), else by their
    count: the same reduction as TRL's SFTTrainer and as the model's own loss.
    """
    import torch
    import torch.nn.functional as F

    logits, targets = answer_logits(model, inputs)
    loss_sum = F.cross_entropy(logits, targets, reduction="sum")
    count = targets.numel()
    denom = num_items_in_batch if num_items_in_batch is not None else count
    loss = loss_sum / torch.as_tensor(denom, device=loss_sum.device).clamp(min=1)
    with torch.no_grad():
        correct = (logits.argmax(dim=-1) == targets).sum()
    return loss, torch.tensor(count, device=loss.device), correct


def answer_logits(model: Any, inputs: dict[str, Any]) -> tuple[Any, Any]:
    """(fp32 logits at the labelled positions, their target tokens), flattened in the same row-major order; only
    those positions go through the output layer when the model takes `logits_to_keep`."""
    import torch

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
    return logits.float(), targets_all[wanted].to(logits.device)


def _takes_logits_to_keep(model: Any) -> bool:
    base = getattr(model, "module", model)  # accelerate / DDP wrapper
    if hasattr(base, "get_base_model"):  # PEFT wrapper; TRL's patched forward keeps the original signature
        base = base.get_base_model()
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


@functools.cache
def trainer_class() -> type:
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
