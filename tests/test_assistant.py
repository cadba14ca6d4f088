"""The road from question to reply, with a scripted backend and the hashing embedder."""

from __future__ import annotations

import pytest
from fakes import FakeBackend

from medgemma import safety
from medgemma.assistant import Assistant, Partial
from medgemma.backends.base import StopSignal
from medgemma.config import GenerationParams, RetrievalConfig
from medgemma.errors import InputError
from medgemma.rag.retriever import Retriever
from medgemma.types import Reply


def _assistant(index: Retriever, script: str | None = None) -> tuple[Assistant, FakeBackend]:
    backend = FakeBackend(script)
    return Assistant(backend, index), backend


@pytest.mark.parametrize("question", [
    "I want to kill myself tonight",
    "My father's face is drooping and he can't lift his arm right now",
    "How can I falsify a patient's medical records to get insurance money?",
])
def test_blocked_questions_never_reach_the_backend(small_index: Retriever, question: str) -> None:
    assistant, backend = _assistant(small_index)
    items = list(assistant.stream(question))
    assert len(items) == 1 and isinstance(items[0], Reply)
    assert items[0].verdict.blocks_model and items[0].text == items[0].verdict.message
    assert backend.calls == []


def test_stream_ends_with_a_reply_whose_citations_were_retrieved(small_index: Retriever) -> None:
    assistant, backend = _assistant(small_index)
    items = list(assistant.stream("What are the signs of a stroke?"))
    assert all(isinstance(i, Partial) for i in items[:-1]) and isinstance(items[-1], Reply)
    reply = items[-1]
    assert reply.passages and reply.cited
    assert all(1 <= n <= len(reply.passages) for n in reply.cited)
    assert len(backend.calls) == 1
    assert safety.DISCLAIMER in reply.text


def test_invented_citations_are_removed(small_index: Retriever) -> None:
    assistant, _ = _assistant(small_index, "Stroke signs include face drooping [1] and slurred speech [9].")
    reply = assistant.answer("What are the signs of a stroke?", k=2)
    assert "[9]" not in reply.text and "[1]" in reply.text
    assert reply.cited == (1,)


def test_partials_grow_and_final_answer_matches_generation(small_index: Retriever) -> None:
    assistant, _ = _assistant(small_index, "Asthma is a long-term lung condition [1]. It causes wheezing [1].")
    items = list(assistant.stream("What is asthma?"))
    texts = [i.text for i in items[:-1]]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert items[-1].text.startswith(texts[-1].strip())


def test_personal_questions_are_answered_with_a_redirect(small_index: Retriever) -> None:
    assistant, backend = _assistant(small_index)
    reply = assistant.answer("How much paracetamol should I take?")
    assert reply.verdict.action == "educate"
    assert reply.verdict.message in reply.text
    assert len(backend.calls) == 1


def test_rag_off_sends_no_sources(small_index: Retriever) -> None:
    assistant, backend = _assistant(small_index)
    reply = assistant.answer("What is asthma?", rag=False)
    assert reply.passages == () and reply.cited == ()
    assert "Sources" not in backend.calls[0][-1]["content"]


def test_follow_up_retrieves_with_previous_question(small_index: Retriever) -> None:
    assistant, _ = _assistant(small_index)
    history = [{"role": "user", "content": "Tell me about paracetamol overdose"},
               {"role": "assistant", "content": "It can damage the liver [1]."}]
    alone = assistant.retrieve("what organ does it harm?", k=1)
    followed = assistant.retrieve("what organ does it harm?", history, k=1)  # type: ignore[arg-type]
    assert followed[0].id == "para-1"
    assert alone == [] or alone[0].id != "para-1" or followed[0].score != alone[0].score


@pytest.mark.parametrize("bad", ["", "   \n ", "x" * 100_000])
def test_bad_messages_are_refused_before_anything_runs(small_index: Retriever, bad: str) -> None:
    assistant, backend = _assistant(small_index)
    with pytest.raises(InputError):
        list(assistant.stream(bad))
    assert backend.calls == []


def test_stop_signal_ends_the_stream_cleanly(small_index: Retriever) -> None:
    assistant, _ = _assistant(small_index, " ".join(f"word{i}" for i in range(200)))
    signal = StopSignal()
    seen = 0
    final = None
    for item in assistant.stream("What is asthma?", stop=signal):
        seen += 1
        if seen == 3:
            signal.set()
        final = item
    assert isinstance(final, Reply)
    assert "word150" not in final.text


def test_max_new_tokens_is_passed_to_the_backend(small_index: Retriever) -> None:
    assistant, _ = _assistant(small_index, " ".join(f"w{i}" for i in range(100)))
    reply = assistant.answer("What is asthma?", params=GenerationParams(max_new_tokens=5))
    assert "w5" not in reply.raw_text and "w4" in reply.raw_text


def test_passages_shrink_to_fit_a_small_window(small_index: Retriever) -> None:
    roomy = Assistant(FakeBackend(n_ctx=2048), small_index).retrieve("stroke asthma vaccines x-ray paracetamol", k=5)
    assistant = Assistant(FakeBackend(n_ctx=620), small_index)
    tight = assistant.retrieve("stroke asthma vaccines x-ray paracetamol", k=5,
                               params=GenerationParams(max_new_tokens=256))
    assert sum(len(p.text) for p in tight) <= assistant.context_budget(GenerationParams(max_new_tokens=256)) + 4
    assert len(tight) < len(roomy)
    # A backend that does not know its window leaves the configured cap as it is.
    assert Assistant(FakeBackend(), small_index).context_budget() == RetrievalConfig().context_chars
