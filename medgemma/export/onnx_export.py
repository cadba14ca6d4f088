"""The merged model as ONNX (float32 logits of a whole sequence, no KV cache), checked with onnxruntime.

torch.onnx's exporter (torch.export + onnxscript) traces a wrapper whose forward takes `input_ids` and
`attention_mask` (batch and sequence length dynamic) and returns the logits. Without a KV cache each new
token re-reads the whole prompt: right for scoring and classification-style use, slow for long generation
(use the GGUF for that). The folder also holds the tokenizer and config, so it is usable on its own.

Needs `onnx`, `onnxscript` (the exporter) and `onnxruntime` (the check); without them MissingDependency.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError, MissingDependency
from ..files import atomic_folder

ONNX_FILE = "model.onnx"
ONNX_INFO = "onnx_info.json"
# |logit difference| allowed between onnxruntime and torch (both float32), relative to the largest |logit|.
ONNX_TOLERANCE = 1e-4
CHECK_PROMPTS = (
    "<start_of_turn>user\nWhat is asthma?<end_of_turn>\n<start_of_turn>model\n",
    "Vaccines train the immune system to recognise a germ without causing the disease.",
)


def _require() -> tuple[Any, Any]:
    try:
        import onnx  # noqa: F401 - the exporter needs it
        import onnxscript  # noqa: F401
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependency("onnx onnxscript onnxruntime", "ONNX export") from exc
    return torch, transformers


def _load(model_folder: Path) -> tuple[Any, Any]:
    torch, transformers = _require()
    cfg = json.loads((Path(model_folder) / "config.json").read_text(encoding="utf-8"))
    if "vision_config" in cfg:
        raise InputError("ONNX export covers text models; this folder is a multimodal checkpoint.")
    # Eager attention traces into plain matmuls and masks that every ONNX runtime supports.
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(model_folder), dtype=torch.float32, attn_implementation="eager", local_files_only=True,
        trust_remote_code=False, use_safetensors=True).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_folder), local_files_only=True,
                                                           trust_remote_code=False)
    return model, tokenizer


def _wrapper(model: Any) -> Any:
    import torch

    class LogitsOnly(torch.nn.Module):
        """input_ids, attention_mask → logits; no cache, so the graph has two inputs and one output."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits

    return LogitsOnly(model).eval()


def export_onnx(model_folder: Path, out_folder: Path, max_seq_len: int = 4096) -> Path:
    """Export the transformers model in `model_folder` to `out_folder/model.onnx` (+ tokenizer and config).

    Written into a temporary folder renamed into place when complete. Weights above ~1.5 GB go to an
    external data file beside model.onnx (protobuf's 2 GB limit).
    """
    torch, _ = _require()
    model_folder, out_folder = Path(model_folder), Path(out_folder)
    model, tokenizer = _load(model_folder)
    wrapped = _wrapper(model)
    n_bytes = sum(p.numel() * 4 for p in model.parameters())
    # Example batch of 2: torch.export specialises a dimension of size 1, which would fix the batch at 1.
    ids = torch.full((2, 8), int(tokenizer.bos_token_id or 0), dtype=torch.long)
    mask = torch.ones_like(ids)
    batch = torch.export.Dim("batch", max=1024)
    seq = torch.export.Dim("sequence", max=max_seq_len)
    with atomic_folder(out_folder) as tmp:
        torch.onnx.export(
            wrapped, (ids, mask), str(tmp / ONNX_FILE), input_names=["input_ids", "attention_mask"],
            output_names=["logits"], dynamic_shapes={"input_ids": {0: batch, 1: seq},
                                                     "attention_mask": {0: batch, 1: seq}},
            dynamo=True, external_data=n_bytes > 1_500_000_000, verbose=False)
        model.config.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / ONNX_INFO).write_text(json.dumps({
            "format": 1, "source": str(model_folder), "inputs": {"input_ids": "int64 [batch, sequence]",
                                                                 "attention_mask": "int64 [batch, sequence]"},
            "outputs": {"logits": "float32 [batch, sequence, vocab]"}, "kv_cache": False, "dtype": "float32",
            "torch": torch.__version__,
        }, indent=2) + "\n", encoding="utf-8")
    return out_folder


def check_onnx(onnx_folder: Path, model_folder: Path, prompts: Sequence[str] = CHECK_PROMPTS) -> dict[str, Any]:
    """Logits of onnxruntime on the exported graph against transformers on `model_folder` (float32 both)."""
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependency("onnxruntime", "Checking an ONNX export") from exc
    import torch

    model, tokenizer = _load(Path(model_folder))
    session = ort.InferenceSession(str(Path(onnx_folder) / ONNX_FILE), providers=["CPUExecutionProvider"])
    max_diff, scale, agree, total = 0.0, 1.0, 0, 0
    for text in prompts:
        ids = np.array([tokenizer(text, add_special_tokens=True)["input_ids"]], dtype=np.int64)
        mask = np.ones_like(ids)
        got = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        with torch.inference_mode():
            ref = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
        max_diff = max(max_diff, float(np.abs(got - ref).max()))
        scale = max(scale, float(np.abs(ref).max()))
        agree += int((got.argmax(-1) == ref.argmax(-1)).sum())
        total += ids.shape[1]
    tolerance = ONNX_TOLERANCE * scale
    return {"prompts": len(prompts), "positions": total, "max_abs_logit_diff": max_diff, "tolerance": tolerance,
            "top1_agreement": agree / max(total, 1), "passed": max_diff <= tolerance}
