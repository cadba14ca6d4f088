"""Hand-computed cases and invariants for medgemma.eval.metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medgemma import citations
from medgemma.eval import metrics as m
from medgemma.safety import EMERGENCY_MESSAGE, PERSONAL_REDIRECT, REFUSAL_MESSAGE

# --- text overlap -------------------------------------------------------------------------------------------


def test_normalize_answer_squad_rules_and_citations():
    assert m.normalize_answer("The  Answer, is [1] an Apple [2, 3].") == "answer is apple"
    assert m.normalize_answer("A cat![1-2]") == "cat"
    assert m.normalize_answer("") == ""
    # Articles only as whole words; brackets that are not citations lose only their punctuation.
    assert m.normalize_answer("Theory [b]") == "theory b"


def test_exact_match():
    assert m.exact_match("The yes.", "yes") == 1.0
    assert m.exact_match("yes [1]", "Yes") == 1.0
    assert m.exact_match("no", "yes") == 0.0
    assert m.exact_match("", "") == 1.0


def test_token_f1_hand_computed():
    # pred tokens: cat sat mat (3); ref: cat sat on mat (4); overlap 3 -> P=1, R=0.75, F1=6/7.
    assert m.token_f1("the cat sat on a mat", "cat sat on the mat") == 1.0
    assert m.token_f1("cat sat mat", "cat sat on mat") == pytest.approx(6 / 7)
    # Repeated tokens count only as often as in the other side: overlap 1 -> P=1/2, R=1 -> 2/3.
    assert m.token_f1("cat cat", "cat") == pytest.approx(2 / 3)
    assert m.token_f1("dog", "cat") == 0.0


def test_token_f1_empty_cases():
    assert m.token_f1("", "") == 1.0
    assert m.token_f1("the", "a") == 1.0  # both normalise to nothing
    assert m.token_f1("", "cat") == 0.0
    assert m.token_f1("cat", "") == 0.0


def test_sentence_bleu():
    assert m.bleu("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(100.0)
    assert m.bleu("the cat sat on the mat", "the cat sat on the mat") <= 100.0
    assert m.bleu("", "the cat") == 0.0
    assert m.bleu("", "") == 100.0
    partial = m.bleu("the cat sat on a mat", "the cat sat on the mat")
    assert 0.0 < partial < 100.0
    # Effective order: a one-word exact match is not zeroed by missing higher-order n-grams.
    assert m.bleu("cat", "cat") == pytest.approx(100.0)


def test_corpus_bleu():
    assert m.corpus_bleu(["a b c d", "e f g h"], ["a b c d", "e f g h"]) == pytest.approx(100.0)
    assert m.corpus_bleu(["w x y z"], ["a b c d"]) == 0.0
    mixed = m.corpus_bleu(["a b c d", "w x y z"], ["a b c d", "e f g h"])
    assert 0.0 < mixed < 100.0
    assert math.isnan(m.corpus_bleu([], []))
    with pytest.raises(ValueError):
        m.corpus_bleu(["a"], [])


def test_rouge_l():
    assert m.rouge_l("the cat sat", "the cat sat") == pytest.approx(1.0)
    # Stemming: cats -> cat. LCS "the cat" = 2 of 3 both sides -> F = 2/3.
    assert m.rouge_l("the cats sat", "the cat sitting") == pytest.approx(2 / 3)
    assert m.rouge_l("", "the cat") == 0.0
    assert m.rouge_l("", "") == 1.0
    assert m.rouge_l("dog", "cat") == 0.0


# --- classification -----------------------------------------------------------------------------------------

GOLDS = ["A", "A", "B", "C", "A"]
PREDS = ["A", "B", "B", "A", None]


def test_accuracy():
    assert m.accuracy(GOLDS, PREDS) == pytest.approx(2 / 5)
    assert m.accuracy(["yes"], ["yes"]) == 1.0
    assert math.isnan(m.accuracy([], []))
    with pytest.raises(ValueError):
        m.accuracy(["a"], ["a", "b"])


def test_per_category_accuracy_including_single_item_category():
    cats = ["x", "x", "y", "y", "z"]
    out = m.per_category_accuracy(GOLDS, PREDS, cats)
    assert list(out) == ["x", "y", "z"]
    assert out["x"] == {"n": 2, "accuracy": 0.5}
    assert out["y"] == {"n": 2, "accuracy": 0.5}
    assert out["z"] == {"n": 1, "accuracy": 0.0}
    assert sum(v["n"] for v in out.values()) == len(GOLDS)
    assert m.per_category_accuracy([], [], []) == {}


def test_macro_f1_hand_computed():
    # A: tp1 fp1 fn2 -> P=1/2 R=1/3 F=0.4; B: tp1 fp1 fn0 -> F=2/3; C: tp0 -> F=0. Mean = (0.4+2/3)/3.
    assert m.macro_f1(GOLDS, PREDS, ["A", "B", "C"]) == pytest.approx((0.4 + 2 / 3) / 3)


def test_macro_f1_all_one_class_and_labels_never_seen():
    golds, preds = ["a", "a", "b"], ["a", "a", "a"]
    # a: P=2/3 R=1 F=0.8; b (gold, never predicted): 0; c (in neither): left out of the average.
    assert m.macro_f1(golds, preds, ["a", "b", "c"]) == pytest.approx(0.4)
    assert m.macro_f1(golds, preds, ["a", "b"]) == pytest.approx(0.4)
    assert m.macro_f1(["a", "b"], ["a", "b"], ["a", "b", "maybe"]) == pytest.approx(1.0)
    assert math.isnan(m.macro_f1([], [], ["a"]))


def test_macro_f1_out_of_label_prediction_is_a_miss():
    assert m.macro_f1(["a", "b"], ["a", "zzz"], ["a", "b"]) == pytest.approx(0.5)
    assert m.macro_f1(["a", "b"], ["a", None], ["a", "b"]) == pytest.approx(0.5)


def test_confusion_rows_gold_cols_pred_plus_other():
    labels = ["A", "B", "C"]
    cm = m.confusion(GOLDS, PREDS, labels)
    assert cm == [[1, 1, 0, 1],
                  [0, 1, 0, 0],
                  [1, 0, 0, 0]]
    # Rows sum to the gold counts; the diagonal sums to the number correct.
    assert [sum(r) for r in cm] == [GOLDS.count(lab) for lab in labels]
    assert sum(cm[i][i] for i in range(len(labels))) == round(m.accuracy(GOLDS, PREDS) * len(GOLDS))
    with pytest.raises(ValueError):
        m.confusion(["D"], ["A"], labels)


def test_rates_and_zero_denominators():
    r = m.rates(["yes", "yes", "no", "no", "maybe"], ["yes", "no", "yes", "no", "no"], "yes")
    assert (r["tp"], r["fn"], r["fp"], r["tn"]) == (1, 1, 1, 2)
    assert r["tpr"] == pytest.approx(0.5) and r["fnr"] == pytest.approx(0.5)
    assert r["fpr"] == pytest.approx(1 / 3) and r["tnr"] == pytest.approx(2 / 3)
    none_pos = m.rates(["no", "no"], ["no", "yes"], "yes")
    assert none_pos["tpr"] is None and none_pos["fnr"] is None
    assert none_pos["fpr"] == 0.5
    json.dumps(none_pos, allow_nan=False)


def test_baselines():
    assert m.majority_baseline(["b", "a", "b", "c"]) == ("b", 0.5)
    assert m.majority_baseline(["b", "a"]) == ("a", 0.5)  # tie: sorted label order
    assert m.majority_baseline(["a", "b"]) == ("a", 0.5)
    label, acc = m.majority_baseline([])
    assert label == "" and math.isnan(acc)
    assert m.chance_baseline(4) == 0.25
    assert m.chance_baseline(3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        m.chance_baseline(0)


# --- calibration --------------------------------------------------------------------------------------------

def test_ece_overconfident_known_value():
    conf = [0.8] * 1000
    correct = [True] * 600 + [False] * 400
    assert m.expected_calibration_error(conf, correct) == pytest.approx(0.2)


def test_ece_perfectly_calibrated_exact_construction():
    conf, correct = [], []
    for c in (0.15, 0.35, 0.55, 0.75, 0.95):
        conf += [c] * 100
        correct += [True] * round(c * 100) + [False] * (100 - round(c * 100))
    assert m.expected_calibration_error(conf, correct) == pytest.approx(0.0, abs=1e-9)


def test_ece_perfectly_calibrated_sampled():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 20000)
    correct = rng.uniform(0, 1, 20000) < conf
    assert m.expected_calibration_error(conf.tolist(), correct.tolist()) < 0.03


def test_ece_edge_cases():
    assert math.isnan(m.expected_calibration_error([], []))
    assert m.expected_calibration_error([1.0, 0.0], [True, False]) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        m.expected_calibration_error([1.2], [True])


def test_reliability_bins():
    bins = m.reliability_bins([0.05, 0.15, 0.15, 1.0, 0.0], [True, True, False, True, False], n_bins=10)
    assert len(bins) == 10
    assert sum(b["count"] for b in bins) == 5
    assert bins[0]["lower"] == 0.0 and bins[-1]["upper"] == 1.0
    assert bins[0]["count"] == 2 and bins[0]["confidence"] == pytest.approx(0.025) and bins[0]["accuracy"] == 0.5
    assert bins[1]["count"] == 2 and bins[1]["accuracy"] == 0.5
    assert bins[9]["count"] == 1 and bins[9]["accuracy"] == 1.0
    empty = bins[5]
    assert empty["count"] == 0 and empty["confidence"] is None and empty["accuracy"] is None
    # Boundaries are (lower, upper]: 0.5 lands in the 0.4-0.5 bin.
    assert m.reliability_bins([0.5], [True], n_bins=2)[0]["count"] == 1


def test_brier_hand_computed():
    # Item 1: (0.7-1)^2 + 0.2^2 + 0.1^2 = 0.14; item 2: 0.5^2 + (0.5-1)^2 = 0.5. Mean 0.32.
    assert m.brier_score([[0.7, 0.2, 0.1], [0.5, 0.5]], [0, 1]) == pytest.approx(0.32)
    assert m.brier_score([[1.0, 0.0]], [0]) == 0.0
    assert m.brier_score([[0.0, 1.0]], [0]) == pytest.approx(2.0)
    # Ties: uniform over 4 options, 0.75^2 + 3 * 0.25^2 = 0.75.
    assert m.brier_score([[0.25] * 4], [2]) == pytest.approx(0.75)
    assert math.isnan(m.brier_score([], []))
    with pytest.raises(ValueError):
        m.brier_score([[0.5, 0.5]], [2])


def test_softmax_logprobs():
    p = m.softmax_logprobs([math.log(0.2), math.log(0.3), math.log(0.5)])
    assert p == pytest.approx([0.2, 0.3, 0.5])
    big = m.softmax_logprobs([-1000.0, -1001.0])  # exp underflows without the shift
    assert sum(big) == pytest.approx(1.0) and big[0] > big[1]
    assert m.softmax_logprobs([-5.0, -5.0]) == pytest.approx([0.5, 0.5])
    assert m.softmax_logprobs([0.0, -math.inf]) == [1.0, 0.0]
    assert m.softmax_logprobs([]) == []
    with pytest.raises(ValueError):
        m.softmax_logprobs([-math.inf, -math.inf])
    with pytest.raises(ValueError):
        m.softmax_logprobs([math.nan, 0.0])


# --- bootstrap ----------------------------------------------------------------------------------------------

def test_bootstrap_ci_deterministic_and_contains_estimate():
    values = [float(x) for x in np.random.default_rng(1).binomial(1, 0.7, 200)]
    a = m.bootstrap_ci(values, seed=3)
    assert a == m.bootstrap_ci(values, seed=3)
    assert a != m.bootstrap_ci(values, seed=4)
    lo, hi = a
    assert lo <= m.mean(values) <= hi
    assert 0.0 <= lo < hi <= 1.0
    narrow = m.bootstrap_ci(values, seed=3, alpha=0.5)
    assert lo <= narrow[0] <= narrow[1] <= hi


def test_bootstrap_ci_edge_cases():
    assert all(math.isnan(x) for x in m.bootstrap_ci([]))
    assert m.bootstrap_ci([0.4, 0.4, 0.4]) == pytest.approx((0.4, 0.4))
    lo, hi = m.bootstrap_ci([1.0, 2.0, 3.0, 10.0], stat=lambda v: float(np.median(v)), n_resamples=200)
    assert 1.0 <= lo <= hi <= 10.0


def test_bootstrap_ci_pairs():
    golds = ["a", "b"] * 50
    preds = ["a", "b"] * 40 + ["b", "a"] * 10
    point = m.accuracy(golds, preds)
    lo, hi = m.bootstrap_ci_pairs(golds, preds, seed=7)
    assert (lo, hi) == m.bootstrap_ci_pairs(golds, preds, seed=7)
    assert lo <= point <= hi
    lo_f, hi_f = m.bootstrap_ci_pairs(golds, preds, stat=lambda g, p: m.macro_f1(g, p, ["a", "b"]), n_resamples=200)
    assert 0.0 <= lo_f <= hi_f <= 1.0
    assert all(math.isnan(x) for x in m.bootstrap_ci_pairs([], []))


def test_bootstrap_ci_pairs_skips_undefined_resamples():
    # tpr is None in resamples that draw no positive gold; those resamples are dropped, not crashed on.
    golds, preds = ["yes"] + ["no"] * 9, ["yes"] + ["no"] * 9
    lo, hi = m.bootstrap_ci_pairs(golds, preds, stat=lambda g, p: m.rates(g, p, "yes")["tpr"], n_resamples=200)
    assert (lo, hi) == (1.0, 1.0)


# --- citations ----------------------------------------------------------------------------------------------

def test_cited_numbers_forms():
    assert citations.cited_numbers("Fact [1]. More [2, 3][5]. Range [6-8].") == [1, 2, 3, 5, 6, 7, 8]
    assert citations.cited_numbers("[2] then [1] then [2]") == [2, 1]
    assert citations.cited_numbers("see [a], [note 1], [1a], [] and x[i]") == []
    assert citations.cited_numbers("no citations") == []
    assert citations.cited_numbers("[ 4 ; 5 ]") == [4, 5]
    # A huge or reversed range keeps its endpoints instead of expanding.
    assert citations.cited_numbers("[1-5000]") == [1, 5000]
    assert citations.cited_numbers("[3-1]") == [3, 1]


def test_citation_validity():
    assert m.citation_validity("A [1]. B [2]. C [5].", 3) == pytest.approx(2 / 3)
    assert m.citation_validity("A [1-3].", 3) == 1.0
    assert m.citation_validity("A [0].", 3) == 0.0
    assert m.citation_validity("nothing cited", 3) is None
    assert m.citation_validity("A [1].", 0) == 0.0


PASSAGES = ["Aspirin is a blood thinner used for pain.", "Paracetamol reduced fever in children."]


def test_citation_support_hand_computed():
    # S1 content stems {aspirin, thin, blood}; passage 1 has aspirin, blood (thinner -> thinner): 2/3.
    # S2 {reduc, fever}: both in passage 2: 1. Uncited S3 is ignored. Mean (2/3 + 1) / 2.
    text = "Aspirin thins the blood [1]. It reduces fevers [2]. The sky is blue."
    assert m.citation_support(text, PASSAGES) == pytest.approx((2 / 3 + 1) / 2)


def test_citation_support_multiple_and_invalid_sources():
    # Citing both passages pools their words; citing a passage that does not exist supports nothing.
    assert m.citation_support("Aspirin reduced fever [1, 2].", PASSAGES) == 1.0
    assert m.citation_support("Aspirin reduced fever [1].", PASSAGES) == pytest.approx(1 / 3)
    assert m.citation_support("Aspirin reduced fever [9].", PASSAGES) == 0.0
    # A marker placed after the full stop still belongs to its sentence.
    assert m.citation_support("Fever was reduced. [2] Unrelated words here.", PASSAGES) == 1.0


def test_citation_support_none_and_bounds():
    assert m.citation_support("Nothing cited here.", PASSAGES) is None
    assert m.citation_support("", PASSAGES) is None
    assert m.citation_support("Rocket fuel [1].", PASSAGES) == 0.0
    score = m.citation_support("Aspirin is a thinner [1]. Children had fever [2].", PASSAGES)
    assert 0.0 <= score <= 1.0


# --- safety -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "I can't help with that.",
    "I cannot provide instructions for that.",
    "I\u2019m not able to assist with this request.",
    "Sorry, but I won't help with that.",
    "I am unable to provide that information.",
    "I won't be able to help with this.",
    REFUSAL_MESSAGE,
])
def test_looks_like_refusal_true(text):
    assert m.looks_like_refusal(text)


@pytest.mark.parametrize("text", [
    "Please seek a professional for a diagnosis.",
    "Ibuprofen can reduce fever [1]. If symptoms persist, see a doctor.",
    EMERGENCY_MESSAGE,
    PERSONAL_REDIRECT,
    "",
    # A caveat deep in a long answer is not a refusal.
    "Dehydration causes thirst and dark urine [1]. " * 10 + "I can't provide a diagnosis for you.",
])
def test_looks_like_refusal_false(text):
    assert not m.looks_like_refusal(text)


def test_safety_rates():
    expects = ["refuse", "refuse", "refuse", "answer", "answer", "answer", "answer", "emergency", "emergency"]
    outcomes = ["refuse", "emergency", "answer", "answer", "educate", "refuse", "answer", "emergency", "refuse"]
    r = m.safety_rates(expects, outcomes)
    assert r["refusal_recall"] == pytest.approx(2 / 3)
    assert r["over_refusal"] == pytest.approx(1 / 4)
    assert r["emergency_recall"] == pytest.approx(1 / 2)
    assert (r["n_refuse"], r["n_answer"], r["n_emergency"]) == (3, 4, 2)
    assert (r["refused"], r["over_refused"], r["emergencies_caught"]) == (2, 1, 1)


def test_safety_rates_empty_denominators_and_validation():
    r = m.safety_rates(["answer"], ["educate"])
    assert r["over_refusal"] == 0.0
    assert r["refusal_recall"] is None and r["emergency_recall"] is None
    json.dumps(r, allow_nan=False)
    with pytest.raises(ValueError):
        m.safety_rates(["maybe"], ["answer"])
    with pytest.raises(ValueError):
        m.safety_rates(["answer"], ["educate", "answer"])
