"""The assistant a running app serves: built once on first use, shared by every session.

Knows how to assemble an `Assistant` from an `AppConfig`; knows nothing about Gradio.
"""

from __future__ import annotations

import threading

from .assistant import Assistant
from .backends import load_backend
from .config import AppConfig
from .rag.indexes import open_index


class Runtime:
    """Holds the config and the lazily built assistant. Thread-safe."""

    def __init__(self, cfg: AppConfig) -> None:
        self.cfg = cfg
        self._assistant: Assistant | None = None
        self._lock = threading.Lock()

    def assistant(self) -> Assistant:
        """The shared assistant, building the index and backend on first call."""
        with self._lock:
            if self._assistant is None:
                retriever = open_index(self.cfg.retrieval.index, self.cfg)
                backend = load_backend(self.cfg)
                self._assistant = Assistant(
                    backend, retriever, self.cfg.retrieval, self.cfg.generation, self.cfg.max_message_chars
                )
            return self._assistant

    def warm_up(self) -> None:
        """Load index, embedder and model now (in a background thread) so the first question is quick."""

        def run() -> None:
            try:
                a = self.assistant()
                warm = getattr(a.backend, "count_tokens", None)
                if warm is not None:
                    warm("warm up")
            except Exception:  # noqa: BLE001 - the first real question reports the error to the user
                pass

        threading.Thread(target=run, name="warm-up", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self._assistant is not None:
                self._assistant.backend.close()
                self._assistant = None
