"""The one interface every text generator implements, and a cooperative stop signal."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Iterator, Sequence

from ..config import GenerationParams
from ..errors import BackendError
from ..types import Message


class NoOptionScores(BackendError):
    """The backend gives no token probabilities, so it cannot score answer options."""


class StopSignal:
    """Set by the UI's Stop button (or a disconnected client); a backend checks it between tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class BackendInfo:
    """What the status line shows about the loaded engine."""

    backend: str
    model: str
    device: str = "cpu"
    precision: str = ""
    adapter: str = ""
    memory_mb: float = 0.0

    def line(self) -> str:
        parts = [self.backend, self.model, self.device]
        if self.precision:
            parts.append(self.precision)
        parts.append(f"adapter: {self.adapter or 'none'}")
        if self.memory_mb:
            parts.append(f"{self.memory_mb:,.0f} MB")
        return " · ".join(parts)


class ChatBackend(ABC):
    """Turns chat messages into streamed text deltas."""

    name: ClassVar[str]

    @abstractmethod
    def stream(
        self, messages: Sequence[Message], params: GenerationParams, stop: StopSignal | None = None
    ) -> Iterator[str]:
        """Yield text pieces as they are generated; ends early when `stop` is set."""

    def generate(self, messages: Sequence[Message], params: GenerationParams) -> str:
        """The whole answer at once: by contract, the join of `stream`."""
        return "".join(self.stream(messages, params))

    def option_logprobs(self, messages: Sequence[Message], options: Sequence[str]) -> list[float]:
        """Log-probability of each option as the start of the answer to `messages` (for calibration).

        Engines that expose next-token probabilities override this; the rest cannot score options.
        """
        raise NoOptionScores(
            f"The {self.name} backend cannot score answer options (it gives no token probabilities); "
            "use the gguf or hf backend, or evaluate generated answers instead."
        )

    def reads_images(self) -> bool:
        """Whether the loaded model sees a message's `images`; text-only backends ignore them."""
        return False

    @property
    def n_ctx(self) -> int | None:
        """Tokens one request may hold, prompt and answer together; None when the backend cannot know (a remote
        server does not say), and then the caller cannot fit the prompt to the window."""
        return None

    def count_tokens(self, text: str) -> int | None:
        """Tokens in `text` under the model's tokenizer, without special tokens; None when the backend cannot
        count (a remote server). May load the model, so it also serves as a warm-up."""
        return None

    @abstractmethod
    def info(self) -> BackendInfo:
        """Model, device, precision and adapter, for the status line."""

    def close(self) -> None:
        """Release the model. The backend must not be used afterwards."""


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Text before the first stop string, and whether one was found."""
    cut = len(text)
    for s in stops:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut], cut < len(text)


def held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters could be the start of a stop string and must wait for more text."""
    keep = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:n]):
                keep = max(keep, n)
                break
    return keep


def until_stop(pieces: Iterable[str], stops: Sequence[str], stop: StopSignal | None = None) -> Iterator[str]:
    """Pass text through, ending before the first stop string or when `stop` is set.

    Text that could be the start of a stop string is held back until the next piece settles it, so no
    part of a stop string is ever emitted; what is still held when the pieces run out is text after all.
    """
    text = ""
    sent = 0
    for piece in pieces:
        if stop is not None and stop.is_set:
            return
        text += piece
        cut, found = cut_at_stop(text, stops)
        if found:
            if len(cut) > sent:
                yield cut[sent:]
            return
        ready = len(text) - held_back(text, stops)
        if ready > sent:
            yield text[sent:ready]
            sent = ready
    if len(text) > sent and not (stop is not None and stop.is_set):
        yield text[sent:]


def option_prefix(prompt: str) -> str:
    """What separates a prompt from an option scored after it: nothing after whitespace, else one space."""
    return "" if not prompt or prompt[-1].isspace() else " "


def log_softmax(logits: Any) -> Any:
    """Numerically stable log-softmax of a 1-D numpy array."""
    import numpy as np

    shifted = np.asarray(logits, dtype=np.float64) - float(np.max(logits))
    return shifted - float(np.log(np.exp(shifted).sum()))
