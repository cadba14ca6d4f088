"""The GGUF → transformers conversion of the default model, done once and cached as safetensors.

transformers can read Gemma 3 straight from the embedded GGUF, but it dequantizes every weight on each load
(about 100 s on 2 cores). Saved once as plain safetensors the same model loads in seconds. The folder
carries a `manifest.json` naming the GGUF it came from; a later call reuses the folder while that matches.

This module knows files and the conversion; it knows nothing about generation. torch and transformers are
imported inside the functions so `import medgemma` stays instant.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .assets import default_gguf
from .files import atomic_folder, atomic_write_text, sha256_file
from .errors import BackendError, MissingDependency

DEFAULT_HF_NAME = "gemma-3-270m-hf"
MANIFEST = "manifest.json"
FORMAT = 1  # bump when the conversion itself changes, so old caches are rebuilt

# Gemma's turn format as a chat template, for tools that call `apply_chat_template` (TRL, evaluation).
# It renders what `medgemma.prompts.gemma_chat` renders, with the leading <bos> that Gemma templates carry:
# the system text opens the first user turn (Gemma has no system role) and "assistant" becomes "model".
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set ns = namespace(system='', first=true) -%}"
    "{%- for m in messages if m['role'] == 'system' -%}"
    "{%- set ns.system = ns.system + ('\n\n' if ns.system else '') + m['content'] -%}"
    "{%- endfor -%}"
    "{%- for m in messages if m['role'] != 'system' -%}"
    "{%- set role = 'model' if m['role'] == 'assistant' else 'user' -%}"
    "{%- set content = m['content'] | trim -%}"
    "{%- if role == 'user' and ns.first and ns.system -%}"
    "{%- set content = ns.system + '\n\n' + content -%}{%- set ns.first = false -%}"
    "{%- endif -%}"
    "{{ '<start_of_turn>' + role + '\n' + content + '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


def _log(msg: str) -> None:
    print(f"[medgemma.convert] {msg}", file=sys.stderr, flush=True)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None when it is missing or unreadable."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_current(folder: Path, source_name: str, source_sha256: str) -> bool:
    """Whether `folder` holds a finished conversion of exactly this GGUF (by name and sha256).

    The transformers version is recorded for provenance but not compared: safetensors written by one
    version load in later ones, and a library upgrade should not cost another 100 s conversion.
    """
    m = read_manifest(folder)
    return (
        m is not None
        and m.get("format") == FORMAT
        and m.get("source_gguf") == source_name
        and m.get("source_sha256") == source_sha256
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )


def convert_gguf(gguf_path: Path, target: Path, source_sha256: str | None = None) -> Path:
    """Dequantize `gguf_path` into a transformers folder at `target` (safetensors + tokenizer + manifest).

    The folder is written beside `target` under a temporary name and renamed into place only when complete,
    so an interrupted conversion leaves nothing that looks finished.
    """
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils.quantization_config import GgufConfig
    except ImportError as exc:
        raise MissingDependency("transformers", "Converting the GGUF model for the hf backend") from exc
    gguf_path = Path(gguf_path)
    sha = source_sha256 or sha256_file(gguf_path)
    t0 = time.perf_counter()
    try:
        with atomic_folder(target) as tmp:
            _log(f"converting {gguf_path.name} to safetensors in {target} (once; about 100 s on 2 CPU cores)...")
            # dequantize=True: every weight becomes a plain float tensor, which is what save_pretrained can write.
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32,
                quantization_config=GgufConfig(dequantize=True),
            )
            _log(f"model read in {time.perf_counter() - t0:.0f} s; reading the tokenizer...")
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
            # The weights are dense now; without this marker save_pretrained refuses ("not serializable") and
            # config.json would claim a GGUF quantization that the saved files do not have.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            tokenizer.chat_template = GEMMA_CHAT_TEMPLATE  # the GGUF carries none
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            atomic_write_text(tmp / MANIFEST, json.dumps({
                "format": FORMAT,
                "source_gguf": gguf_path.name,
                "source_sha256": sha,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
                "dtype": "float32",
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }, indent=2) + "\n")
            del model
    except Exception as exc:
        if isinstance(exc, (BackendError, MissingDependency)):
            raise
        raise BackendError(f"Converting {gguf_path.name} for the hf backend failed: {exc}") from exc
    _log(f"done in {time.perf_counter() - t0:.0f} s: {target}")
    return target


def default_hf_model(cache_dir: Path) -> Path:
    """Folder of the embedded Gemma 3 270M as a transformers model, converting the GGUF on first use."""
    gguf = default_gguf(cache_dir)
    # default_gguf leaves a verified sha256 beside the file, which spares hashing 250 MB on every start.
    marker = gguf.with_suffix(".sha256")
    sha = marker.read_text().strip() if marker.is_file() else sha256_file(gguf)
    target = cache_dir / "models" / DEFAULT_HF_NAME
    if is_current(target, gguf.name, sha):
        return target
    return convert_gguf(gguf, target, sha)
