"""GGUF models on the CPU through llama-cpp-python, with Gemma's turn format and optional GGUF LoRA.

The model loads on first use and is shared by every user of the process; one lock serialises
generation because a llama.cpp context holds one sequence at a time.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..config import GenerationParams
from ..errors import BackendError, InputError, require
from ..prompts import render, stops_for
from ..types import Message
from .base import BackendInfo, ChatBackend, StopSignal, log_softmax, option_prefix


class GGUFBackend(ChatBackend):
    """llama.cpp inference of one GGUF file, optionally with a GGUF LoRA applied at load time."""

    name = "gguf"

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 2048,
        threads: int = 0,
        lora_path: Path | None = None,
        prompt_style: str = "chat",
        adapter_name: str = "",
    ) -> None:
        if not Path(model_path).is_file():
            raise InputError(f"GGUF model {model_path} does not exist.")
        if lora_path is not None and not Path(lora_path).is_file():
            raise InputError(f"GGUF LoRA {lora_path} does not exist.")
        self.model_path = Path(model_path)
        self.lora_path = lora_path
        self._n_ctx = n_ctx
        self.threads = threads or os.cpu_count() or 1
        self.prompt_style = prompt_style
        self.adapter_name = adapter_name
        self._llm: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._llm is None:
            llama_cpp = require("llama_cpp", "llama-cpp-python", "The GGUF backend")
            kwargs: dict[str, Any] = dict(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=False,
            )
            if self.lora_path is not None:
                kwargs["lora_path"] = str(self.lora_path)
            try:
                self._llm = llama_cpp.Llama(**kwargs)  # type: ignore[attr-defined]
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"llama.cpp could not load {self.model_path.name}: {exc}") from exc
        return self._llm

    @property
    def n_ctx(self) -> int:
        """The context window the model was loaded with."""
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` under this model's tokenizer."""
        with self._lock:
            return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(
        self, messages: Sequence[Message], params: GenerationParams, stop: StopSignal | None = None
    ) -> Iterator[str]:
        prompt = render(messages, self.prompt_style)
        with self._lock:
            llm = self._model()
            n_prompt = len(llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
            room = self.n_ctx - n_prompt
            if room < 8:
                raise InputError(
                    f"The prompt has {n_prompt} tokens and the context window {self.n_ctx}: "
                    "ask a shorter question or use fewer passages."
                )
            # llama.cpp reuses the KV cache of a matching prompt prefix, and greedy text after a reused
            # prefix can differ from text after a fresh prefill: reset so the same request always gives
            # the same answer (the cost is re-reading the shared instruction, ~0.5 s).
            llm.reset()
            pieces = llm.create_completion(
                prompt,
                max_tokens=min(params.max_new_tokens, room),
                temperature=params.temperature,
                top_p=params.top_p,
                repeat_penalty=params.repeat_penalty,
                seed=params.seed,
                stop=list(stops_for(self.prompt_style)) + list(params.stop),
                stream=True,
            )
            try:
                for piece in pieces:
                    if stop is not None and stop.is_set:
                        break
                    text = piece["choices"][0]["text"]
                    if text:
                        yield text
            finally:
                pieces.close()

    def option_logprobs(self, messages: Sequence[Message], options: Sequence[str]) -> list[float]:
        """Sum of token log-probabilities of each option after the prompt; the prompt is read once."""
        import numpy as np

        llama_cpp = require("llama_cpp", "llama-cpp-python", "The GGUF backend")
        prompt = render(messages, self.prompt_style)
        sep = option_prefix(prompt)
        with self._lock:
            llm = self._model()
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            conts = [llm.tokenize((sep + o).encode("utf-8"), add_bos=False, special=False) for o in options]
            longest = max((len(c) for c in conts), default=0)
            if len(tokens) + longest > self.n_ctx:
                raise InputError(f"The prompt has {len(tokens)} tokens and the context window {self.n_ctx}.")
            n_vocab = llm.n_vocab()

            def last() -> Any:
                # Without logits_all llama.cpp keeps the logits of the last evaluated token only: enough here.
                row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
                return log_softmax(np.ctypeslib.as_array(row, shape=(n_vocab,)))

            llm.reset()
            llm.eval(tokens)
            first = last()
            n_prompt = llm.n_tokens
            scores: list[float] = []
            for cont in conts:
                total = float(first[cont[0]]) if cont else 0.0
                for prev, nxt in zip(cont, cont[1:]):
                    llm.eval([prev])
                    total += float(last()[nxt])
                llm.n_tokens = n_prompt  # the next eval drops the cache past the prompt
                scores.append(total)
            llm.reset()
            return scores

    def info(self) -> BackendInfo:
        return BackendInfo(
            backend=self.name,
            model=self.model_path.name,
            device=f"cpu ({self.threads} threads)",
            precision=_quant_label(self.model_path.name),
            adapter=self.adapter_name,
            memory_mb=_rss_mb(),
        )

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


def _quant_label(filename: str) -> str:
    lowered = filename.lower()
    for q in ("q4_k_m", "q4_k_s", "q5_k_m", "q6_k", "q8_0", "q4_0", "f16", "bf16", "f32"):
        if q in lowered:
            return q
    return "gguf"


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e6
    except ImportError:
        return 0.0
