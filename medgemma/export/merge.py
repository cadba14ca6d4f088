"""Fold a PEFT LoRA adapter into its base model (W + scale · B·A) and save a plain transformers folder.

The merge runs in float32 and only the saved copy is cast to the asked dtype, so the one rounding step is
the final cast. `check_merge` measures what that costs: the logits of base + adapter (PEFT, float32) against
the merged folder loaded back (float32 compute), with a tolerance that depends on the saved dtype.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError, MissingDependency
from ..files import atomic_folder, sha256_file

DTYPES = ("float16", "bfloat16", "float32")
MERGE_INFO = "merge_info.json"
# Largest |logit difference| allowed between adapter model and merged model, relative to the largest |logit|
# (at least 1): float32 differs only by summation order (~1e-6 relative; 1e-4 leaves room), float16 rounds
# each weight to 11 bits (~5e-4 relative per weight, which the layers average out to ~1e-3), bfloat16 to 8 bits.
MERGE_TOLERANCE = {"float32": 1e-4, "float16": 5e-3, "bfloat16": 4e-2}
CHECK_PROMPTS = (
    "<start_of_turn>user\nWhat are the warning signs of a stroke?<end_of_turn>\n<start_of_turn>model\n",
    "Asthma is a long-term lung condition that causes wheezing",
    "Vaccines train the immune system to recognise a germ",
)


def _libs() -> tuple[Any, Any, Any]:
    try:
        import peft
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependency(getattr(exc, "name", None) or "peft", "Merging an adapter") from exc
    return torch, transformers, peft


def _is_multimodal(folder: Path) -> bool:
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder} is not a transformers model folder: {exc}") from exc
    return "vision_config" in cfg


def load_base(base_folder: Path, dtype: str = "float32") -> Any:
    """The base model from a local folder, safetensors only, no remote code."""
    torch, transformers, _ = _libs()
    loader = (transformers.AutoModelForImageTextToText if _is_multimodal(base_folder)
              else transformers.AutoModelForCausalLM)
    return loader.from_pretrained(str(base_folder), dtype=getattr(torch, dtype), local_files_only=True,
                                  trust_remote_code=False, use_safetensors=True)


def load_adapter_model(base_folder: Path, adapter_folder: Path) -> Any:
    """Base model (float32) with the PEFT adapter applied, unmerged, in eval mode."""
    from peft import PeftModel

    from ..backends.hf import check_adapter_folder

    check_adapter_folder(Path(adapter_folder))
    model = load_base(base_folder, "float32")
    return PeftModel.from_pretrained(model, str(adapter_folder), is_trainable=False).eval()


def merge_adapter(base_folder: Path, adapter_folder: Path, out_folder: Path, dtype: str = "float16") -> Path:
    """Merge the adapter into the base model and save safetensors, tokenizer and chat template to `out_folder`.

    Written into a temporary folder that is renamed into place when complete: a failure leaves nothing at
    `out_folder` (and an older export there untouched). `merge_info.json` records both inputs.
    """
    if dtype not in DTYPES:
        raise InputError(f"Unknown dtype {dtype!r}; choose one of: {', '.join(DTYPES)}.")
    torch, transformers, peft = _libs()
    from ..convert import GEMMA_CHAT_TEMPLATE

    base_folder, adapter_folder, out_folder = Path(base_folder), Path(adapter_folder), Path(out_folder)
    model = load_adapter_model(base_folder, adapter_folder)
    merged = model.merge_and_unload()  # float32 arithmetic; the only rounding is the cast below
    merged = merged.to(getattr(torch, dtype))
    multimodal = _is_multimodal(base_folder)
    if multimodal:
        processor = transformers.AutoProcessor.from_pretrained(str(base_folder), local_files_only=True,
                                                               trust_remote_code=False)
        tokenizer = processor.tokenizer
    else:
        processor = None
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(base_folder), local_files_only=True,
                                                               trust_remote_code=False)
    if not isinstance(getattr(tokenizer, "chat_template", None), str):
        # The app renders Gemma's turn format itself; the template lets other tools render the same text.
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    adapter_cfg = json.loads((adapter_folder / "adapter_config.json").read_text(encoding="utf-8"))
    with atomic_folder(out_folder) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        if processor is not None:
            processor.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        info = {
            "format": 1,
            "base_model": str(base_folder),
            "adapter": str(adapter_folder),
            "adapter_sha256": sha256_file(adapter_folder / "adapter_model.safetensors"),
            "lora": {k: adapter_cfg.get(k) for k in ("r", "lora_alpha", "use_rslora", "target_modules")},
            "dtype": dtype,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "peft": peft.__version__},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (tmp / MERGE_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out_folder


def check_merge(
    base_folder: Path,
    adapter_folder: Path,
    merged_folder: Path,
    prompts: Sequence[str] = CHECK_PROMPTS,
) -> dict[str, Any]:
    """Largest logit difference between base + adapter (PEFT) and the merged folder, both computed in float32.

    Returns the figures with the tolerance for the merged folder's saved dtype (MERGE_TOLERANCE, relative to
    the largest |logit|) and `passed`; nothing is printed.
    """
    torch, transformers, _ = _libs()
    merged_folder = Path(merged_folder)
    try:
        saved = json.loads((merged_folder / MERGE_INFO).read_text(encoding="utf-8")).get("dtype", "float32")
    except (OSError, ValueError):
        saved = "float32"
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(merged_folder), local_files_only=True,
                                                           trust_remote_code=False)
    reference = load_adapter_model(base_folder, adapter_folder)
    merged = load_base(merged_folder, "float32").eval()  # upcast: measure the saved weights, not fp16 compute
    max_diff = 0.0
    scale = 1.0
    agree = total = 0
    with torch.inference_mode():
        for text in prompts:
            ids = torch.tensor([tokenizer(text, add_special_tokens=True)["input_ids"]])
            a = reference(input_ids=ids).logits.float()
            b = merged(input_ids=ids).logits.float()
            max_diff = max(max_diff, float((a - b).abs().max()))
            scale = max(scale, float(a.abs().max()))
            agree += int((a.argmax(-1) == b.argmax(-1)).sum())
            total += int(ids.shape[1])
    tolerance = MERGE_TOLERANCE.get(saved, MERGE_TOLERANCE["float32"]) * scale
    return {"dtype": saved, "prompts": len(prompts), "positions": total, "max_abs_logit_diff": max_diff,
            "max_abs_logit": scale, "tolerance": tolerance, "top1_agreement": agree / max(total, 1),
            "passed": max_diff <= tolerance}
