"""The assistant a running app serves: built once on first use, shared by every session.

Knows how to assemble an `Assistant` from an `AppConfig`; knows nothing about Gradio.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from .assistant import Assistant
from .backends import ChatBackend, load_backend
from .config import AppConfig, BackendConfig
from .errors import MedGemmaError
from .question_log import QuestionLog
from .rag.indexes import open_index
from .rag.retriever import Retriever
from .safety.triage import DEFAULT_DIR as TRIAGE_MODEL
from .safety.triage import TriageModel

KEPT_INDEXES = 3  # indexes other than the answering one kept open for search (each holds its vectors in memory)


class Runtime:
    """Holds the config and the lazily built assistant. Thread-safe."""

    def __init__(
        self,
        cfg: AppConfig,
        make_backend: Callable[[AppConfig], ChatBackend] = load_backend,
        open_index: Callable[[str, AppConfig], Retriever] = open_index,
        triage: Callable[[], TriageModel | None] | None = None,
    ) -> None:
        """`make_backend`, `open_index` and `triage` are how the parts are built; tests pass fakes."""
        self.cfg = cfg
        self._make_backend = make_backend
        self._open_index = open_index
        self._triage = triage or default_triage
        self._assistant: Assistant | None = None
        self._lock = threading.Lock()
        self._load_error = ""
        # The teaching-review log: every door records the questions it accepts here (off by default).
        self.questions = QuestionLog(cfg.logs_dir, cfg.log_questions, cfg.log_keep_days)
        self._indexes: OrderedDict[str, Retriever] = OrderedDict()  # indexes opened for search, not answering

    @classmethod
    def serving(cls, cfg: AppConfig, assistant: Assistant) -> "Runtime":
        """A runtime already holding `assistant` (an app around a given assistant, as tests build it)."""
        runtime = cls(cfg)
        runtime._assistant = assistant
        return runtime

    @property
    def ready(self) -> bool:
        """Whether the assistant is built, so `assistant()` returns at once (read without waiting for a load)."""
        return self._assistant is not None

    @property
    def load_error(self) -> str:
        """Why the last attempt to build the assistant or warm up its model failed; empty if it did not."""
        return self._load_error

    def assistant(self) -> Assistant:
        """The shared assistant, building the index and backend on first call."""
        with self._lock:
            if self._assistant is None:
                try:
                    retriever = self._open_index(self.cfg.retrieval.index, self.cfg)
                    self._assistant = self._build(self.cfg, self._make_backend(self.cfg), retriever)
                except MedGemmaError as exc:
                    self._load_error = str(exc)  # for a health check, which must not wait for a load
                    raise
                self._load_error = ""
            return self._assistant

    def index(self, name: str | None = None) -> Retriever:
        """The index `name` for search (default: the one answering, shared with the assistant). Another is
        opened on first use and the last few are kept; a missing one raises IndexStoreError."""
        if name is None or name == self.cfg.retrieval.index:
            retriever = self.assistant().retriever
            if retriever is not None:
                return retriever
            name = self.cfg.retrieval.index
        with self._lock:
            found = self._indexes.pop(name, None)
        if found is None:
            found = self._open_index(name, self.cfg)
        with self._lock:
            self._indexes[name] = found
            while len(self._indexes) > KEPT_INDEXES:
                self._indexes.popitem(last=False)
        return found

    def warm_up(self) -> None:
        """Load index, embedder and model now (in a background thread) so the first question is quick."""

        def run() -> None:
            try:
                assistant = self.assistant()
                assistant.term_stats()  # the coverage gate's counts, so the first question does not wait for them
                _warm(assistant.backend)
            except MedGemmaError as exc:  # the first real question reports it to the user too
                self._load_error = str(exc)
            except Exception:  # noqa: BLE001 - the first real question reports the error to the user
                pass

        threading.Thread(target=run, name="warm-up", daemon=True).start()

    def switch_backend(self, backend: BackendConfig) -> str:
        """Serve `backend` from now on, releasing the previous model. Returns a line saying what happened.

        The new backend is loaded before the old one is closed. If it cannot load (say a 4-bit model on a
        machine without CUDA), the message says why and the app serves GGUF on the CPU: the previous
        backend if it was one, else the embedded default.
        """
        try:
            new = self._make_backend(replace(self.cfg, backend=backend))
            _warm(new)
        except MedGemmaError as exc:
            if self.cfg.backend.backend == "gguf":
                return f"Could not switch to {backend.backend}: {exc} Still serving GGUF on the CPU."
            fallback = BackendConfig(n_ctx=self.cfg.backend.n_ctx, threads=self.cfg.backend.threads)
            note = self.switch_backend(fallback)
            return f"Could not switch to {backend.backend}: {exc} Fell back to GGUF on the CPU. {note}"
        self._install(replace(self.cfg, backend=backend), new)
        return f"Switched to {new.info().line()}"

    def switch_index(self, name: str) -> str:
        """Answer from index `name` from now on. A missing or corrupt index raises and changes nothing."""
        retriever = self._open_index(name, self.cfg)
        with self._lock:
            self.cfg = replace(self.cfg, retrieval=replace(self.cfg.retrieval, index=name))
            if self._assistant is not None:
                self._assistant = self._assistant.with_retriever(retriever)
        return f"Answering from index **{name}** ({len(retriever)} passages)."

    def _build(self, cfg: AppConfig, backend: ChatBackend, retriever: Retriever) -> Assistant:
        return Assistant(backend, retriever, cfg.retrieval, cfg.generation, cfg.max_message_chars,
                         self._triage() if cfg.triage_model else None, max_image_bytes=cfg.access.upload_bytes)

    def _install(self, cfg: AppConfig, backend: ChatBackend) -> None:
        with self._lock:
            old = self._assistant
            self.cfg = cfg
            self._load_error = ""  # the new backend loaded (switch_backend warmed it)
            if old is None:
                self._assistant = self._build(cfg, backend, self._open_index(cfg.retrieval.index, cfg))
            else:
                self._assistant = old.with_backend(backend)
                old.backend.close()
        gc.collect()  # the old model's memory is released now rather than at some later collection

    def close(self) -> None:
        with self._lock:
            if self._assistant is not None:
                self._assistant.backend.close()
                self._assistant = None


@functools.cache
def default_triage() -> TriageModel | None:
    """The shipped triage model, loaded once per process (about a second). Without its folder the rules work
    alone; a corrupt one is an error rather than a silently weaker filter."""
    return TriageModel.load(TRIAGE_MODEL) if (TRIAGE_MODEL / "triage.json").exists() else None


def _warm(backend: ChatBackend) -> None:
    # Backends load lazily; tokenising a word forces the load, so errors surface here and not mid-chat.
    backend.count_tokens("warm up")
