"""A PEFT LoRA adapter as a GGUF LoRA that llama.cpp applies at load time (`Llama(lora_path=...)`).

The layout is what llama.cpp's `convert_lora_to_gguf.py` writes and `llama_adapter_lora_init` checks:
`general.type = "adapter"`, `adapter.type = "lora"`, `adapter.lora.alpha`, the base model's architecture, and
for each adapted weight `<gguf name>.lora_a` (PEFT's A, rank × in; GGUF shape [in, rank]) and
`<gguf name>.lora_b` (PEFT's B, out × rank; GGUF shape [rank, out]). llama.cpp scales B·A by
alpha / rank (rank read from the tensor), as PEFT does by lora_alpha / r; where PEFT's scale differs
(rsLoRA, per-module alpha or rank patterns) the difference is folded into B so the product is the same.

The GGUF LoRA works with any GGUF of the same base model: the f16 export or the packaged q4_k_m file.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from ..errors import InputError, MissingDependency
from ..files import atomic_path, publish
from .gguf_model import ARCH, gguf_name, load_gemma3_config, text_key

LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$")
OUTTYPES = ("f32", "f16")


def _module_setting(patterns: dict[str, Any], module: str, default: Any) -> Any:
    """PEFT's rank_pattern / alpha_pattern lookup: a key matching the end of the module path wins."""
    for key, value in (patterns or {}).items():
        if re.fullmatch(rf"(.*\.)?{key}", module):
            return value
    return default


def read_lora(adapter_folder: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The adapter config, and module path → {"A": array, "B": array} (float32 numpy) from the safetensors."""
    from safetensors import safe_open

    from ..backends.hf import check_adapter_folder

    adapter_folder = Path(adapter_folder)
    check_adapter_folder(adapter_folder)
    cfg = json.loads((adapter_folder / "adapter_config.json").read_text(encoding="utf-8"))
    if cfg.get("peft_type", "LORA") != "LORA":
        raise InputError(f"{adapter_folder} is a {cfg.get('peft_type')} adapter; only LoRA converts to GGUF.")
    if cfg.get("use_dora"):
        raise InputError("DoRA adapters rescale the weight's columns, which a GGUF LoRA cannot express: merge it "
                         "(--formats merged,gguf) instead.")
    if cfg.get("bias", "none") != "none" or cfg.get("lora_bias"):
        raise InputError("The adapter trains biases, which a GGUF LoRA cannot carry: merge it instead.")
    if cfg.get("fan_in_fan_out"):
        raise InputError("fan_in_fan_out adapters (GPT-2 style Conv1D) are not Gemma adapters.")
    pairs: dict[str, dict[str, Any]] = {}
    with safe_open(str(adapter_folder / "adapter_model.safetensors"), framework="pt") as fh:
        for key in fh.keys():
            m = LORA_KEY.match(key)
            if m is None:
                what = "modules_to_save (fully trained copies)" if "modules_to_save" in key else "tensor"
                raise InputError(f"The adapter holds a {what} {key!r} that a GGUF LoRA cannot carry: merge it instead.")
            if "lora_embedding" in key:
                raise InputError("LoRA on the embedding layer is not supported by this converter: merge it instead.")
            pairs.setdefault(m.group("module"), {})[m.group("ab")] = fh.get_tensor(key).float().numpy()
    broken = [k for k, v in pairs.items() if set(v) != {"A", "B"}]
    if broken:
        raise InputError(f"The adapter has lora_A without lora_B (or the reverse) for {broken[0]}.")
    return cfg, pairs


def export_gguf_lora(adapter_folder: Path, base_model_folder: Path, out_file: Path, outtype: str = "f32") -> Path:
    """Write the PEFT LoRA in `adapter_folder` as a GGUF LoRA for the Gemma 3 model in `base_model_folder`.

    The base folder supplies the layer count and tensor names (and whether the output layer is tied: a LoRA
    on lm_head of a tied model has no tensor to apply to in llama.cpp). outtype "f32" (default; LoRA files
    are small) or "f16". Written atomically.
    """
    if outtype not in OUTTYPES:
        raise InputError(f"Unknown GGUF LoRA outtype {outtype!r}; choose one of: {', '.join(OUTTYPES)}.")
    try:
        import gguf
        import numpy as np
    except ImportError as exc:
        raise MissingDependency("gguf", "Writing a GGUF LoRA") from exc
    adapter_folder, out_file = Path(adapter_folder), Path(out_file)
    spec = load_gemma3_config(Path(base_model_folder))
    cfg, pairs = read_lora(adapter_folder)
    if not pairs:
        raise InputError(f"{adapter_folder} holds no LoRA weights.")
    r0 = int(cfg.get("r", 8))
    alpha0 = float(cfg.get("lora_alpha", r0))
    rslora = bool(cfg.get("use_rslora"))
    tied = bool(getattr(spec.config, "tie_word_embeddings", False))
    tensors: list[tuple[str, Any]] = []
    for module in sorted(pairs):
        key = text_key(module + ".weight")
        if key is None:
            raise InputError(f"The adapter adapts the vision part ({module}); a GGUF LoRA covers the text model only.")
        name = gguf_name(key, spec.n_layer)
        if name == "output.weight" and tied:
            raise InputError("The adapter adapts lm_head but the base model ties it to the embedding, so llama.cpp "
                             "has no output tensor to apply it to: merge it instead.")
        a, b = pairs[module]["A"], pairs[module]["B"]
        rank = a.shape[0]
        if b.shape[1] != rank:
            raise InputError(f"{module}: lora_A has rank {rank} but lora_B {b.shape[1]}.")
        alpha = float(_module_setting(cfg.get("alpha_pattern") or {}, module, alpha0))
        r = int(_module_setting(cfg.get("rank_pattern") or {}, module, r0))
        if r != rank:
            raise InputError(f"{module}: the config says rank {r} but the weights have rank {rank}.")
        peft_scale = alpha / math.sqrt(rank) if rslora else alpha / rank
        llama_scale = alpha0 / rank  # what llama.cpp will apply with adapter.lora.alpha = alpha0
        if not math.isclose(peft_scale, llama_scale, rel_tol=1e-7):
            b = b * (peft_scale / llama_scale)
        dtype = np.float16 if outtype == "f16" else np.float32
        tensors.append((name + ".lora_a", np.ascontiguousarray(a, dtype=dtype)))  # (rank, in) → GGUF [in, rank]
        tensors.append((name + ".lora_b", np.ascontiguousarray(b, dtype=dtype)))  # (out, rank) → GGUF [rank, out]
    with atomic_path(out_file) as tmp:
        writer = gguf.GGUFWriter(str(tmp), ARCH)
        try:
            writer.add_type(gguf.GGUFType.ADAPTER)
            writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
            writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha0)
            writer.add_name(adapter_folder.name)
            writer.add_description("LoRA exported by MedGemma Studio (medgemma.export) from a PEFT adapter.")
            for name, data in tensors:
                writer.add_tensor(name, data)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
        publish(tmp)
    return out_file
