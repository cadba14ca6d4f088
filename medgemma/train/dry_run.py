"""The dry run: what a training run would take, estimated from the tokenizer, the data and the model's config.

Reports token counts, total and trainable parameters (counted on the meta device), peak memory from a formula
and the time per step: measured on one micro-batch when the model is small enough (or on a GPU), else a FLOP
heuristic. Writes nothing; the run folder is not touched.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .loss import completion_loss
from .model import Precision, count_parameters, load_model, lora_config, precision_for

# Above this many parameters a dry run on the CPU estimates the time from a formula instead of measuring a step.
MEASURE_LIMIT_CPU = 1.5e9


def steps_planned(cfg: TrainConfig, n_train: int) -> int:
    """Optimizer steps the run will take: max_steps when set, else its epochs over `n_train` rows."""
    if cfg.max_steps > 0:
        return cfg.max_steps
    per_epoch = max(math.ceil(math.ceil(n_train / cfg.per_device_batch_size) / cfg.gradient_accumulation_steps), 1)
    return max(int(math.ceil(per_epoch * cfg.epochs)), 1)


def memory_estimate(params: dict[str, int], model_cfg: Any, cfg: TrainConfig, prec: Precision, plan: Any,
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


def measure_step(cfg: TrainConfig, model_id: str, local: bool, plan: Any, tokenizer: Any,
                 rows: list[dict]) -> dict[str, float]:
    """Seconds for forward+backward of the first micro-batches (the second one timed: the first warms up)."""
    import torch
    from peft import get_peft_model

    model = load_model(model_id, local, plan, cfg)
    model = get_peft_model(model, lora_config(cfg))
    if plan.quantization == "none":
        model.to(plan.device)
    model.train()
    prec = precision_for(plan, cfg.precision)
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


def estimate(cfg: TrainConfig, folder: Path, model_id: str, local: bool, plan: Any, tokenizer: Any,
             train_rows: list[dict], val_rows: list[dict], tok_info: dict, examples_info: dict,
             stats: dict) -> dict[str, Any]:
    """The dry run's report: the run's settings, tokens, parameters, steps, memory and time estimates."""
    from transformers import AutoConfig

    prec = precision_for(plan, cfg.precision)
    params = count_parameters(model_id, local, cfg)
    model_cfg = AutoConfig.from_pretrained(model_id, local_files_only=local)
    steps = steps_planned(cfg, len(train_rows))
    n = max(len(train_rows), 1)
    avg_tokens = sum(len(r["input_ids"]) for r in train_rows) / n
    avg_completion = sum(sum(r["completion_mask"]) for r in train_rows) / n
    memory = memory_estimate(params, model_cfg, cfg, prec, plan, tok_info["longest"],
                             int(avg_completion * cfg.per_device_batch_size))
    micro_tokens = avg_tokens * cfg.per_device_batch_size
    step_tokens = micro_tokens * cfg.gradient_accumulation_steps
    timing: dict[str, Any]
    if plan.device == "cuda" or params["base"] <= MEASURE_LIMIT_CPU:
        measured = measure_step(cfg, model_id, local, plan, tokenizer, train_rows)
        per_token = measured["seconds"] / max(measured["tokens"], 1)
        timing = {"method": "measured: one forward+backward micro-batch, scaled by tokens",
                  "seconds_per_step": round(per_token * step_tokens, 3),
                  "total_seconds": round(per_token * step_tokens * steps, 3),  # a tiny model takes milliseconds
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
        timing = {"method": "heuristic: 6 x parameters x tokens at an assumed 50 GFLOP/s (order of magnitude)",
                  "seconds_per_step": round(flops / 50e9, 1), "total_seconds": round(flops / 50e9 * steps)}
    return {
        "dry_run": True, "adapter_folder": str(folder), "base_model": model_id, "device": plan.device,
        "precision": prec.label, "quantization": plan.quantization,
        "examples": examples_info, "tokens": tok_info,
        "val_sequences": len(val_rows), "steps_planned": steps,
        "parameters": params, "trainable_parameters": params["trainable"],
        "memory_gb_estimate": memory, "time_estimate": timing, "dataset_stats": stats,
    }
