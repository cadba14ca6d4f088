"""The grounded recipe: a question with its gold passage hidden among retrieved distractors, answered by
quoting the gold with its citation number; a fraction get distractors only and learn to say the sources do not
answer. Distractors come from an index (`SearchesPassages`); a judge keeps out those that would also answer.
"""

from __future__ import annotations

import json
import random
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .. import citations
from ..attribution import STOPWORDS
from ..errors import InputError
from ..prompts import build_messages
from ..rag.chunking import split_sentences
from ..types import Chunk, Passage
from .examples import Example, is_bullet, lead_sentences, normalize_question, trim_sentences
from .sources import (
    PubMedQA,
    abstract,
    build_sample,
    check_limit,
    digest,
    evaluation_items,
    medquad_rows,
    medquad_train,
    pubmedqa_train,
    shared_data,
)

GOLD_CHARS = 600


ANSWER_CHARS = 450


MAX_ANSWER_SENTENCES = 3


GROUNDED_DATASETS = ("medquad", "pubmedqa", "both")


# Several wordings, so the model learns to say it rather than to recite one string. No citation: nothing
# in the sources supports the sentence.
NO_ANSWER_TEMPLATES = (
    "The provided sources do not answer this question, so I do not know. Please ask a clinician or check a "
    "reliable health source such as MedlinePlus or the NHS website.",
    "I do not know: none of the provided sources answers this question. A clinician, or a reliable source such "
    "as MedlinePlus, can give you an answer you can trust.",
    "The sources given here do not cover this question, so I cannot answer it from them. Please ask a clinician "
    "or look it up in a reliable health source such as MedlinePlus.",
)


# Sentences with an amount of a drug are not quoted: the assistant must never give a reader a dose.
_DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|micrograms?|milligrams?|ml|mL|units?|IU)\b")


# MedQuAD's site furniture: pointers to trial searches and resource lists, not answers.
_BOILERPLATE = re.compile(
    r"refine the search|NCI-supported|now accepting patients|NCI website|clinical trials that may be right|"
    r"These resources address|Genetic Testing Registry|^NIH:|PDQ|Human Phenotype Ontology|the table below|"
    r"Medical Dictionary|Orphanet", re.IGNORECASE)


_WORD = re.compile(r"[a-z0-9]+")


# Words that never pick a PubMedQA sentence: English function words (one list, with the answer check) and the
# words every abstract uses.
_STOPWORDS = STOPWORDS | frozenset("study studies patients patient results result".split())


class SearchesPassages(Protocol):
    """What the grounded recipe needs of a retriever: `medgemma.rag.retriever.Retriever` is one."""

    def search(self, query: str, k: int = 4, mode: str = "dense", min_score: float = 0.0) -> list[Passage]: ...



@dataclass(frozen=True)
class _Gold:
    """A question, its gold passage, the sentences of the answer (uncited) and what the example records."""

    id: str
    question: str
    passage: Passage
    sentences: tuple[str, ...]
    full_text: str  # the whole source answer or abstract, for spotting near-duplicates of the gold
    meta: dict[str, str] = field(default_factory=dict)


def _list_item(bullet: str) -> str:
    item = bullet[2:].strip().rstrip(".;,").strip()
    # "Watchful waiting" reads as "watchful waiting" inside a sentence; acronyms and odd casing stay.
    return item[0].lower() + item[1:] if re.match(r"[A-Z][a-z]*\b", item) else item


def _merged_list(sentences: Sequence[str], start: int) -> tuple[str, int]:
    """The list that a sentence ending in ":" introduces, as one sentence ("...: a, b, and c."), and the index
    after it; ("", index after the intro) when the items are long or the list runs past the end of the text."""
    items: list[str] = []
    i = start + 1
    style = None
    while i < len(sentences) and is_bullet(sentences[i]):
        ends = sentences[i].rstrip().endswith(".")
        # A change of style ("Surgery" then "New treatments are being tested.") is where the sub-list ends.
        if style is not None and ends != style or len(sentences[i].split()) > 11:
            break
        style = ends
        items.append(_list_item(sentences[i]))
        i += 1
    if not 2 <= len(items) <= 10 or i >= len(sentences) or not all(items):
        return "", start + 1
    body = ", ".join(items[:-1]) + ", and " + items[-1] if len(items) > 2 else " and ".join(items)
    intro = sentences[start].strip()
    intro = intro[2:].strip() if is_bullet(intro) else intro
    return f"{intro} {body}.", i


def _quotable(sentences: Sequence[str]) -> list[str]:
    """The sentences fit to quote as an answer, list markers removed, in order.

    A short list after a sentence ending in ":" becomes one sentence; the items of a list that cannot be
    merged are left out (fragments like "Fever or night sweats."), as are headings, questions, sentences under
    five words or over 350 characters, site boilerplate and doses.
    """
    out = []
    in_colon_list = False
    i = 0
    while i < len(sentences):
        s = sentences[i]
        bullet = is_bullet(s)
        if not bullet:
            in_colon_list = False
        if s.rstrip().endswith(":"):
            merged, i = _merged_list(sentences, i)
            in_colon_list = not merged
            candidates = [merged] if merged else []
        else:
            i += 1
            if bullet and in_colon_list:
                continue
            candidates = [s[2:].strip() if bullet else s.strip()]
        for text in candidates:
            if (re.search(r"[.!][\"'”’)\]]*$", text) and text[:1].isupper() and 5 <= len(text.split())
                    and len(text) <= 350 and not _DOSE.search(text) and not _BOILERPLATE.search(text)):
                out.append(text)
    return out


def _answer_sentences(sentences: Sequence[str]) -> tuple[str, ...]:
    chosen: list[str] = []
    for s in _quotable(sentences):
        if len(chosen) == MAX_ANSWER_SENTENCES or (chosen and sum(map(len, chosen)) + len(s) > ANSWER_CHARS):
            break
        chosen.append(s)
    return tuple(chosen)


def _medquad_gold(rec: dict[str, str]) -> _Gold | None:
    """The gold for a MedQuAD training record: its answer cut to about 600 characters; None if nothing to quote."""
    sentences = lead_sentences(rec["answer"], GOLD_CHARS)
    answer = _answer_sentences(sentences)
    if not answer:
        return None
    ident = f"medquad-{rec['qid']}-{digest(rec['question'])}"
    passage = Passage(id=ident, text=" ".join(sentences), title=rec["focus"] or rec["question"],
                      source=rec["source"] or "MedQuAD", url=rec["url"], score=1.0,
                      meta={"focus": rec["focus"], "qtype": rec["qtype"]})
    return _Gold(ident, rec["question"], passage, answer, rec["answer"], {
        "source": "medquad", "category": rec["qtype"], "qid": rec["qid"], "focus": rec["focus"], "url": rec["url"]})


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS}


def _pubmedqa_gold(rec: PubMedQA) -> _Gold | None:
    """A window of about 600 characters of the abstract's results around the sentence closest to the paper's
    conclusion, answered by that sentence (and a second close one inside the window); None if nothing to quote.
    """
    # The results hold the findings a conclusion rests on; background and methods only set them up.
    results = [c for c, label in zip(rec.contexts, rec.labels) if "RESULT" in label.upper()]
    sentences = split_sentences(" ".join(results or rec.contexts[-1:]))
    target = _content_words(rec.long_answer)
    scores = [len(_content_words(s) & target) for s in sentences]
    if not sentences or max(scores) == 0:
        return None
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    lo, hi, length = best, best + 1, len(sentences[best])
    while True:  # grow the window forwards first: results usually follow the sentence that best matches
        if hi < len(sentences) and length + 1 + len(sentences[hi]) <= GOLD_CHARS:
            length, hi = length + 1 + len(sentences[hi]), hi + 1
        elif lo > 0 and length + 1 + len(sentences[lo - 1]) <= GOLD_CHARS:
            length, lo = length + 1 + len(sentences[lo - 1]), lo - 1
        else:
            break
    window = sentences[lo:hi]
    ranked = sorted(range(lo, hi), key=lambda i: (-scores[i], i))
    picked = sorted(i for i in ranked[:2] if i == best or scores[i] * 2 >= scores[best])
    answer = tuple(_quotable([sentences[i] for i in picked]))
    if not answer:
        return None
    passage = replace(abstract(rec), text=" ".join(window))
    return _Gold(f"pubmedqa-{rec.pmid}", rec.question, passage, answer, " ".join(rec.contexts), {
        "source": "pubmedqa", "category": rec.decision, "pmid": rec.pmid})


def _given_golds(questions: Sequence[Sequence[Any]]) -> list[_Gold]:
    golds = []
    for i, item in enumerate(questions):
        where = f"questions[{i}]"
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) not in (2, 3):
            raise InputError(f"{where}: give (question, gold passage or its text[, answer]).")
        question, gold = item[0], item[1]
        answer = item[2] if len(item) == 3 else ""
        if not isinstance(question, str) or not question.strip():
            raise InputError(f"{where}: the question must be non-empty text.")
        if isinstance(gold, Passage):
            passage, full = gold, gold.text
        elif isinstance(gold, str) and gold.strip():
            passage = Passage(id=f"given-{i}", text=trim_sentences(gold, GOLD_CHARS), title="", source="", url="",
                              score=1.0)
            full = gold
        else:
            raise InputError(f"{where}: the gold must be a Passage or non-empty text.")
        if not isinstance(answer, str):
            raise InputError(f"{where}: the answer must be text.")
        if answer.strip():
            sentences = tuple(split_sentences(citations.strip(answer))[:MAX_ANSWER_SENTENCES])
        else:
            sentences = _answer_sentences(split_sentences(passage.text))
        if not sentences:
            raise InputError(f"{where}: the gold passage has no sentence to quote as the answer; give an answer.")
        golds.append(_Gold(f"given-{i}", question.strip(), passage, sentences, full,
                           {"source": passage.source or "given", "category": str(passage.meta.get("category", ""))}))
    return golds


def _same(gold: _Gold) -> _Gold:
    return gold


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = normalize_question(text).split()
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


class _Judge:
    """Decides which retrieved passages may stand beside (or, for no-answer examples, instead of) a gold."""

    def __init__(self, gold: _Gold, eval_questions: set[str]) -> None:
        self.gold = gold
        self.question = normalize_question(gold.question)
        self.full = _shingles(gold.full_text)
        self.trimmed = _shingles(gold.passage.text)
        self.focus = normalize_question(gold.meta.get("focus", ""))
        self.eval_questions = eval_questions
        self.qid = gold.meta.get("qid", "")

    def near_duplicate(self, p: Passage) -> bool:
        """The gold itself, another chunk of its text, or a passage another site wrote for the same question."""
        if p.id == self.gold.passage.id or (self.qid and p.id.startswith(f"{self.qid}#")):
            return True
        if normalize_question(p.title) == self.question:
            return True
        shingles = _shingles(p.text)
        if not shingles:
            return True
        return (len(shingles & self.full) / len(shingles) >= 0.5
                or len(self.trimmed & shingles) / max(1, len(self.trimmed)) >= 0.5)

    def same_topic(self, p: Passage) -> bool:
        # A no-answer example must not hold a passage that may answer after all: nothing from the gold's
        # document, and nothing whose title, focus or opening names the gold's focus.
        if p.url and p.url == self.gold.passage.url:
            return True
        if not self.focus:
            return False
        return any(self.focus in normalize_question(t) for t in (p.title, p.meta.get("focus", ""), p.text[:150]))

    def allowed(self, p: Passage, no_answer: bool) -> bool:
        # A passage titled with an evaluation question is that item's reference answer: keep it out of training.
        if normalize_question(p.title) in self.eval_questions:
            return False
        return not self.near_duplicate(p) and not (no_answer and self.same_topic(p))


def _shown(p: Passage) -> Passage:
    # MedQuAD chunks are titled with their question while golds are titled with the focus; showing every
    # MedQuAD passage by its focus keeps "the title is a question" from telling the model which is the gold.
    focus = p.meta.get("focus", "").strip()
    return replace(p, title=focus) if focus else p


def _chunk_passage(chunk: Chunk) -> Passage:
    return Passage(chunk.id, chunk.text, chunk.title, chunk.source, chunk.url, 0.0, chunk.page, dict(chunk.meta))


def _distractors(retriever: SearchesPassages, judge: _Judge, need: int, no_answer: bool,
                 rng: random.Random) -> list[Passage]:
    found = retriever.search(judge.gold.question, k=need + 20, mode="dense", min_score=0.0)
    out: list[Passage] = []
    texts: set[str] = set()
    for p in found:
        key = normalize_question(p.text)
        if key not in texts and judge.allowed(p, no_answer):
            texts.add(key)
            out.append(p)
            if len(out) == need:
                return out
    # Too few left after filtering (a small index, or a topic that fills the top results): random passages of
    # the index are easy distractors, but they keep every example at k passages.
    chunks: Sequence[Chunk] = getattr(retriever, "chunks", ())
    seen_ids = {p.id for p in out}
    for i in rng.sample(range(len(chunks)), min(len(chunks), 200)):
        p = _chunk_passage(chunks[i])
        key = normalize_question(p.text)
        if p.id not in seen_ids and key not in texts and judge.allowed(p, no_answer):
            texts.add(key)
            seen_ids.add(p.id)
            out.append(p)
            if len(out) == need:
                break
    return out


def grounded_recipe(
    retriever: SearchesPassages,
    questions: Sequence[Sequence[Any]] | None = None,
    *,
    data_dir: Path | None = None,
    k: int = 4,
    no_answer_fraction: float = 0.15,
    seed: int = 0,
    limit: int | None = None,
    dataset: str = "medquad",
) -> list[Example]:
    """Questions answered from a gold passage placed among `k` passages, the prompt built as the assistant does.

    `questions`: (question, gold Passage or gold text[, answer]) tuples. A gold given as text has no title,
    which sets it apart from titled distractors; a warning says so. By default the questions are MedQuAD's
    training questions (`dataset="pubmedqa"`: PubMedQA's non-test ones; "both": both), the gold being the
    question's own answer cut to about 600 characters at a sentence end, titled with its focus.

    Distractors are the retriever's dense top results minus near-duplicates of the gold, topped up with
    random passages of the index when too few are left; the gold goes at a seeded random position. Answer:
    1-3 sentences quoted from the gold (or the given answer's sentences), each ending with the gold's number,
    e.g. "[2]". A `no_answer_fraction` of the examples (seeded) show distractors only, none from the gold's
    document or naming its focus, and answer that the sources do not answer the question, without a
    citation. A distractor can still happen to answer; the filters make that rare, not impossible.

    Evaluation items are left out (MedQuAD's held-out split, PubMedQA's test ids, K-QA questions), and
    passages titled with an evaluation question are not used as distractors. `limit` keeps a seeded sample
    of the questions, in input order. meta: source, category, question, grounded ("answer" / "no_answer"),
    gold_position (1-based; "" for no-answer), gold_id, n_passages, passage_ids, passages (JSON: title and
    text of each passage as shown, for the preference pairs and the GRPO reward).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive whole number, not {k!r}.")
    if isinstance(no_answer_fraction, bool) or not 0 <= no_answer_fraction <= 1:
        raise InputError(f"no_answer_fraction must be between 0 and 1, not {no_answer_fraction!r}.")
    if dataset not in GROUNDED_DATASETS:
        raise InputError(f"dataset must be one of {', '.join(GROUNDED_DATASETS)}, not {dataset!r}.")
    check_limit(limit)
    data = shared_data(data_dir)
    rows = None
    candidates: list[tuple[Callable[[Any], _Gold | None], Any]] = []
    if questions is not None:
        candidates = [(_same, g) for g in _given_golds(questions)]
    else:
        if dataset in ("medquad", "both"):
            rows = medquad_rows(data)
            candidates += [(_medquad_gold, rec) for _, rec in medquad_train(rows)]
        if dataset in ("pubmedqa", "both"):
            candidates += [(_pubmedqa_gold, rec) for rec in pubmedqa_train(data)]
    ids, eval_questions = evaluation_items(data, rows)
    normalized = {q for q in map(normalize_question, eval_questions) if q}

    def build(candidate: tuple[Callable[[Any], _Gold | None], Any]) -> _Gold | None:
        gold = candidate[0](candidate[1])
        if gold is None or gold.meta.get("pmid", "") in ids or normalize_question(gold.question) in normalized:
            return None
        return gold

    golds: list[_Gold] = build_sample(candidates, build, limit, seed)
    untitled = sum(not g.passage.title.strip() for g in golds)
    if untitled:
        warnings.warn(f"{untitled} gold passages have no title: among titled distractors that tells the model "
                      f"which one to cite. Give Passages with a title and source.", UserWarning, stacklevel=2)
    n_no = round(no_answer_fraction * len(golds))
    no_answer = set(random.Random(f"{seed}:no-answer").sample(range(len(golds)), n_no))

    examples = []
    for i, gold in enumerate(golds):
        rng = random.Random(f"{seed}:{gold.id}")  # per example, so one question's draw never shifts another's
        judge = _Judge(gold, normalized)
        unanswered = i in no_answer
        found = _distractors(retriever, judge, k if unanswered else k - 1, unanswered, rng)
        passages = [_shown(p) for p in found]
        meta = dict(gold.meta) | {"question": gold.question, "eval_split": "train", "format": "grounded"}
        if unanswered:
            if not passages:
                continue
            answer = rng.choice(NO_ANSWER_TEMPLATES)
            meta |= {"grounded": "no_answer", "gold_position": "", "gold_id": ""}
        else:
            position = rng.randrange(len(passages) + 1)
            passages.insert(position, gold.passage)
            answer = " ".join(citations.cite(s, [position + 1]) for s in gold.sentences)
            meta |= {"grounded": "answer", "gold_position": str(position + 1), "gold_id": gold.passage.id}
        meta |= {"n_passages": str(len(passages)), "passage_ids": ",".join(p.id for p in passages),
                 "passages": json.dumps([{"title": p.title, "text": p.text} for p in passages], ensure_ascii=False)}
        examples.append(Example(f"grounded-{gold.id}", tuple(build_messages(gold.question, passages)), answer, meta))
    return examples
