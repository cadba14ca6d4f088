"""Check an exported GGUF against transformers: the same token ids in, the same next tokens out?

The comparison feeds llama.cpp exactly the token ids the transformers tokenizer produced, so the logits
check measures the weight conversion alone; whether llama.cpp's own tokenizer splits the prompt the same
way is reported separately (`tokenizer_match`), as is the chat template embedded in the file.

Tolerances: an f32 or f16 GGUF should agree on the top-1 next token at ≥ 0.99 of positions on a real model
(llama.cpp's f16 KV cache and matmuls differ from fp32 torch by ~1e-3 in the logits), q8_0 at ≥ 0.95; a
4-bit file typically 0.8–0.9. A random test model has nearly tied logits, so its figures are lower.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence, Union

from ..errors import InputError, MissingDependency
from ..prompts import render
from ..types import Message

Prompt = Union[str, Sequence[Message]]
# Agreement an export must reach to pass, by GGUF weight type (what llama.cpp names general.file_type).
MIN_AGREEMENT = {"f32": 0.98, "f16": 0.95, "bf16": 0.9, "q8_0": 0.9}
DEFAULT_MESSAGES: list[Message] = [
    {"role": "system", "content": "You are a medical education assistant."},
    {"role": "user", "content": "What are the warning signs of a stroke?"},
]
FILE_TYPES = {0: "f32", 1: "f16", 7: "q8_0", 32: "bf16", 15: "q4_k_m", 14: "q4_k_s", 17: "q5_k_m", 16: "q5_k_s",
              18: "q6_k", 2: "q4_0", 8: "q5_0"}


def _file_type(value: Any) -> str | None:
    try:
        return FILE_TYPES.get(int(value), str(value))
    except (TypeError, ValueError):
        return None


def _text(prompt: Prompt) -> str:
    return prompt if isinstance(prompt, str) else render(list(prompt), "chat")


def render_gguf_template(template: str, messages: Sequence[Message], bos_token: str = "<bos>",
                         eos_token: str = "<eos>") -> str:
    """Render a chat template from a GGUF with jinja2's sandbox, as transformers renders chat templates."""
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:
        raise MissingDependency("jinja2", "Rendering the GGUF chat template") from exc
    # The template comes from a file: the sandbox keeps it from reaching Python internals.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=list(messages), bos_token=bos_token, eos_token=eos_token,
                                            add_generation_prompt=True)


def check_chat_template(template: str | None, messages: Sequence[Message], bos_token: str = "<bos>") -> dict[str, Any]:
    """Whether `template` renders `messages` as `medgemma.prompts.render(messages, "chat")` (after the bos)."""
    if not template:
        return {"present": False, "renders_same": False}
    expected = render(list(messages), "chat")
    try:
        got = render_gguf_template(template, messages, bos_token=bos_token)
    except Exception as exc:  # noqa: BLE001 - a broken template is a finding, not a crash
        return {"present": True, "renders_same": False, "error": f"{type(exc).__name__}: {exc}"}
    # Gemma templates open with the bos token, which the tokenizer adds to render()'s text.
    body = got[len(bos_token):] if got.startswith(bos_token) else got
    same = body == expected
    out: dict[str, Any] = {"present": True, "renders_same": same, "starts_with_bos": got.startswith(bos_token)}
    if not same:
        at = next((i for i, (a, b) in enumerate(zip(body, expected)) if a != b), min(len(body), len(expected)))
        out["first_difference"] = {"at": at, "template": body[at:at + 40], "render": expected[at:at + 40]}
    return out


def gguf_has_byte_tokens(gguf_file: Path) -> bool:
    """Whether the file's vocabulary has all 256 byte tokens (<0x00>…<0xFF>).

    llama.cpp's SentencePiece tokenizer falls back to byte tokens for text outside the vocabulary and aborts
    the whole process when they are missing, so text is only tokenized by llama.cpp when this is True.
    """
    import gguf

    reader = gguf.GGUFReader(str(gguf_file))
    field = reader.fields.get("tokenizer.ggml.token_type")
    if field is None:
        return False
    types = [int(field.parts[i][0]) for i in field.data]
    return sum(1 for t in types if t == int(gguf.TokenType.BYTE)) >= 256


def _load_hf(hf_folder: Path, adapter_folder: Path | None) -> tuple[Any, Any]:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingDependency("transformers", "Verifying an export against transformers") from exc
    tok = AutoTokenizer.from_pretrained(str(hf_folder), local_files_only=True, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(str(hf_folder), dtype=torch.float32, local_files_only=True,
                                                 trust_remote_code=False, use_safetensors=True)
    if adapter_folder is not None:
        from peft import PeftModel

        from ..backends.hf import check_adapter_folder

        check_adapter_folder(Path(adapter_folder))
        model = PeftModel.from_pretrained(model, str(adapter_folder), is_trainable=False)
    return tok, model.eval()


def _hf_logits(model: Any, ids: list[int], adapter: bool = True) -> Any:
    import torch

    with torch.inference_mode():
        if not adapter and hasattr(model, "disable_adapter"):
            with model.disable_adapter():
                out = model(input_ids=torch.tensor([ids])).logits[0]
        else:
            out = model(input_ids=torch.tensor([ids])).logits[0]
    return out.float().numpy()


def _llama(gguf_file: Path, n_ctx: int, lora_gguf: Path | None, threads: int) -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise MissingDependency("llama-cpp-python", "Verifying a GGUF") from exc
    kwargs: dict[str, Any] = dict(model_path=str(gguf_file), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True,
                                  n_threads=threads, n_threads_batch=threads, verbose=False)
    if lora_gguf is not None:
        kwargs["lora_path"] = str(lora_gguf)
    try:
        return llama_cpp.Llama(**kwargs)
    except (ValueError, RuntimeError) as exc:
        raise InputError(f"llama.cpp could not load {Path(gguf_file).name}"
                         + (f" with LoRA {Path(lora_gguf).name}" if lora_gguf else "") + f": {exc}") from exc


def _llama_logits(llm: Any, ids: list[int]) -> Any:
    import numpy as np

    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float32)


def compare_logits(a: Sequence[Any], b: Sequence[Any]) -> dict[str, Any]:
    """Top-1 agreement over all positions, and max / mean absolute difference, of two lists of logit arrays."""
    import numpy as np

    agree = total = last_agree = 0
    max_diff = 0.0
    sum_diff = 0.0
    cells = 0
    for x, y in zip(a, b):
        n = min(x.shape[-1], y.shape[-1])  # a padded embedding may carry extra rows
        x, y = x[:, :n], y[:, :n]
        agree += int((x.argmax(-1) == y.argmax(-1)).sum())
        last_agree += int(x[-1].argmax() == y[-1].argmax())
        total += x.shape[0]
        d = np.abs(x - y)
        max_diff = max(max_diff, float(d.max()))
        sum_diff += float(d.sum())
        cells += d.size
    return {"positions": total, "top1_agreement": agree / max(total, 1),
            "next_token_agreement": last_agree / max(len(a), 1),
            "max_abs_logit_diff": max_diff, "mean_abs_logit_diff": sum_diff / max(cells, 1)}


def _correlation(a: Sequence[Any], b: Sequence[Any]) -> float:
    import numpy as np

    x = np.concatenate([v.reshape(-1) for v in a])
    y = np.concatenate([v.reshape(-1) for v in b])
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def verify_gguf(
    gguf_file: Path,
    hf_folder: Path,
    prompts: Sequence[Prompt],
    lora_gguf: Path | None = None,
    adapter_folder: Path | None = None,
    threads: int = 0,
    token_ids: Sequence[Sequence[int]] | None = None,
) -> dict[str, Any]:
    """Compare llama.cpp running `gguf_file` (with `lora_gguf`) against transformers on `hf_folder` (with the
    PEFT adapter `adapter_folder`) on the same token ids; returns a dict of figures, nothing printed.

    prompts: strings, or message lists rendered with `medgemma.prompts.render(..., "chat")`; message lists
    (or a default conversation) also check the embedded chat template. `token_ids` adds raw id sequences
    (useful for a model whose tokenizer llama.cpp cannot reproduce). With a LoRA, the change the adapter
    makes to the logits is compared too (`lora_delta_correlation`: 1.0 when both engines move the logits
    the same way).
    """
    gguf_file, hf_folder = Path(gguf_file), Path(hf_folder)
    if (lora_gguf is None) != (adapter_folder is None):
        raise InputError("Give both lora_gguf and adapter_folder (the PEFT adapter it was exported from), or neither.")
    threads = threads or min(os.cpu_count() or 1, 4)
    tok, model = _load_hf(hf_folder, Path(adapter_folder) if adapter_folder else None)
    texts = [_text(p) for p in prompts]
    seqs = [list(tok(t, add_special_tokens=True)["input_ids"]) for t in texts]
    seqs += [list(map(int, s)) for s in (token_ids or [])]
    if not seqs:
        raise InputError("verify_gguf needs at least one prompt or token id sequence.")
    n_ctx = max(len(s) for s in seqs) + 8
    llm = _llama(gguf_file, n_ctx, Path(lora_gguf) if lora_gguf else None, threads)
    try:
        meta = dict(llm.metadata)
        ours = [_llama_logits(llm, s) for s in seqs]
        tokenizer: dict[str, Any]
        if gguf_has_byte_tokens(gguf_file):
            mine = [llm.tokenize(t.encode("utf-8"), add_bos=True, special=True) for t in texts]
            same = [list(m) == s for m, s in zip(mine, seqs)]
            tokenizer = {"checked": len(texts), "match": sum(same) / max(len(texts), 1)}
        else:
            tokenizer = {"checked": 0, "match": None,
                         "reason": "the GGUF vocabulary has no byte tokens, so llama.cpp cannot tokenize arbitrary "
                                   "text with it (the logits were compared on transformers' token ids)"}
    finally:
        llm.close()
    theirs = [_hf_logits(model, s) for s in seqs]
    result: dict[str, Any] = {
        "gguf": gguf_file.name,
        "file_type": _file_type(meta.get("general.file_type")),
        "lora": Path(lora_gguf).name if lora_gguf else None,
        "prompts": len(seqs),
        **compare_logits(theirs, ours),
        "tokenizer_match": tokenizer,
    }
    if lora_gguf is not None:
        base_llm = _llama(gguf_file, n_ctx, None, threads)
        try:
            base_ours = [_llama_logits(base_llm, s) for s in seqs]
        finally:
            base_llm.close()
        base_theirs = [_hf_logits(model, s, adapter=False) for s in seqs]
        d_ours = [o - b for o, b in zip(ours, base_ours)]
        d_theirs = [t - b for t, b in zip(theirs, base_theirs)]
        result["lora_delta_correlation"] = _correlation(d_theirs, d_ours)
        result["lora_delta_max_abs"] = float(max(abs(d).max() for d in d_theirs))
        result["top1_agreement_if_lora_ignored"] = compare_logits(base_theirs, ours)["top1_agreement"]
    messages = [p for p in prompts if not isinstance(p, str)] or [DEFAULT_MESSAGES]
    template = meta.get("tokenizer.chat_template")
    checks = [check_chat_template(template, m, bos_token=tok.bos_token or "<bos>") for m in messages]
    result["chat_template"] = {**checks[0], "renders_same": all(c.get("renders_same") for c in checks),
                               "checked": len(checks),
                               "same_as_hf_tokenizer": template == getattr(tok, "chat_template", None)}
    # A 4- to 6-bit file has no fixed bar (how much it loses depends on the model): its figures are reported
    # and `passed` is None, unless a LoRA is checked, whose effect must still match.
    need = MIN_AGREEMENT.get(str(result["file_type"]))
    result["min_agreement"] = need
    lora_ok = lora_gguf is None or result["lora_delta_correlation"] >= 0.99
    result["passed"] = (bool(result["top1_agreement"] >= need and lora_ok) if need is not None
                        else (None if lora_gguf is None else bool(lora_ok)))
    return result


def _verdict(passed: bool | None) -> str:
    return "no fixed threshold for this type" if passed is None else ("PASS" if passed else "FAIL")


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A few readable lines of a verify_gguf result, for the CLI."""
    tm = result.get("tokenizer_match") or {}
    ct = result.get("chat_template") or {}
    lines = [
        f"{result.get('gguf')}{' + ' + result['lora'] if result.get('lora') else ''} ({result.get('file_type')}): "
        f"top-1 agreement {result['top1_agreement']:.3f} over {result['positions']} positions "
        f"(next token {result['next_token_agreement']:.2f}); max |Δlogit| {result['max_abs_logit_diff']:.3g}, "
        f"mean {result['mean_abs_logit_diff']:.3g} → {_verdict(result.get('passed'))}",
        "  tokenizer: " + (f"llama.cpp gives the same ids on {tm['match']:.0%} of prompts"
                           if tm.get("match") is not None
                           else f"not compared ({tm.get('reason', '')})"),
        "  chat template: " + ("renders like medgemma.prompts" if ct.get("renders_same") else
                               "DIFFERS from medgemma.prompts" if ct.get("present") else "none in the file"),
    ]
    if "lora_delta_correlation" in result:
        lines.append(f"  LoRA effect: correlation of logit changes {result['lora_delta_correlation']:.4f} "
                     f"(largest change {result['lora_delta_max_abs']:.3g})")
    return lines
