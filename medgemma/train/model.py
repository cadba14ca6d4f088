"""The base model of a run: where it is, its tokenizer, the precision it trains in, and its LoRA configuration.

Which device and quantization to use comes from `backends.hf.plan_device`; this module only turns that plan into
load settings. torch, transformers, peft and accelerate are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendError, InputError
from .config import TrainConfig


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


@dataclass(frozen=True)
class Precision:
    """How the weights are loaded and which autocast the Trainer uses."""

    load_dtype: str  # torch dtype name for from_pretrained
    bf16: bool
    fp16: bool
    label: str


def cpu_computes_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX512-BF16 or AMX), where bf16 matmuls run ~3x fp32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def precision_for(plan: Any, choice: str = "auto") -> Precision:
    """The training precision of `plan` for `choice` ('auto', 'fp32' or 'bf16').

    auto: bf16 on CUDA GPUs that support it, fp16 autocast over fp32 weights on other CUDA GPUs (Gemma's
    activations overflow fp16 weights), bf16 on CPUs with native bf16 arithmetic, fp32 on other CPUs and on Apple
    MPS (fp16 training there is not reliable). In bf16 the frozen base weights are stored in bf16 and the
    matmuls autocast; the LoRA weights, their gradients and the optimizer state stay fp32 (PEFT upcasts them).
    """
    fp32 = Precision("float32", False, False, "fp32")
    if choice == "fp32":
        if plan.quantization != "none":
            raise InputError("A 4-bit or 8-bit base model trains in mixed precision, not fp32: use precision='auto'.")
        return fp32
    if plan.device == "cuda":
        if plan.dtype == "bfloat16":
            return Precision("bfloat16", True, False, plan.precision)
        if choice == "bf16":
            raise InputError("precision='bf16' was asked for but this GPU has no bf16 support; use 'auto'.")
        return Precision("float32", False, True, plan.precision if plan.quantization != "none" else "fp16-mixed")
    if plan.device == "cpu" and (choice == "bf16" or cpu_computes_bf16()):
        return Precision("bfloat16", True, False, "bf16-mixed")
    if choice == "bf16":
        raise InputError(f"precision='bf16' is not supported on {plan.device}; use 'auto' or 'fp32'.")
    return fp32


def load_tokenizer(model_id: str, local: bool) -> Any:
    """The model's tokenizer, padding with its end-of-sequence token when it names no pad token."""
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

    prec = precision_for(plan, cfg.precision)
    try:
        config = AutoConfig.from_pretrained(model_id, local_files_only=local)
        kwargs: dict[str, Any] = dict(dtype=getattr(torch, prec.load_dtype), use_safetensors=True,
                                      local_files_only=local)
        if getattr(config.get_text_config(), "attn_logit_softcapping", None):
            kwargs["attn_implementation"] = "eager"  # SDPA cannot soft-cap attention logits (Gemma 2 style)
        if plan.quantization != "none":
            from ..backends.hf import quantization_config

            kwargs["quantization_config"] = quantization_config(plan)
            kwargs["device_map"] = {"": 0}
        model = AutoModelForCausalLM.from_pretrained(model_id, **kwargs)
    except (OSError, ValueError) as exc:
        raise BackendError(f"transformers could not load the base model {model_id}: {exc}") from exc
    if plan.quantization != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    return model


def lora_config(cfg: TrainConfig) -> Any:
    """The LoRA settings of `cfg`: the same for the run, the dry run and the parameter count."""
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
