"""A Gemma 3 transformers checkpoint written as a GGUF file for llama.cpp, with the `gguf` package only.

What llama.cpp's `gemma3` loader expects, and what this writer therefore does (checked against the packaged
`gemma-3-270m-q4_k_m.gguf`, written by llama.cpp's own converter, and the installed libllama):

- hyperparameters under `gemma3.*`: context_length, embedding_length, block_count, feed_forward_length,
  attention.head_count / head_count_kv / key_length / value_length / layer_norm_rms_epsilon /
  sliding_window, rope.freq_base. Two keys the reference file lacks are written too, because llama.cpp
  would otherwise assume Gemma 3's published layout: `attention.sliding_window_pattern` (llama.cpp assumes
  every 6th layer is global) and `rope.freq_base_swa` (it assumes 10000 for local layers). With them a
  checkpoint with another layout (the 2-layer test model) is computed as transformers computes it.
- norms: transformers' Gemma3RMSNorm multiplies by (1 + weight); llama.cpp multiplies by the stored weight,
  so every `*norm.weight` (including the per-head q/k norms) is written as weight + 1, as llama.cpp's
  converter does.
- attention scale: llama.cpp uses 1/sqrt(head_dim) (1/sqrt(hidden/heads) for a 62-layer model) and reads
  no key for it; transformers uses query_pre_attn_scalar**-0.5. Where the two differ the ratio is folded
  into the q-norm weight (exact: the norm's output is scaled linearly before RoPE).
- tensor names from gguf's tensor name map (`blk.N.attn_q.weight`, ...); 1-D tensors stay F32; a tied
  output layer is not written (llama.cpp falls back to token_embd).
- tokenizer as llama.cpp's SentencePiece vocabulary (`tokenizer.ggml.model = "llama"`): tokens in id
  order, scores (Unigram: its own; SentencePiece-style BPE: minus the rank of the merge that makes the
  token, so llama.cpp merges in the same order), token types (control, user-defined, byte, unknown), the
  special token ids, add_bos/add_eos/add_space_prefix, and the chat template (`tokenizer.chat_template`).
  A word-level tokenizer (the tiny test model's) has no llama.cpp equivalent: it is stored the same way so
  the file loads and ids map to the same strings, but llama.cpp will not split text as transformers does;
  feed token ids (verify.py does) and see `tokenizer_match` in the verification.

The text part of a Gemma3ForConditionalGeneration checkpoint is exported the same way (the vision tower and
projector are left out; images then need llama.cpp's separate mmproj file, which this does not write).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import InputError, MissingDependency
from ..files import atomic_path, publish

ARCH = "gemma3"
OUTTYPES = ("f32", "f16", "bf16", "q8_0")
# Prefixes under which a multimodal Gemma 3 keeps its language model (transformers 5, then 4.x layouts).
TEXT_PREFIXES = (("model.language_model.", "model."), ("language_model.model.", "model."),
                 ("language_model.lm_head.", "lm_head."))
SKIP_PREFIXES = ("model.vision_tower.", "model.multi_modal_projector.", "vision_tower.", "multi_modal_projector.")
BYTE_TOKEN = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")


def _gguf() -> Any:
    try:
        import gguf
    except ImportError as exc:
        raise MissingDependency("gguf", "Writing GGUF files") from exc
    return gguf


# -- the checkpoint ---------------------------------------------------------------------------------------


@dataclass
class Gemma3Text:
    """What the writer needs to know about a Gemma 3 text model, read from its config."""

    folder: Path
    config: Any  # the text config (Gemma3TextConfig)
    multimodal: bool
    swa_layers: list[bool]
    rope_full: dict[str, Any]
    rope_sliding: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def n_layer(self) -> int:
        return int(self.config.num_hidden_layers)


def load_gemma3_config(folder: Path) -> Gemma3Text:
    """Read and check the config of a Gemma 3 text model (or the text part of a multimodal one).

    Raises InputError for anything llama.cpp's gemma3 graph would compute differently (soft-capping,
    attention biases, bidirectional attention, another activation or RoPE type).
    """
    try:
        from transformers import AutoConfig
    except ImportError as exc:
        raise MissingDependency("transformers", "Reading the model config") from exc
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise InputError(f"{folder} is not a transformers model folder: config.json is missing.")
    config = AutoConfig.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    model_type = getattr(config, "model_type", "")
    if model_type == "gemma3":
        text, multimodal = config.get_text_config(), True
    elif model_type == "gemma3_text":
        text, multimodal = config, False
    else:
        raise InputError(f"{folder} holds a {model_type or 'unknown'} model; GGUF export supports Gemma 3 "
                         "(Gemma3ForCausalLM, or the text part of Gemma3ForConditionalGeneration) only.")
    for key in ("final_logit_softcapping", "attn_logit_softcapping"):
        if getattr(text, key, None):
            raise InputError(f"{key}={getattr(text, key)}: llama.cpp's gemma3 graph does not apply it.")
    if getattr(text, "attention_bias", False):
        raise InputError("attention_bias=True: llama.cpp's gemma3 graph has no attention biases.")
    if getattr(text, "use_bidirectional_attention", False):
        raise InputError("Bidirectional attention (an embedding model) is not a gemma3 GGUF.")
    act = getattr(text, "hidden_activation", None) or getattr(text, "hidden_act", "gelu_pytorch_tanh")
    if act not in ("gelu_pytorch_tanh", "gelu_new"):
        raise InputError(f"Activation {act!r}: llama.cpp's gemma3 graph uses the tanh approximation of GELU.")
    n = int(text.num_hidden_layers)
    types = list(getattr(text, "layer_types", None) or [])
    if len(types) != n:
        raise InputError(f"layer_types has {len(types)} entries for {n} layers.")
    swa = [t == "sliding_attention" for t in types]
    if not any(swa):
        # Without a sliding window llama.cpp builds gemma3's other graph, which soft-caps the logits at 30.
        raise InputError("No sliding-attention layer: llama.cpp would treat this as another Gemma variant.")
    rope_full, rope_sliding = _rope(text)
    for kind, rope in (("full", rope_full), ("sliding", rope_sliding)):
        rtype = rope.get("rope_type", "default")
        if rtype not in ("default", "linear") or (kind == "sliding" and rtype != "default"):
            raise InputError(f"RoPE type {rtype!r} on {kind}-attention layers is not supported by this writer.")
    return Gemma3Text(folder, text, multimodal, swa, rope_full, rope_sliding)


def _rope(text: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """RoPE settings of full and sliding layers (transformers 5 `rope_parameters`, else the 4.x fields)."""
    params = getattr(text, "rope_parameters", None)
    if isinstance(params, dict) and "full_attention" in params:
        return dict(params["full_attention"]), dict(params.get("sliding_attention") or params["full_attention"])
    if isinstance(params, dict) and "rope_theta" in params:
        full = dict(params)
    else:
        full = {"rope_theta": getattr(text, "rope_theta", 1_000_000.0), "rope_type": "default",
                **(getattr(text, "rope_scaling", None) or {})}
    sliding = {"rope_theta": getattr(text, "rope_local_base_freq", 10_000.0), "rope_type": "default"}
    return full, sliding


def swa_period(swa_layers: list[bool]) -> int | None:
    """The period p with layer i local iff i % p < p - 1 (llama.cpp's scalar pattern), or None."""
    n = len(swa_layers)
    for p in range(1, n + 2):
        if all(swa_layers[i] == (i % p < p - 1) for i in range(n)):
            return p
    return None


def text_key(name: str) -> str | None:
    """The checkpoint key as a Gemma3ForCausalLM key (`model.…`, `lm_head.…`); None for vision weights."""
    if name.startswith(SKIP_PREFIXES):
        return None
    for old, new in TEXT_PREFIXES:
        if name.startswith(old):
            return new + name[len(old):]
    return name


def gguf_name(hf_key: str, n_layer: int) -> str:
    """GGUF tensor name of a Gemma3ForCausalLM weight (`model.layers.0.self_attn.q_proj.weight` → …)."""
    gguf = _gguf()
    mapping = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, n_layer)
    name = mapping.get_name(hf_key, try_suffixes=(".weight", ".bias"))
    if name is None:
        raise InputError(f"No GGUF name for tensor {hf_key!r} in llama.cpp's gemma3 layout.")
    return name


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        return [folder / s for s in shards]
    if (folder / "model.safetensors").is_file():
        return [folder / "model.safetensors"]
    if any(folder.glob("*.bin")):
        raise InputError(f"{folder} holds PyTorch .bin weights (pickles), which are never loaded: save it "
                         "with safetensors (save_pretrained(..., safe_serialization=True)).")
    raise InputError(f"{folder} has no model.safetensors.")


def _tensor_index(folder: Path) -> dict[str, tuple[Path, str]]:
    """Causal-LM key → (safetensors file, key in that file), vision weights left out."""
    from safetensors import safe_open

    out: dict[str, tuple[Path, str]] = {}
    for path in _weight_files(folder):
        with safe_open(str(path), framework="pt") as fh:
            for key in fh.keys():
                k = text_key(key)
                if k is not None:
                    out[k] = (path, key)
    return out


def _load(path: Path, key: str) -> Any:
    """One tensor as float32 numpy (bf16 goes through torch, which numpy cannot read)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return fh.get_tensor(key).float().numpy()


# -- the tokenizer ----------------------------------------------------------------------------------------


@dataclass
class GGUFVocab:
    """llama.cpp's SentencePiece-style vocabulary for a transformers tokenizer."""

    tokens: list[str]
    scores: list[float]
    types: list[int]
    special: dict[str, int]  # bos/eos/unk/pad/eot → id
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool
    chat_template: str
    kind: str  # "bpe", "unigram" or "wordlevel"
    exact: bool  # whether llama.cpp will split text as transformers does (as far as this writer knows)


def gguf_vocab(folder: Path, n_vocab: int) -> GGUFVocab:
    """Tokens, scores and types for `tokenizer.ggml.*`, padded to the model's `n_vocab` rows."""
    gguf = _gguf()
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise MissingDependency("transformers", "Reading the tokenizer") from exc
    from ..convert import GEMMA_CHAT_TEMPLATE

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise InputError(f"The tokenizer in {folder} has no tokenizers backend (tokenizer.json); save it as a "
                         "fast tokenizer first.")
    spec = json.loads(backend.to_str())
    model = spec.get("model") or {}
    kind = str(model.get("type", "")).lower()
    vocab: dict[str, int] = dict(tok.get_vocab())
    size = max(n_vocab, max(vocab.values()) + 1)
    if size > n_vocab:
        raise InputError(f"The tokenizer has {size} tokens but the model only {n_vocab} embedding rows.")
    tokens: list[str | None] = [None] * size
    for text, idx in vocab.items():
        tokens[idx] = text
    T = gguf.TokenType
    types = [int(T.NORMAL)] * size
    scores = [0.0] * size
    if kind == "unigram":
        for idx, (_, score) in enumerate(model.get("vocab") or []):
            scores[idx] = float(score)
    elif kind == "bpe":
        # SentencePiece BPE merges pieces in order of score; tokenizers lists the merges in that order.
        # Minus the rank of the merge that first makes a token reproduces the order for llama.cpp.
        for rank, merge in enumerate(model.get("merges") or []):
            left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
            idx = vocab.get(left + right)
            if idx is not None and scores[idx] == 0.0:
                scores[idx] = -float(rank + 1)
    byte_fallback = bool(model.get("byte_fallback"))
    for idx, text in enumerate(tokens):
        if text is None:
            tokens[idx] = f"[PAD{idx}]"  # rows the embedding has beyond the tokenizer (as llama.cpp pads)
            types[idx] = int(T.UNUSED)
        elif byte_fallback and BYTE_TOKEN.match(text):
            types[idx] = int(T.BYTE)
    for idx, added in (getattr(tok, "added_tokens_decoder", None) or {}).items():
        if idx < size:
            types[idx] = int(T.CONTROL if added.special else T.USER_DEFINED)
    if tok.unk_token_id is not None:
        types[tok.unk_token_id] = int(T.UNKNOWN)
    special = {k: getattr(tok, f"{k}_token_id") for k in ("bos", "eos", "unk", "pad")}
    special = {k: int(v) for k, v in special.items() if isinstance(v, int)}
    eot = vocab.get("<end_of_turn>")
    if eot is not None:
        special["eot"] = eot
    probe = tok("a")["input_ids"]
    add_bos = bool(probe) and tok.bos_token_id is not None and probe[0] == tok.bos_token_id
    add_eos = bool(probe) and tok.eos_token_id is not None and probe[-1] == tok.eos_token_id
    normalizer = json.dumps(spec.get("normalizer") or {}, ensure_ascii=False)
    pre = json.dumps(spec.get("pre_tokenizer") or {}, ensure_ascii=False)
    add_space_prefix = '"Prepend"' in normalizer or ('"Metaspace"' in pre and '"never"' not in pre)
    spm_like = "▁" in normalizer or "▁" in pre
    exact = kind == "unigram" or (kind == "bpe" and byte_fallback and spm_like)
    template = tok.chat_template if isinstance(getattr(tok, "chat_template", None), str) else GEMMA_CHAT_TEMPLATE
    return GGUFVocab([str(t) for t in tokens], scores, types, special, add_bos, add_eos, add_space_prefix,
                     template, kind, exact)


# -- writing ----------------------------------------------------------------------------------------------


@dataclass
class _Planned:
    name: str
    source: tuple[Path, str]
    qtype: Any
    transform: Callable[[Any], Any] | None


def _qtype_for(gguf: Any, outtype: str, shape: tuple[int, ...]) -> Any:
    Q = gguf.GGMLQuantizationType
    if len(shape) < 2 or outtype == "f32":
        return Q.F32  # norms stay F32, as llama.cpp's converter keeps them
    if outtype == "f16":
        return Q.F16
    if outtype == "bf16":
        return Q.BF16
    # q8_0 works on blocks of 32 along the row; a row of another length stays f16.
    return Q.Q8_0 if shape[-1] % 32 == 0 else Q.F16


def _byte_shape(gguf: Any, shape: tuple[int, ...], qtype: Any) -> tuple[tuple[int, ...], Any, int]:
    """Shape and numpy dtype that GGUFWriter.add_tensor_info wants, and the byte count."""
    import numpy as np

    Q = gguf.GGMLQuantizationType
    n = math.prod(shape)
    if qtype == Q.F32:
        return shape, np.dtype(np.float32), n * 4
    if qtype == Q.F16:
        return shape, np.dtype(np.float16), n * 2
    block, type_size = gguf.GGML_QUANT_SIZES[qtype]
    return tuple(gguf.quant_shape_to_byte_shape(shape, qtype)), np.dtype(np.uint8), n // block * type_size


def _plan(spec: Gemma3Text, outtype: str) -> tuple[list[_Planned], list[tuple[int, ...]]]:
    """Which tensors go into the file, under which name, type and transform, in a stable order."""
    gguf = _gguf()
    from safetensors import safe_open

    text = spec.config
    index = _tensor_index(spec.folder)
    tied = bool(getattr(text, "tie_word_embeddings", False))
    if "lm_head.weight" not in index and not tied:
        # transformers drops a tied head on save; a missing head means the weights are tied.
        tied = True
    head_dim = int(getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads)
    llama_scale = (1.0 / math.sqrt(text.hidden_size / text.num_attention_heads) if spec.n_layer == 62
                   else 1.0 / math.sqrt(head_dim))
    hf_scale = float(getattr(text, "query_pre_attn_scalar", head_dim)) ** -0.5
    q_factor = hf_scale / llama_scale
    if abs(q_factor - 1.0) > 1e-7:
        spec.notes.append(f"attention scale folded into attn_q_norm (factor {q_factor:.6g})")
    planned: list[_Planned] = []
    shapes: list[tuple[int, ...]] = []
    for key in sorted(index, key=_order):
        if key == "lm_head.weight" and tied:
            continue
        if key.endswith("rotary_emb.inv_freq"):
            continue
        path, inner = index[key]
        with safe_open(str(path), framework="pt") as fh:
            shape = tuple(fh.get_slice(inner).get_shape())
        name = gguf_name(key, spec.n_layer)
        transform: Callable[[Any], Any] | None = None
        if key.endswith("norm.weight"):
            factor = q_factor if key.endswith("self_attn.q_norm.weight") else 1.0
            transform = (lambda w, f=factor: (w + 1.0) * f)  # Gemma's (1 + weight), stored as llama.cpp wants
        planned.append(_Planned(name, (path, inner), _qtype_for(gguf, outtype, shape), transform))
        shapes.append(shape)
    if not any(p.name == "token_embd.weight" for p in planned):
        raise InputError(f"{spec.folder} has no token embedding (model.embed_tokens.weight).")
    return planned, shapes


def _order(key: str) -> tuple[int, int, str]:
    """Embedding first, then layers in numeric order, then the final norm and head (llama.cpp's order)."""
    m = re.match(r"model\.layers\.(\d+)\.", key)
    if m:
        return (1, int(m.group(1)), key)
    return (0 if "embed_tokens" in key else 2, 0, key)


def export_gguf(model_folder: Path, out_file: Path, outtype: str = "f16", name: str | None = None,
                allow_inexact_tokenizer: bool = False) -> Path:
    """Write the Gemma 3 model in `model_folder` (safetensors) as a GGUF file at `out_file`.

    outtype: "f16" (default), "bf16", "f32" or "q8_0" (quantized here with gguf.quants; rows whose length is
    not a multiple of 32 stay f16). Norm weights stay f32. The file is written under a temporary name and
    renamed when complete, so a failure leaves nothing at `out_file`.

    A tokenizer llama.cpp cannot reproduce (word-level, or BPE without byte fallback) is refused unless
    `allow_inexact_tokenizer`: such a file has no byte tokens, and llama.cpp aborts the whole process when it
    meets text outside the vocabulary. Allowed, it is written with a warning (for tests that feed token ids).
    """
    if outtype not in OUTTYPES:
        raise InputError(f"Unknown GGUF outtype {outtype!r}; choose one of: {', '.join(OUTTYPES)}.")
    gguf = _gguf()
    model_folder, out_file = Path(model_folder), Path(out_file)
    spec = load_gemma3_config(model_folder)
    planned, shapes = _plan(spec, outtype)
    embd_rows = shapes[[p.name for p in planned].index("token_embd.weight")][0]
    vocab = gguf_vocab(model_folder, embd_rows)
    if not vocab.exact:
        message = (f"The {vocab.kind or 'unknown'} tokenizer of {model_folder} has no exact llama.cpp equivalent: "
                   "stored as a SentencePiece vocabulary without byte tokens, ids map to the same strings but "
                   "llama.cpp cannot tokenize arbitrary text with it (it aborts on text outside the vocabulary).")
        if not allow_inexact_tokenizer:
            raise InputError(message + " Pass allow_inexact_tokenizer=True only for models fed token ids.")
        warnings.warn(message + " Feed it token ids only.", stacklevel=2)
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]

    with atomic_path(out_file) as tmp:
        writer = gguf.GGUFWriter(None, ARCH)
        try:
            _write_metadata(gguf, writer, spec, vocab, name or model_folder.name, int(file_type))
            for p, shape in zip(planned, shapes):
                byte_shape, dtype, nbytes = _byte_shape(gguf, shape, p.qtype)
                raw = None if p.qtype in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16) else p.qtype
                writer.add_tensor_info(p.name, byte_shape, dtype, nbytes, raw_dtype=raw)
            writer.write_header_to_file(path=tmp)
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            # One tensor in memory at a time: a 4B model converts in a few GB.
            for p in planned:
                data = _load(*p.source)
                if p.transform is not None:
                    data = p.transform(data)
                writer.write_tensor_data(gguf.quants.quantize(data, p.qtype))
        finally:
            writer.close()
        publish(tmp)
    return out_file


def _write_metadata(gguf: Any, w: Any, spec: Gemma3Text, vocab: GGUFVocab, name: str, file_type: int) -> None:
    t = spec.config
    head_dim = int(getattr(t, "head_dim", None) or t.hidden_size // t.num_attention_heads)
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(name)
    w.add_license("gemma")
    w.add_description("Exported by MedGemma Studio (medgemma.export) from a transformers checkpoint.")
    w.add_file_type(file_type)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_context_length(int(t.max_position_embeddings))
    w.add_embedding_length(int(t.hidden_size))
    w.add_block_count(spec.n_layer)
    w.add_feed_forward_length(int(t.intermediate_size))
    w.add_head_count(int(t.num_attention_heads))
    w.add_head_count_kv(int(t.num_key_value_heads))
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_layer_norm_rms_eps(float(t.rms_norm_eps))
    w.add_rope_freq_base(float(spec.rope_full.get("rope_theta", 1_000_000.0)))
    if spec.rope_full.get("rope_type") == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(float(spec.rope_full["factor"]))
    w.add_sliding_window(int(t.sliding_window))
    w.add_rope_freq_base_swa(float(spec.rope_sliding.get("rope_theta", 10_000.0)))
    period = swa_period(spec.swa_layers)
    w.add_sliding_window_pattern(period if period is not None else list(spec.swa_layers))
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(vocab.tokens)
    w.add_token_scores(vocab.scores)
    w.add_token_types(vocab.types)
    for key, add in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id), ("unk", w.add_unk_token_id),
                     ("pad", w.add_pad_token_id), ("eot", w.add_eot_token_id)):
        if key in vocab.special:
            add(vocab.special[key])
    w.add_add_bos_token(vocab.add_bos)
    w.add_add_eos_token(vocab.add_eos)
    w.add_add_space_prefix(vocab.add_space_prefix)
    w.add_chat_template(vocab.chat_template)


def read_metadata(gguf_file: Path) -> dict[str, Any]:
    """The scalar and string metadata of a GGUF file (token arrays summarised by their length)."""
    gguf = _gguf()
    reader = gguf.GGUFReader(str(gguf_file))
    out: dict[str, Any] = {}
    for key, f in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        if f.types and f.types[0] == gguf.GGUFValueType.ARRAY and len(f.data) > 64:
            out[key] = f"[{len(f.data)} items]"
            continue
        try:
            out[key] = f.contents()
        except Exception:  # noqa: BLE001 - an odd field is reported, not fatal
            out[key] = "?"
    out["tensors"] = {t.name: (t.tensor_type.name, [int(x) for x in t.shape]) for t in reader.tensors}
    return out


def iter_gguf_tensors(gguf_file: Path) -> Iterator[tuple[str, Any]]:
    """(name, float32 numpy array in transformers' orientation) for each tensor of a GGUF file."""
    gguf = _gguf()
    reader = gguf.GGUFReader(str(gguf_file))
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type)
        yield t.name, data.reshape([int(x) for x in reversed(t.shape)])
