"""Backends behind one interface (`ChatBackend`) and the factory that picks one from config."""

from __future__ import annotations

from pathlib import Path

from ..assets import default_gguf
from ..config import AppConfig
from ..errors import InputError
from .base import BackendInfo, ChatBackend, StopSignal

BACKENDS = ("gguf",)

__all__ = ["BACKENDS", "BackendInfo", "ChatBackend", "StopSignal", "load_backend", "resolve_adapter"]


def resolve_adapter(name: str, adapters_dir: Path) -> Path:
    """The folder of adapter `name` under `adapters_dir`; names that leave the folder are refused."""
    root = adapters_dir.resolve()
    path = (root / name).resolve()
    if not name or path.parent != root:
        raise InputError(f"Adapter name {name!r} is not allowed: give a folder name under {adapters_dir}.")
    if not path.is_dir():
        known = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise InputError(f"No adapter {name!r} in {adapters_dir}. Known adapters: {', '.join(known) or 'none'}.")
    return path


def load_backend(cfg: AppConfig) -> ChatBackend:
    """Create the backend named in `cfg.backend`. Models load lazily, on first generation."""
    b = cfg.backend
    if b.backend == "gguf":
        from .gguf import GGUFBackend

        model = Path(b.model).expanduser() if b.model else default_gguf(cfg.cache_dir)
        lora = None
        if b.adapter:
            lora = resolve_adapter(b.adapter, cfg.adapters_dir) / "adapter.gguf"
            if not lora.is_file():
                raise InputError(f"Adapter {b.adapter!r} has no GGUF LoRA (adapter.gguf); export it first.")
        return GGUFBackend(model, n_ctx=b.n_ctx, threads=b.threads, lora_path=lora,
                           prompt_style=b.prompt_style, adapter_name=b.adapter)
    raise InputError(f"Unknown backend {b.backend!r}; choose one of: {', '.join(BACKENDS)}.")
