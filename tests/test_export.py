"""Exports of a tiny random Gemma 3 and its LoRA: merge, GGUF model, GGUF LoRA, quantization, ONNX, card, Hub.

Every check compares the exported file with transformers on the same token ids. The tiny model's word-level
tokenizer has no llama.cpp equivalent, so the GGUF is written with allow_inexact_tokenizer and llama.cpp is
fed token ids (the real Gemma tokenizer round trip is checked by hand, see the export report).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import types
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

pytest.importorskip("peft")
pytest.importorskip("gguf")
pytest.importorskip("llama_cpp")

from tiny_gemma import build_lora, build_tiny_gemma  # noqa: E402

from medgemma.errors import BackendError, InputError  # noqa: E402
from medgemma.export import gguf_model  # noqa: E402
from medgemma.export.card import SECTIONS, model_card  # noqa: E402
from medgemma.files import sha256_file  # noqa: E402
from medgemma.export.cli import add_export_parser, cmd_export, parse_formats  # noqa: E402
from medgemma.export.gguf_lora import export_gguf_lora  # noqa: E402
from medgemma.export.gguf_model import export_gguf, read_metadata  # noqa: E402
from medgemma.export.hub import push_to_hub  # noqa: E402
from medgemma.export.merge import MERGE_TOLERANCE, check_merge, merge_adapter  # noqa: E402
from medgemma.export.quantize import quantize_gguf  # noqa: E402
from medgemma.export.verify import verify_gguf  # noqa: E402

# The gemma3.* and tokenizer.* keys of the packaged gemma-3-270m-q4_k_m.gguf (written by llama.cpp's own
# converter), listed here because reading that file's 262k-token vocabulary takes ~20 s.
REFERENCE_KEYS = (
    "gemma3.context_length", "gemma3.embedding_length", "gemma3.block_count", "gemma3.feed_forward_length",
    "gemma3.attention.head_count", "gemma3.attention.layer_norm_rms_epsilon", "gemma3.attention.key_length",
    "gemma3.attention.value_length", "gemma3.rope.freq_base", "gemma3.attention.sliding_window",
    "gemma3.attention.head_count_kv", "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
    "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
    "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix",
    "general.architecture", "general.type", "general.file_type", "general.quantization_version",
)
MESSAGES = [
    [{"role": "system", "content": "You are a medical education assistant."},
     {"role": "user", "content": "What are the warning signs of a stroke?"}],
    [{"role": "user", "content": "What is asthma?"}],
]
# Longer than the tiny model's sliding window (64), so local and global attention layers both matter.
LONG_IDS = [[2] + [6 + (i * 37) % 90 for i in range(100)]]


def _leftovers(folder: Path) -> list[str]:
    """Temporary files or folders an interrupted write could leave (they all start with a dot)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gemma(tmp_path_factory.mktemp("tiny") / "gemma")


@pytest.fixture(scope="module")
def lora(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lora(tiny, tmp_path_factory.mktemp("lora") / "medic", seed=1)


@pytest.fixture(scope="module")
def tiny_gguf(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the word-level tokenizer warning, expected here
        return export_gguf(tiny, tmp_path_factory.mktemp("gguf") / "tiny-f16.gguf", "f16",
                           allow_inexact_tokenizer=True)


@pytest.fixture(scope="module")
def merged32(tiny: Path, lora: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merge_adapter(tiny, lora, tmp_path_factory.mktemp("merged") / "m32", "float32")


# -- merge ------------------------------------------------------------------------------------------------


def test_merge_matches_adapter_model_within_tolerance(tiny: Path, lora: Path, merged32: Path, tmp_path: Path) -> None:
    names = {p.name for p in merged32.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "merge_info.json"} <= names
    assert not any(n.endswith(".bin") for n in names)
    assert "chat_template.jinja" in names or "chat_template" in (merged32 / "tokenizer_config.json").read_text()
    r32 = check_merge(tiny, lora, merged32)
    assert r32["passed"] and r32["top1_agreement"] == 1.0
    assert r32["max_abs_logit_diff"] <= MERGE_TOLERANCE["float32"] * r32["max_abs_logit"]
    m16 = merge_adapter(tiny, lora, tmp_path / "m16", "float16")
    r16 = check_merge(tiny, lora, m16)
    assert r16["dtype"] == "float16" and r16["passed"]
    assert r16["tolerance"] > r32["tolerance"]  # looser: every weight was rounded to 11 bits


def test_merge_failure_leaves_nothing(tiny: Path, lora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import PreTrainedTokenizerBase

    with pytest.raises(InputError):
        merge_adapter(tiny, lora, tmp_path / "bad-dtype", "int8")

    def crash(self: object, folder: str, *args: object, **kwargs: object) -> None:
        Path(folder, "tokenizer.json").write_text("{half")  # part of the folder is written, then it fails
        raise OSError("disk full")

    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", crash)
    with pytest.raises(OSError):
        merge_adapter(tiny, lora, tmp_path / "merged", "float16")
    assert not (tmp_path / "merged").exists() and not (tmp_path / "bad-dtype").exists()
    assert _leftovers(tmp_path) == []


# -- GGUF model -------------------------------------------------------------------------------------------


def test_gguf_metadata_matches_what_llama_cpp_reads(tiny: Path, tiny_gguf: Path) -> None:
    import numpy as np
    from safetensors.numpy import load_file

    meta = read_metadata(tiny_gguf)
    assert meta["general.architecture"] == "gemma3" and meta["general.type"] == "model"
    assert meta["gemma3.block_count"] == 2 and meta["gemma3.attention.key_length"] == 32
    assert meta["gemma3.attention.sliding_window_pattern"] == 2  # layer 0 local, layer 1 global
    assert meta["tokenizer.ggml.model"] == "llama" and meta["tokenizer.ggml.bos_token_id"] == 2
    assert "<start_of_turn>" in meta["tokenizer.chat_template"]
    missing = [k for k in REFERENCE_KEYS if k not in meta]
    assert not missing, missing
    # Gemma's RMSNorm multiplies by (1 + w); llama.cpp by the stored weight: the file holds w + 1.
    hf = load_file(str(tiny / "model.safetensors"))
    stored = dict(gguf_model.iter_gguf_tensors(tiny_gguf))
    assert np.allclose(stored["blk.0.attn_norm.weight"], hf["model.layers.0.input_layernorm.weight"] + 1)
    assert np.allclose(stored["output_norm.weight"], hf["model.norm.weight"] + 1)
    assert stored["blk.0.attn_q.weight"].shape == hf["model.layers.0.self_attn.q_proj.weight"].shape
    assert meta["tensors"]["blk.0.attn_norm.weight"][0] == "F32" and meta["tensors"]["blk.0.attn_q.weight"][0] == "F16"


def test_gguf_round_trip_top1_agreement(tiny: Path, tiny_gguf: Path) -> None:
    result = verify_gguf(tiny_gguf, tiny, MESSAGES, token_ids=LONG_IDS, threads=1)
    assert result["top1_agreement"] >= 0.95, result
    assert result["max_abs_logit_diff"] < 0.02  # f16 weights and KV cache
    assert result["passed"] is True
    assert result["chat_template"]["renders_same"] is True  # the embedded template renders like prompts.render
    assert result["tokenizer_match"]["match"] is None  # not comparable for a word-level vocabulary, and said so


def test_gguf_q8_0_is_smaller_and_agrees(tiny: Path, tiny_gguf: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        q8 = export_gguf(tiny, tmp_path / "tiny-q8_0.gguf", "q8_0", allow_inexact_tokenizer=True)
    assert q8.stat().st_size < tiny_gguf.stat().st_size
    umask = os.umask(0)
    os.umask(umask)
    assert q8.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's private 0600
    assert read_metadata(q8)["tensors"]["blk.0.ffn_up.weight"][0] == "Q8_0"
    assert verify_gguf(q8, tiny, [], token_ids=LONG_IDS, threads=1)["top1_agreement"] >= 0.9


def test_gguf_failures_leave_no_file(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.gguf"
    with pytest.raises(InputError, match="outtype"):
        export_gguf(tiny, target, "q3_weird")
    with pytest.raises(InputError, match="tokenizer"):  # a word-level vocabulary would make llama.cpp abort
        export_gguf(tiny, target)
    import gguf

    calls = {"n": 0}
    original = gguf.GGUFWriter.write_tensor_data

    def crash_mid_write(self: object, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("crash after two tensors")
        original(self, *args, **kwargs)

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensor_data", crash_mid_write)
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        export_gguf(tiny, target, "f16", allow_inexact_tokenizer=True)
    assert calls["n"] == 3 and not target.exists() and _leftovers(tmp_path) == []


# -- GGUF LoRA --------------------------------------------------------------------------------------------


def test_gguf_lora_changes_logits_like_peft(tiny: Path, lora: Path, tiny_gguf: Path, tmp_path: Path) -> None:
    out = export_gguf_lora(lora, tiny, tmp_path / "medic-lora.gguf")
    meta = read_metadata(out)
    assert meta["general.type"] == "adapter" and meta["adapter.type"] == "lora"
    assert meta["adapter.lora.alpha"] == 8.0 and meta["general.architecture"] == "gemma3"
    # GGUF shapes are [in, rank] for A and [rank, out] for B (ne order), as llama.cpp checks at load.
    assert meta["tensors"]["blk.0.attn_q.weight.lora_a"][1] == [64, 4]
    assert meta["tensors"]["blk.0.attn_q.weight.lora_b"][1] == [4, 64]
    assert meta["tensors"]["blk.0.ffn_down.weight.lora_a"][1] == [128, 4]
    result = verify_gguf(tiny_gguf, tiny, MESSAGES[:1], lora_gguf=out, adapter_folder=lora, token_ids=LONG_IDS,
                         threads=1)
    assert result["lora_delta_correlation"] >= 0.99, result
    assert result["top1_agreement"] >= 0.95
    assert result["top1_agreement_if_lora_ignored"] < 0.9  # the adapter does change the answers


def test_gguf_lora_folds_rslora_scale(tiny: Path, lora: Path, tiny_gguf: Path, tmp_path: Path) -> None:
    rs = tmp_path / "rs"
    shutil.copytree(lora, rs)
    cfg = json.loads((rs / "adapter_config.json").read_text())
    cfg["use_rslora"] = True  # PEFT scales by alpha / sqrt(r); llama.cpp always by alpha / r
    (rs / "adapter_config.json").write_text(json.dumps(cfg))
    out = export_gguf_lora(rs, tiny, tmp_path / "rs.gguf")
    result = verify_gguf(tiny_gguf, tiny, [], lora_gguf=out, adapter_folder=rs, token_ids=LONG_IDS, threads=1)
    assert result["lora_delta_correlation"] >= 0.99 and result["top1_agreement"] >= 0.95


def test_gguf_lora_refuses_what_it_cannot_carry(tiny: Path, lora: Path, tmp_path: Path) -> None:
    dora = tmp_path / "dora"
    shutil.copytree(lora, dora)
    cfg = json.loads((dora / "adapter_config.json").read_text())
    cfg["use_dora"] = True
    (dora / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="DoRA"):
        export_gguf_lora(dora, tiny, tmp_path / "dora.gguf")
    assert not (tmp_path / "dora.gguf").exists()


# -- quantization -----------------------------------------------------------------------------------------


def test_quantize_is_smaller_and_loads(tiny: Path, tiny_gguf: Path, tmp_path: Path) -> None:
    q4 = quantize_gguf(tiny_gguf, tmp_path / "tiny-q4_k_m.gguf", "q4_k_m", threads=1)
    assert q4.stat().st_size < tiny_gguf.stat().st_size
    meta = read_metadata(q4)
    assert meta["general.file_type"] == 15 and "tokenizer.chat_template" in meta  # metadata carried over
    result = verify_gguf(q4, tiny, [], token_ids=LONG_IDS, threads=1)
    assert result["positions"] == len(LONG_IDS[0]) and result["max_abs_logit_diff"] < 1.0
    with pytest.raises(InputError, match="quantization"):
        quantize_gguf(tiny_gguf, tmp_path / "x.gguf", "q9_z")
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a gguf")
    with pytest.raises(BackendError):
        quantize_gguf(garbage, tmp_path / "garbage-q4.gguf")
    assert not (tmp_path / "garbage-q4.gguf").exists() and _leftovers(tmp_path) == []


# -- ONNX -------------------------------------------------------------------------------------------------


def test_onnx_export_matches_transformers(merged32: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from medgemma.export.onnx_export import check_onnx, export_onnx

    out = export_onnx(merged32, tmp_path / "onnx")
    assert (out / "model.onnx").is_file() and (out / "tokenizer.json").is_file()
    result = check_onnx(out, merged32)
    assert result["passed"] and result["top1_agreement"] == 1.0, result


# -- card and Hub -----------------------------------------------------------------------------------------

PROVENANCE = {
    "adapter": "medic", "base_model": {"id": "google/gemma-3-270m", "path": "cache/models/gemma-3-270m-hf"},
    "data": {"recipe": {"name": "medquad", "args": {"n": 10}}, "examples": {"train": 9, "val": 1}},
    "results": {"train_loss": 1.5, "eval_loss": 1.7, "steps": 3},
}


def test_model_card_has_every_section() -> None:
    for kind in ("adapter", "merged", "gguf"):
        text = model_card(PROVENANCE, kind)
        for section in SECTIONS:
            assert section in text, (kind, section)
        assert "license: gemma" in text and "ai.google.dev/gemma/terms" in text
        assert "clinical decisions" in text.lower() and "MedQuAD" in text and "CC BY 4.0" in text
        assert "no safety evaluation is recorded" in text
    with_safety = model_card(PROVENANCE, "gguf", evaluation={"medsafetybench refusal_rate": 0.93, "mcq accuracy": 0.4},
                             files={"lora": "medic-lora.gguf", "lora_base": "gemma-3-270m-q4_k_m.gguf"})
    assert "no safety evaluation is recorded" not in with_safety and "0.93" in with_safety
    assert 'lora_path="medic-lora.gguf"' in with_safety
    with pytest.raises(ValueError):
        model_card(PROVENANCE, "pickle")


def test_hub_dry_run_lists_files_without_network_or_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "model.gguf").write_bytes(b"GGUF" + b"\0" * 60)
    (folder / ".model.gguf.tmp").write_bytes(b"half")  # an unfinished write: never pushed
    secret = "hf_SECRETtoken1234567890"

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dry run opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    card = model_card(PROVENANCE, "gguf")
    result = push_to_hub(folder, "someone/medic-gguf", token=secret, dry_run=True, card=card)
    assert result["dry_run"] and result["private"] and result["card"] == card
    assert [f["path"] for f in result["files"]] == ["README.md", "model.gguf"]
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in result["files"])
    assert secret not in json.dumps(result) and secret not in repr(result)
    auto = push_to_hub(folder, "someone/medic-gguf")  # no token anywhere: a dry run by itself
    assert auto["dry_run"] and "no token" in auto["reason"] and auto["token"] == "missing"
    with pytest.raises(InputError):
        push_to_hub(folder, "not a repo id!", dry_run=True)


def test_hub_push_error_never_shows_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "README.md").write_text("card")
    secret = "hf_SECRETtoken1234567890"

    class FakeApi:
        def __init__(self, token: str) -> None:
            self.token = token

        def create_repo(self, repo_id: str, private: bool, exist_ok: bool, repo_type: str) -> None:
            assert private is True
            raise RuntimeError(f"401 Unauthorized for token {self.token}")

    fake = types.ModuleType("huggingface_hub")
    fake.HfApi = FakeApi  # type: ignore[attr-defined]
    fake.CommitOperationAdd = lambda **kw: kw  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    monkeypatch.setenv("HF_TOKEN", secret)
    with pytest.raises(BackendError) as info:
        push_to_hub(folder, "someone/medic")
    assert secret not in str(info.value) and "***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- CLI --------------------------------------------------------------------------------------------------


def test_cli_exports_and_verifies(tiny: Path, lora: Path, tmp_path: Path) -> None:
    import argparse

    with pytest.raises(InputError):
        parse_formats("gguf,zip")
    assert parse_formats("merged, q4_k_m,merged") == ["merged", "q4_k_m"]
    ap = argparse.ArgumentParser()
    add_export_parser(ap.add_subparsers(dest="command"))
    out = tmp_path / "exports" / "medic"
    args = ap.parse_args(["export", "--adapter", str(lora), "--base", str(tiny), "--formats", "adapter,gguf-lora",
                          "--out", str(out), "--push", "me/medic", "--push-what", "adapter", "--dry-run",
                          "--allow-inexact-tokenizer", "--threads", "1"])
    assert args.func(args) == 0
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and (out / "adapter" / "README.md").is_file()
    assert (out / "gguf" / "medic-lora.gguf").is_file() and not (out / ".work").exists()
    report = json.loads((out / "export_report.json").read_text())
    check = report["checks"]["medic-lora.gguf"]
    assert check["passed"] and check["lora_delta_correlation"] >= 0.99
    assert [s["step"] for s in report["steps"]] == ["adapter", "gguf-lora", "push"]
    assert report["steps"][-1]["dry_run"] is True
    # What lineage checks an export against: the adapter's weights then, and the commit.
    assert report["adapter_sha256"] == sha256_file(lora / "adapter_model.safetensors")
    assert "git_commit" in report
    assert cmd_export is args.func
