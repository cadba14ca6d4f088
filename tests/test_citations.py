"""The citation grammar, sentence attribution and the coverage gate."""

from __future__ import annotations

import pytest
from fakes import FakeBackend

from medgemma import attribution, citations
from medgemma.assistant import Assistant
from medgemma.attribution import TermStats, covers, support
from medgemma.rag.retriever import Retriever


def test_markers_of_every_form_are_read_and_others_are_text() -> None:
    assert citations.cited_numbers("A [1]. B [2, 3][5]. C [6-8]. D [4; 9].") == [1, 2, 3, 5, 6, 7, 8, 4, 9]
    assert citations.cited_numbers("see [a], [note 1], [1a], [] and x[i]") == []
    assert citations.strip("Urine [1] and sweat [2][3].") == "Urine and sweat."


def test_split_keeps_the_line_and_moves_a_stray_marker_back() -> None:
    line = "Gout is painful. [2] It affects joints [1]! Ask?"
    pieces = citations.split(line)
    assert [p for p, _ in pieces] == ["Gout is painful. [2]", "It affects joints [1]!", "Ask?"]
    assert citations.split("One line") == [("One line", "")]


@pytest.mark.parametrize(("sentence", "nums", "expected"), [
    ("Urine is dark [3].", [1], "Urine is dark [1]."),
    ("Urine is dark", [1, 2], "Urine is dark [1, 2]"),
    ('He said "rest."', [2], 'He said "rest [2]."'),
    ("Urine is dark [3].", [], "Urine is dark."),
])
def test_cite_places_exactly_the_given_numbers(sentence: str, nums: list[int], expected: str) -> None:
    assert citations.cite(sentence, nums) == expected


PASSAGE = ("Gastro-oesophageal reflux disease (GERD) is a condition in which stomach acid frequently flows back up "
           "into the oesophagus. It can cause heartburn.")


def test_a_copied_sentence_is_supported_by_its_passage_only() -> None:
    other = "Chronic kidney disease means the kidneys slowly lose their ability to filter the blood."
    found = support("GERD is a condition in which stomach acid frequently flows back up into the oesophagus [2].",
                    [other, PASSAGE])
    assert found.passages == (2,) and found.kept


def test_the_asked_about_name_pasted_into_a_copied_sentence_is_not_supported() -> None:
    found = support("Gout is a condition in which stomach acid frequently flows back up into the oesophagus [1].",
                    [PASSAGE])
    assert not found.supported and found.missing == ("gout",) and not found.kept
    assert support("Gout is a condition in which stomach acid flows back [1].", [PASSAGE], strict=False).kept


def test_a_paraphrase_keeping_the_key_terms_passes_the_lenient_check() -> None:
    found = support("In GERD, acid from the stomach often comes back up into the oesophagus.", [PASSAGE],
                    strict=False)
    assert found.passages == (1,)


def test_numbers_keep_their_word_and_their_unit() -> None:
    passage = "PEP must be started within 72 hours of exposure. Hepatitis B vaccine is given in three doses."
    assert support("PEP must be started within 72 hours of exposure.", [passage]).supported
    assert not support("PEP must be started within 72 days of exposure.", [passage]).supported
    assert not support("Hepatitis C vaccine is given in three doses.", [passage]).supported


def test_an_ordinary_word_is_forgiven_and_a_name_never_is() -> None:
    passage = "A panic attack is a sudden episode of intense fear, with physical symptoms that peak within minutes."
    assert support("A panic attack is a sudden rush of intense fear, with symptoms that peak within minutes.",
                   [passage], strict=False).passages == (1,)
    for swapped in ("A panic attack is a sudden episode of intense pain in the liver, peaking within minutes.",
                    "A panic attack is a sudden episode of intense fear caused by a virus.",
                    "A panic attack is a sudden episode of intense fear, with zolmitriptan, peaking within minutes.",
                    "A migraine is a sudden episode of intense fear, with symptoms that peak within minutes."):
        assert not support(swapped, [passage], strict=False).supported, swapped


def test_a_number_in_words_keeps_its_unit() -> None:
    passage = "Symptoms usually improve within six months. Nits are a child's problem more than an adult's."
    assert support("Symptoms usually improve within six months.", [passage]).supported
    assert not support("Symptoms usually improve within six years.", [passage]).supported
    assert not support("Symptoms usually improve within two months.", [passage]).supported
    assert support("Nits are a child's problem more than an adult's.", [passage]).supported


def test_names_with_digits_and_derived_words_read_as_one_term() -> None:
    passage = ("Glioblastoma has a dark centre of necrosis. T2 images show swelling. Symptoms can last for "
               "months after COVID-19, a viral infection.")
    assert support("Glioblastoma has a dark necrotic centre.", [passage]).supported
    assert support("On T2 images, swelling shows.", [passage], strict=False).supported
    assert not support("On T1 images, swelling shows.", [passage], strict=False).supported
    # "-19" names the disease; it counts no infections.
    assert support("Symptoms can last for months after COVID-19 infection.", [passage], strict=False).supported
    assert not support("Symptoms can last for months after COVID-21.", [passage], strict=False).supported


def test_lenient_mode_reads_the_passage_subject_and_strict_mode_does_not() -> None:
    passage = ("Treatment for COPD aims to relieve symptoms. Stopping smoking helps most. Inhalers open the airways. "
               "Pulmonary rehabilitation improves breathlessness and quality of life.")
    sentence = "For COPD, pulmonary rehabilitation improves breathlessness and quality of life."
    assert support(sentence, [passage], strict=False).supported
    assert not support(sentence, [passage], strict=True).supported
    assert not support(sentence.replace("COPD", "asthma"), [passage], strict=False).supported


def test_the_vocabulary_tells_ordinary_words_from_names() -> None:
    from medgemma import vocabulary

    assert all(vocabulary.is_ordinary(w) for w in ("rush", "degree", "match", "whereas"))
    # a body part, a knowledge-base topic, a topic in the plural, an organism, a number, a rare drug name
    assert not any(vocabulary.is_ordinary(w) for w in ("liver", "asthma", "cataracts", "viruses", "six",
                                                       "zolmitriptan"))


def test_ordinary_words_name_no_subject_for_the_gate() -> None:
    passage = "Tinnitus is often described as a ringing in the ears. Treatment can make it easier to live with."
    assert covers("Is tinnitus forever?", [passage]).covered
    assert not covers("Is gout forever?", [passage]).covered


def test_refusals_and_referrals_are_not_claims() -> None:
    assert support("I can't help with that.", [PASSAGE]).kind == "plain"
    assert support("See a doctor if it persists.", [PASSAGE]).kind == "plain"
    assert support("The sources do not say what causes gout.", [PASSAGE]).kind == "plain"


def test_coverage_names_the_missing_subject_and_forgives_typos() -> None:
    gout = covers("What causes gout?", [PASSAGE])
    assert not gout.covered and gout.subject == "gout"
    assert covers("what is gerd", [PASSAGE]).covered
    assert covers("How does stomach acid reach the oesophagous?", [PASSAGE]).covered  # a typo
    assert not covers("What is GERD?", []).covered  # nothing retrieved covers nothing


def test_rare_terms_decide_coverage_and_contractions_do_not_count() -> None:
    texts = [PASSAGE, "Restless people find it hard to relax.", "Legs can swell in heart failure."]
    stats = TermStats(texts + ["Legs and arms carry the body.", "Muscles move the legs."])
    assert not covers("What is restless legs syndrome?", [texts[2]], stats).covered  # "legs" is common
    assert "im" not in covers("Im worried and I dont know about GERD", [PASSAGE]).terms


def test_the_gate_answers_not_covered_without_the_model(small_index: Retriever) -> None:
    backend = FakeBackend()
    assistant = Assistant(backend, small_index)
    reply = assistant.answer("What are the signs of gout in the big toe joint and ankle swelling?")
    assert reply.flags == ("not_covered",) and not backend.calls
    assert "gout" in reply.text and reply.verdict.action == "answer"
    unsourced = assistant.answer("What are the signs of gout in the big toe joint?", rag=False)
    assert "unsourced" in unsourced.flags and len(backend.calls) == 1 and unsourced.passages == ()


def test_a_covered_question_reaches_the_model_and_every_kept_sentence_is_backed(small_index: Retriever) -> None:
    backend = FakeBackend()
    reply = Assistant(backend, small_index).answer("What are the warning signs of a stroke?", k=2)
    assert len(backend.calls) == 1 and "not_covered" not in reply.flags
    claims = [s for s in reply.support if s.kind == "claim"]
    assert claims and all(s.supported for s in claims)
    assert set(reply.cited) == {n for s in claims for n in s.passages}


def test_focus_keeps_the_opening_and_the_sentences_the_question_asks_about() -> None:
    text = ("Asthma is a long-term condition of the airways. It affects 300 million people. Triggers include "
            "pollen, dust and cold air. Inhalers relieve symptoms. Many children grow out of it.")
    kept = attribution.focus("What triggers asthma attacks?", text, 1)
    assert kept == "Asthma is a long-term condition of the airways. Triggers include pollen, dust and cold air."
    assert attribution.focus("What triggers asthma?", text, 0) == text  # off: the whole passage
    assert attribution.focus("What triggers asthma?", text, 10) == text  # short enough already
    # Whatever is kept is the passage's own text, in its order: quotable and checkable.
    kept = attribution.focus("How are symptoms relieved?", text, 2)
    positions = [text.index(s) for s in kept.split(". ") if s]
    assert positions == sorted(positions)
