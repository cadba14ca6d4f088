"""Test doubles: a scripted backend and a bag-of-words embedder, both deterministic and instant."""

from __future__ import annotations

import hashlib
import re
from typing import Iterator, Sequence

import numpy as np

from medgemma.backends.base import BackendInfo, ChatBackend, StopSignal, cut_at_stop
from medgemma.config import GenerationParams
from medgemma.types import Message


class FakeBackend(ChatBackend):
    """Streams `script` word by word (or, by default, the first sentence of every numbered source it was given,
    each citing its source, as the small model copies them)."""

    name = "fake"

    def __init__(self, script: str | None = None, vision: bool = False, n_ctx: int | None = None) -> None:
        self.script = script
        self.vision = vision
        self._n_ctx = n_ctx
        self.calls: list[list[Message]] = []
        self.closed = False

    def reads_images(self) -> bool:
        return self.vision

    @property
    def n_ctx(self) -> int | None:
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        return len(text.split())  # its tokens are the words it streams

    def _answer(self, messages: Sequence[Message]) -> str:
        if self.script is not None:
            return self.script
        last = messages[-1]["content"]
        quoted = []
        for n, text in re.findall(r"^\[(\d+)\][^\n]*\n(.+)$", last, flags=re.M):
            first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0].rstrip(".!?")
            quoted.append(f"{first} [{n}].")
        return " ".join(quoted) or "The sources here do not cover this question."

    def stream(
        self, messages: Sequence[Message], params: GenerationParams, stop: StopSignal | None = None
    ) -> Iterator[str]:
        if self.closed:
            raise RuntimeError("backend used after close")
        self.calls.append(list(messages))
        text, _ = cut_at_stop(self._answer(messages), params.stop)
        words = re.findall(r"\S+\s*", text)[: params.max_new_tokens]
        for w in words:
            if stop is not None and stop.is_set:
                return
            yield w

    def info(self) -> BackendInfo:
        return BackendInfo(backend="fake", model="scripted")

    def close(self) -> None:
        self.closed = True


class HashEmbedder:
    """Bag-of-words vectors from hashed, lowercased words: similar wording gives similar vectors."""

    def __init__(self, dim: int = 256, name: str = "hash-bow") -> None:
        self.dim = dim
        self.name = name

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(re.findall(r"[a-z0-9]+", t.lower())) for t in texts]

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out
