"""Backends behind one interface (`ChatBackend`) and the factory that picks one from config."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..assets import default_gguf
from ..config import AppConfig, BackendConfig
from ..errors import InputError
from .base import BackendInfo, ChatBackend, StopSignal

BACKENDS = ("gguf", "hf", "openai")
# The grounded-answer LoRA trained for the embedded 270M and shipped under adapters/.
SHIPPED_ADAPTER = "grounded-270m"
# Answers llama-server decodes together by default. On 2 cores 12 slots kept time to first token at 20
# visitors under the targets where 4 did not (README, "A classroom"); answers per minute barely change,
# because prefill, not decode, is what the cores run out of.
SERVER_SLOTS = 12
# Answers worked on at once for an OpenAI-compatible server, whose own capacity is not known here.
REMOTE_ANSWERS = 4

__all__ = ["BACKENDS", "SHIPPED_ADAPTER", "BackendInfo", "ChatBackend", "StopSignal", "chosen_adapter",
           "answers_at_once", "load_backend", "resolve_adapter"]


def resolve_adapter(name: str, adapters_dir: Path) -> Path:
    """The folder of adapter `name` under `adapters_dir`; names that leave the folder are refused."""
    root = adapters_dir.resolve()
    shown = repr(name if len(name) <= 80 else name[:80] + "...")
    inside = found = False
    try:
        path = (root / name).resolve()
        inside = bool(name) and path.parent == root
        found = inside and path.is_dir()
    except (OSError, ValueError):  # a NUL byte, or a name too long for the file system
        inside = False
    if not inside:
        raise InputError(f"Adapter name {shown} is not allowed: give a folder name under {adapters_dir}.")
    if not found:
        known = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise InputError(f"No adapter {shown} in {adapters_dir}. Known adapters: {', '.join(known) or 'none'}.")
    return path


def chosen_adapter(b: BackendConfig, adapters_dir: Path) -> str:
    """The adapter a config means: 'auto' is the shipped one, for the embedded model, when this backend can
    apply it (a GGUF LoRA for gguf, PEFT weights for hf); anything else is taken as given."""
    if b.adapter != "auto":
        return b.adapter
    if b.model or b.backend == "openai":
        return ""
    folder = adapters_dir / SHIPPED_ADAPTER
    needs = "adapter.gguf" if b.backend == "gguf" else "adapter_model.safetensors"
    return SHIPPED_ADAPTER if (folder / needs).is_file() else ""


def prompt_style(b: BackendConfig) -> str:
    """The prompt layout to use. 'auto' picks 'fewshot' for the embedded base model without an adapter
    (it measured best for an untuned 270M: bench/prompt_bench.py) and 'chat' for anything else, which is
    assumed to be instruction-tuned."""
    if b.prompt_style != "auto":
        return b.prompt_style
    return "fewshot" if not b.model and not b.adapter else "chat"


def gguf_server(engine: str) -> Path | None:
    """The llama-server binary the GGUF backend should run on, or None for the in-process engine."""
    if engine not in ("auto", "server", "inprocess"):
        raise InputError(f"Unknown GGUF engine {engine!r}; choose auto, server or inprocess.")
    if engine == "inprocess":
        return None
    from .llama_server import find_llama_server

    binary = find_llama_server()
    if binary is None and engine == "server":
        raise InputError("The GGUF server engine needs llama-server, which scripts/setup.sh builds; "
                         "set MEDGEMMA_GGUF_ENGINE=inprocess to run without it.")
    return binary


def answers_at_once(b: BackendConfig) -> int:
    """How many answers the backend `b` names can work on together: the llama-server engine's slots, 1 for
    the in-process GGUF engine and hf (each generates one sequence at a time behind a lock, so more would
    only hide the queue behind it), a few for a remote server."""
    if b.backend == "gguf":
        try:
            return SERVER_SLOTS if gguf_server(b.gguf_engine) is not None else 1
        except InputError:  # engine 'server' without the binary: load_backend says so when the model loads
            return SERVER_SLOTS
    return 1 if b.backend == "hf" else REMOTE_ANSWERS


def load_backend(cfg: AppConfig) -> ChatBackend:
    """Create the backend named in `cfg.backend`. Models load lazily, on first generation."""
    b = replace(cfg.backend, adapter=chosen_adapter(cfg.backend, cfg.adapters_dir))
    if b.backend == "gguf":
        from .gguf import GGUFBackend

        model = Path(b.model).expanduser() if b.model else default_gguf(cfg.cache_dir)
        lora = None
        if b.adapter:
            lora = resolve_adapter(b.adapter, cfg.adapters_dir) / "adapter.gguf"
            if not lora.is_file():
                raise InputError(f"Adapter {b.adapter!r} has no GGUF LoRA (adapter.gguf); export it first.")
        binary = gguf_server(b.gguf_engine)
        if binary is not None:
            from .llama_server import GGUFServerBackend

            return GGUFServerBackend(model, binary, slots=cfg.access.chat_concurrency, n_ctx=b.n_ctx,
                                     threads=b.threads, lora_path=lora, prompt_style=prompt_style(b),
                                     adapter_name=b.adapter)
        return GGUFBackend(model, n_ctx=b.n_ctx, threads=b.threads, lora_path=lora,
                           prompt_style=prompt_style(b), adapter_name=b.adapter)
    if b.backend == "hf":
        from ..convert import default_hf_model
        from .hf import HFBackend, plan_device

        plan_device(b.device, b.quantization)  # refuse settings this machine cannot honour before converting
        model = b.model or default_hf_model(cfg.cache_dir)
        adapter = resolve_adapter(b.adapter, cfg.adapters_dir) if b.adapter else None
        return HFBackend(model, device=b.device, quantization=b.quantization, prompt_style=prompt_style(b),
                         adapter_path=adapter, adapter_name=b.adapter, threads=b.threads)
    if b.backend == "openai":
        from .openai import OpenAIBackend

        if not b.base_url:
            raise InputError("The openai backend needs base_url (MEDGEMMA_BASE_URL), e.g. http://127.0.0.1:8000/v1.")
        return OpenAIBackend(b.base_url, api_model=b.api_model, api_key=b.api_key,
                             system_in_user_turn=b.system_in_user_turn)
    raise InputError(f"Unknown backend {b.backend!r}; choose one of: {', '.join(BACKENDS)}.")
