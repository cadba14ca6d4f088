"""The one road from a question to a reply: safety → retrieval → prompt → generation → answer check.

The UI, the CLI and the evaluators all call `Assistant.stream()` or `Assistant.answer()`; none of them
retrieves, prompts or filters on its own.
"""

from __future__ import annotations

import copy
import re
import threading
import weakref
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

from . import attribution, safety
from .backends.base import ChatBackend, StopSignal
from .config import AccessConfig, GenerationParams, RetrievalConfig
from .errors import InputError
from .images import load_image
from .prompts import build_messages, fit_passages
from .rag.retriever import Retriever
from .safety.triage import TriageModel
from .textclean import scrub
from .types import Message, Passage, Reply, Verdict

# Earlier turns kept in the prompt, and how much of each: the default model has a 2k-token window and
# the sources matter more than the conversation.
HISTORY_TURNS = 2
HISTORY_CHARS = 400
# Room kept for the instruction, question and turn markers, and a cautious characters-per-token figure for
# English medical text (Gemma's tokenizer averages about 4): together they keep the prompt inside n_ctx.
PROMPT_OVERHEAD_TOKENS = 300
CHARS_PER_TOKEN = 3.5


@dataclass(frozen=True)
class Partial:
    """A streamed snapshot: the text so far. The last item of a stream is the final `Reply` instead."""

    text: str
    passages: tuple[Passage, ...]


class Assistant:
    """Answers questions from retrieved sources with one backend. Thread-safe if its parts are."""

    def __init__(
        self,
        backend: ChatBackend,
        retriever: Retriever | None,
        retrieval: RetrievalConfig | None = None,
        generation: GenerationParams | None = None,
        max_message_chars: int = 4000,
        triage: TriageModel | None = None,
        max_image_bytes: int = AccessConfig().upload_bytes,
    ) -> None:
        self.backend = backend
        self.retriever = retriever
        self.retrieval = retrieval or RetrievalConfig()
        self.generation = generation or GenerationParams()
        self.max_message_chars = max_message_chars
        # The learned triage model beside the rules (None: the rules decide alone).
        self.triage = triage
        # An attached image is an upload: the app's upload limit applies to it wherever it comes from.
        self.max_image_bytes = max_image_bytes

    def check_input(self, question: str) -> str:
        """The question stripped, or InputError if it is empty or too long."""
        if question is not None and not isinstance(question, str):
            raise InputError("The question must be text.")
        text = scrub(question or "").strip()  # a lone surrogate cannot be encoded for any model
        if not text:
            raise InputError("Please type a question.")
        if len(text) > self.max_message_chars:
            raise InputError(
                f"The question has {len(text):,} characters; the limit is {self.max_message_chars:,}. "
                "Please shorten it."
            )
        return text

    def context_budget(self, params: GenerationParams | None = None) -> int:
        """Characters of passages that fit: the configured cap, or less when the model's window is small."""
        budget = self.retrieval.context_chars
        n_ctx = self.backend.n_ctx
        if n_ctx:  # None: the backend does not know its window, so the configured cap is all there is
            max_new = (params or self.generation).max_new_tokens
            room = n_ctx - max_new - PROMPT_OVERHEAD_TOKENS
            budget = min(budget, max(0, int(room * CHARS_PER_TOKEN)))
        return budget

    def retrieve(
        self,
        question: str,
        history: Sequence[Message] = (),
        k: int | None = None,
        params: GenerationParams | None = None,
    ) -> list[Passage]:
        """Passages for `question` that fit the model's window; a follow-up also searches with the previous question."""
        k = self.retrieval.k if k is None else k
        if self.retriever is None or k <= 0:
            return []
        query = _follow_up(question, history)
        found = self.retriever.search(query, k=k, mode=self.retrieval.mode, min_score=self.retrieval.min_score)
        if self.retrieval.focus_sentences:
            n = self.retrieval.focus_sentences
            found = [replace(p, text=attribution.focus(query, p.text, n)) for p in found]
        return fit_passages(found, self.context_budget(params))

    def verdict(self, question: str, region: str = "") -> Verdict:
        """The safety verdict on a checked question: the rules, then the triage model; no chat model runs.
        `region` (e.g. "GB") picks the emergency number the message gives."""
        return safety.decide(question, self.triage, region)

    def stream(
        self,
        question: str,
        history: Sequence[Message] = (),
        *,
        k: int | None = None,
        rag: bool = True,
        params: GenerationParams | None = None,
        stop: StopSignal | None = None,
        images: Sequence[str] = (),
        passages: Sequence[Passage] | None = None,
        region: str = "",
    ) -> Iterator[Partial | Reply]:
        """Yield `Partial` snapshots while the answer grows, then one final `Reply`.

        `images` (files) go to a multimodal model with the question; a text-only model answers from the
        text and the reply carries the flag `images_ignored`. `passages`, when given, are the sources
        instead of retrieval (evaluation with a gold context, or passages with an injected instruction).
        `region` (e.g. "GB") picks the emergency number an emergency or urgent message gives. An urgent or
        personal question's message leads the answer.
        """
        text = self.check_input(question)
        verdict = self.verdict(text, region)
        if verdict.blocks_model:
            yield Reply(text=verdict.message, passages=(), verdict=verdict)
            return
        params = params or self.generation
        found = self.sources(text, history, k=k, params=params, passages=_given(passages, rag))
        if rag and passages is None and self.retriever is not None and self.retrieval.coverage_gate:
            coverage = attribution.covers(_follow_up(text, history), [f"{p.title}. {p.text}" for p in found],
                                          self.term_stats())
            if not coverage.covered:
                # The model would answer from passages about something else; saying so is the honest reply.
                yield Reply(text=_lead(verdict, not_covered_message(coverage, bool(found))), passages=found,
                            verdict=verdict, flags=("not_covered",))
                return
        note = ""
        if verdict.action == "educate":
            note = "The reader asks about their own case: explain the general facts and send them to a clinician."
        elif verdict.action == "urgent":
            note = "The reader may need care today: explain the general facts only; do not reassure."
        messages = build_messages(text, found, _trim_history(history), note=note)
        notices: tuple[str, ...] = ()
        if images:
            if self.backend.reads_images():
                for path in images:
                    # A broken or oversized file is the reader's error, before the model is busy.
                    load_image(path, self.max_image_bytes)
                messages[-1]["images"] = [str(p) for p in images]
            else:
                notices = ("images_ignored",)
        generated = ""
        for delta in self.backend.stream(messages, params, stop):
            generated += delta
            yield Partial(generated, found)
        checked = safety.check_answer(generated, found, strict=self.strict)
        final = checked.text
        if not found:
            notices += ("unsourced",)
            final = f"{UNSOURCED_NOTE}\n\n{final}"
        yield Reply(text=_lead(verdict, final), passages=found, verdict=verdict, cited=checked.cited,
                    flags=notices + checked.flags, raw_text=generated, support=checked.support)

    def term_stats(self) -> attribution.TermStats | None:
        """How rare each term is in the index (for the coverage gate), counted once per index (~2.5 s for
        16,000 passages) and shared by the copies of this assistant."""
        if self.retriever is None:
            return None
        with _STATS_LOCK:
            stats = _STATS.get(self.retriever)
            if stats is None:
                stats = attribution.TermStats([f"{c.title}. {c.text}" for c in self.retriever.chunks])
                _STATS[self.retriever] = stats
            return stats

    @property
    def strict(self) -> bool:
        """Whether unsupported sentences are removed (small models that copy) rather than marked."""
        if self.retrieval.attribution != "auto":
            return self.retrieval.attribution == "strict"
        return not paraphrases(self.backend)

    def sources(
        self,
        question: str,
        history: Sequence[Message] = (),
        *,
        k: int | None = None,
        params: GenerationParams | None = None,
        passages: Sequence[Passage] | None = None,
    ) -> tuple[Passage, ...]:
        """The passages an answer reads: the given ones (trimmed to the window; () for none), or retrieved
        ones when `passages` is None."""
        if passages is not None:
            return tuple(fit_passages(passages, self.context_budget(params)))
        return tuple(self.retrieve(question, history, k, params))

    def score_options(
        self,
        question: str,
        options: Sequence[str],
        *,
        k: int | None = None,
        rag: bool = True,
        passages: Sequence[Passage] | None = None,
    ) -> tuple[list[float], tuple[Passage, ...]]:
        """Log-likelihood of each option as the answer, from the same sources and prompt an answer gets.

        No safety gate: nothing is shown to a reader, and a scored exam vignette ("chest pain, 55-year-old")
        is not an emergency.
        """
        text = self.check_input(question)
        found = self.sources(text, k=k, passages=_given(passages, rag))
        return self.backend.option_logprobs(build_messages(text, found), options), found

    def answer(self, question: str, history: Sequence[Message] = (), **kwargs: object) -> Reply:
        """The final reply of `stream`."""
        *_, last = self.stream(question, history, **kwargs)  # type: ignore[arg-type]
        return last  # type: ignore[return-value]  # a stream always ends with its Reply

    def with_backend(self, backend: ChatBackend) -> "Assistant":
        """The same assistant on another backend (the caller closes the old one)."""
        return self._copy(backend=backend)

    def with_retriever(self, retriever: Retriever | None) -> "Assistant":
        """The same assistant answering from another index."""
        return self._copy(retriever=retriever)

    def with_retrieval(self, **changes: object) -> "Assistant":
        """The same assistant with some retrieval settings changed (k, mode, min_score...)."""
        return self._copy(retrieval=replace(self.retrieval, **changes))  # type: ignore[arg-type]

    def _copy(self, **changes: object) -> "Assistant":
        new = copy.copy(self)
        new.__dict__.update(changes)
        return new


_STATS: "weakref.WeakKeyDictionary[Retriever, attribution.TermStats]" = weakref.WeakKeyDictionary()
_STATS_LOCK = threading.Lock()
def _lead(verdict: Verdict, text: str) -> str:
    """An urgent or personal question's message, then the answer."""
    return f"{verdict.message}\n\n{text}" if verdict.action in ("educate", "urgent") and verdict.message else text


UNSOURCED_NOTE = "(From the model alone, without sources: nothing below can be checked against a passage.)"


def not_covered_message(coverage: attribution.Coverage, shown: bool = True) -> str:
    """The reply when the passages found (`shown` below it, if any) do not name the question's subject."""
    subject = f" *{coverage.subject}*" if coverage.missing else " this question"
    closest = ("The closest passages found are listed below; they are about something else, so no answer was "
               "written from them." if shown else "No passage came close, so no answer was written.")
    return (f"The sources here do not cover{subject}. {closest} To get an answer from the model alone, without "
            "sources, ask again with sources turned off (\"Answer from sources\" in the app, `\"rag\": false` on "
            f"the API); it will be labelled unsourced and cannot be checked.\n\n{safety.DISCLAIMER}")


def paraphrases(backend: ChatBackend) -> bool:
    """Whether a backend's model rewrites what it reads (MedGemma, a server's model) rather than copying it, as
    the small embedded model does: its faithful sentences need the lenient check."""
    if backend.name == "openai":
        return True
    model = backend.info().model.lower()
    return "medgemma" in model or bool(re.search(r"(?<![\d.])([2-9]|\d{2,})(\.\d+)?b\b", model))


def _follow_up(question: str, history: Sequence[Message]) -> str:
    # Follow-ups ("and how is it treated?") name their subject only in the earlier question.
    previous = [m["content"] for m in history if m["role"] == "user"]
    return f"{previous[-1][-HISTORY_CHARS:]} {question}" if previous else question


def _trim_history(history: Sequence[Message]) -> list[Message]:
    kept = [m for m in history if m["role"] in ("user", "assistant") and isinstance(m.get("content"), str)]
    kept = kept[-2 * HISTORY_TURNS :]
    return [{"role": m["role"], "content": _strip_notes(m["content"])[:HISTORY_CHARS]} for m in kept]


def _strip_notes(text: str) -> str:
    # The disclaimer and redirect are for the reader; repeating them to the model wastes its window.
    for fixed in (safety.DISCLAIMER, safety.PERSONAL_REDIRECT):
        text = text.replace(fixed, "")
    return text.strip()


def _given(passages: Sequence[Passage] | None, rag: bool) -> Sequence[Passage] | None:
    """The passages to read as `sources` takes them: the given ones, none without retrieval, else None."""
    return passages if passages is not None or rag else ()
