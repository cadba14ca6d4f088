"""Quantize a GGUF with llama.cpp's own quantizer (`llama_model_quantize`, exposed by llama-cpp-python).

The input should be an f32/f16/bf16 GGUF (the export from gguf_model.py); requantizing an already quantized
file loses quality twice and is refused. Mixed types such as q4_k_m keep some tensors at higher precision
(llama.cpp decides which), and a tensor whose rows do not fit the type's block size falls back to another
type (llama.cpp logs it), as it does for the tiny test model.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from ..errors import BackendError, InputError, MissingDependency
from ..files import atomic_path, publish

# Names accepted here → llama.cpp's llama_ftype enum member (LLAMA_FTYPE_MOSTLY_<NAME> in llama_cpp.py).
QTYPES = ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m",
          "q5_k_s", "q5_k_m", "q6_k", "iq4_nl", "iq4_xs", "f16", "bf16")


def ftype_of(qtype: str) -> int:
    """llama.cpp's llama_ftype number for a quantization name such as "q4_k_m"."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise MissingDependency("llama-cpp-python", "Quantizing a GGUF") from exc
    q = qtype.lower()
    value = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{q.upper()}", None) if q in QTYPES else None
    if value is None:
        raise InputError(f"Unknown quantization {qtype!r}; choose one of: {', '.join(QTYPES)}.")
    return int(value)


def quantize_gguf(in_file: Path, out_file: Path, qtype: str = "q4_k_m", threads: int = 0) -> Path:
    """Quantize `in_file` to `qtype` into `out_file` with llama.cpp; written atomically (nothing on failure)."""
    import llama_cpp

    ftype = ftype_of(qtype)
    in_file, out_file = Path(in_file), Path(out_file)
    if not in_file.is_file():
        raise InputError(f"GGUF {in_file} does not exist.")
    if in_file.resolve() == out_file.resolve():
        raise InputError("Quantize into a new file: the input is read while the output is written.")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads or min(os.cpu_count() or 1, 4)
    params.allow_requantize = False  # quantizing a quantized file compounds the error: refuse it
    with atomic_path(out_file) as tmp:
        rc = llama_cpp.llama_model_quantize(str(in_file).encode("utf-8"), str(tmp).encode("utf-8"),
                                            ctypes.byref(params))
        if rc != 0:
            raise BackendError(f"llama.cpp could not quantize {in_file.name} to {qtype} (code {rc}); the input must "
                               "be an f32, f16 or bf16 GGUF that llama.cpp can load (see its log above).")
        if tmp.stat().st_size == 0:
            raise BackendError(f"llama.cpp wrote an empty file quantizing {in_file.name}.")
        publish(tmp)
    return out_file
