"""Sentence-level attribution: which retrieved passage, if any, says what an answer sentence says.

A sentence is supported by a passage when one sentence of the passage holds every *key term* of it and most
of its other content words (strict mode, for small models that copy), or when that sentence, its neighbours
and the passage's opening sentence together hold them (lenient mode, for models that paraphrase and merge
sentences).

Key terms are what a small model swaps while keeping the rest of a copied sentence: names of conditions, drugs
and body parts, numbers and "type 2". They are found without a medical dictionary, by elimination: every
content word that is not on the list of generic words below (verbs, qualities, "symptom", "doctor", ...) is a
key term; a number or a lone letter is also kept with the word before it ("type 2", "stage 3", "hepatitis B",
"vitamin D"), and a number with the word after it ("72 hours"). A sentence saying "gout" is therefore never
supported by a passage that does not say "gout", however many other words match. A key term the passage
lacks is forgiven only when it is an ordinary English word that names nothing medical (`vocabulary.py`: "a
sudden *rush* of fear", "to a lesser *degree*"); it then counts as a missing content word.

This is lexical, not entailment. It catches substitution and misattribution, and it is strict with
paraphrase: a synonym for a key term ("high blood pressure" for "hypertension") counts as missing. Strict
mode (for small models that copy) also wants 80% of the other content words; lenient mode (models that
paraphrase) 50%. Measured in `bench/attribution_bench.py`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from . import citations
from .rag.chunking import split_sentences
from .types import SentenceSupport
from .vocabulary import NUMBER_WORDS, is_ordinary
from .vocabulary import stem as _stem

STRICT_COVERAGE = 0.8
LENIENT_COVERAGE = 0.5
MAX_CITED = 2  # passages named after one sentence
# "T2", "B12", "H1N1" are one word; a lone letter or a number is a word of its own ("type 2", "hepatitis b").
_WORD = re.compile(r"[a-z]{1,3}\d+(?:[a-z]\d*)?\b|[a-z][a-z'-]*[a-z]|[a-z]|\d+(?:[.,/]\d+)*")
_NUMBER = re.compile(r"\d")
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,60}>")
# Words that never name an entity: function words, and the generic words of health writing. A word missing
# from this list only makes the check stricter (it must then appear in the passage).
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each either etc few for from further had has have having he
her here hers herself him himself his how however i if in into is it its itself just may me might more most must
my myself no nor not now of off on once only or other our ours ourselves out over own per same she should so some
such than that the their theirs them themselves then there these they this those through thus to too under until
up upon us very via was we were what when where which while who whom whose why will with within without would
you your yours yourself yourselves
""".split())  # English function words; the metrics' lexical support reads the same list
# Contractions typed without their apostrophe ("im", "dont") are function words in a question too.
_STOPWORDS = STOPWORDS | frozenset("""
im ive id youre theyre thats whats theres hes shes dont doesnt didnt cant couldnt wont wouldnt shouldnt isnt
arent wasnt werent havent hasnt w
""".split())
_GENERIC = frozenset("""
able absence according across actually add affect affected affecting affects age aged ages ahead aim allow
allows almost alone along already although always among amount another answer appear appears approach area
areas around ask associated available average avoid away back bad based basic become becomes begin begins
best better big body call called calls can't cannot care careful case cases caused causes causing certain
change changes check checked checks child children clear clinician clinicians close come comes common
commonly completely condition conditions consider contain contains control could cover daily day days
decide depend depends describe described detail develop developed developing develops diagnose diagnosed
diagnosis different difficult directly discuss disease diseases disorder disorders doctor doctors done
due early easily effect effects either else enough especially even event every everyone example examples
exist experience experienced explain extra fact factors fairly far feel feeling feelings find first
follow following form forms found frequently full fully general generally get gets getting give given gives
go goes going good great greater group groups happen happens harm health healthy help helpful helps high
higher highly however important improve include included includes including increase increased increases
increasing information instead involve involved involves issue issues keep kind kinds know known large
last later lead leading leads least less level levels life like likely little live living long longer look
looking lot low lower main mainly make makes making manage managed management many mean means measure
medical medicine medicines might mild moderate month months much need needed needs never new next normal
normally note number occur occurs often one ones order others overall part particular particularly patient
patients people percent period person persons place plan point possible possibly present prevent prevented
prevents problem problems process professional professionals properly provide provider providers put quickly
range rare rarely rate rather reach read reason reasons reduce reduced reduces related relief remain
remains report reported require required requires result results right risk risks role routine run safe
safely see seek seen serious seriously set several severe severity short show shown shows sign signs
significant significantly similar simple since small someone something sometimes soon source sources
specific start started starts state states still stop stopped stops sudden suddenly support sure symptom
symptoms take taken takes taking tell term terms test tested testing tests therefore thing things think
time times together towards treat treated treating treatment treatments treats try trying turn type types
typically understand unless unusual use used useful uses using usual usually variety various way ways
week weeks well whether whole wide widely work works worse year years yet
baby babies boy boyfriend brother dad daughter family father friend girl girlfriend grandma grandmother
grandfather husband kid kids man men mom mother mum partner sister son toddler wife woman women
anything bit cure cured dangerous does get happening hurt hurts kind meant okay ok please really
capsule capsules drug drugs medication medications pill pills product products tablet tablets
across act actual add added advice afterwards ago agree allowed alongside anyone anywhere apart appear applied
apply around arrive aside asked away become began begun behind belong besides beyond bring brings brought buy
bought came carried carry carries catch caught chance choose chosen come coming continue continued cost costs
count couldn't create created deal dealt despite detail develops didn't direct doesn't don't during easier easy
else elsewhere end ends enter even ever everything except expect explain fail fall falls far fast fine finish
finished fit forward frequent front gave got happened hard hardly hold holds home hope instead isn't keep
kept lack larger largest late lately least leave leaves left let lets lose losing lost made matter maybe met
mostly move moved moving nearly neither nobody none nothing notice noticed noticeable obvious offer offered
often open opened otherwise outside pass passed passes passing past plus prefer prepare protect protected
protects quite ready reached realise realize receive received recent recently remember share shared sharing
show side simply slightly slow slowly sometimes soon sort stay stays staying suggest suggests though thought
throughout today told took total trouble troubles truly unlike upon want wants wanted whenever wherever
within worth write written wrote yes
deficiency gene genes genetic inherited multiple syndrome syndromes
correct correctly incorrect incorrectly
""".split())
# Question words that name no subject: "what causes gout" asks about gout.
_ASKING = frozenset("""
ask asking can cause caused causes define definition describe difference does explain mean means meaning
outlook prognosis happen know symptoms tell treated treatment what whats why
""".split())
_ABSTAIN = re.compile(r"\b(sources?|passages?|context|information (given|here|provided))\b[^.]{0,60}\b(do(es)? not|don't|doesn't|"
                      r"did not|not)\b[^.]{0,40}\b(say|cover|mention|answer|contain|include|address|discuss|describe)",
                      re.IGNORECASE)
# Sentences that make no claim about a source: a refusal, or advice to see someone.
_NO_CLAIM = re.compile(r"^\W*i\s*(can ?not|can't|cant|won't|will not|am (not|unable)|'m (not|unable))\b|"
                       r"^\W*(please\s+)?(see|ask|talk to|speak to|contact|call|check with)\b[^.]{0,40}\b(doctor|"
                       r"clinician|gp|pharmacist|nurse|midwife|emergency|911|999|112|health ?care)", re.IGNORECASE)


def abstains(text: str) -> bool:
    """Whether `text` says the sources do not answer ("The provided sources do not cover this question.")."""
    return bool(_ABSTAIN.search(citations.strip(text or "")))


_GENERIC_STEMS = frozenset(_stem(w) for w in _GENERIC)


def _terms(text: str) -> tuple[set[str], set[str]]:
    """(content stems, key terms) of `text`. A number or a lone letter is a key term with the word before it."""
    content, keys, _ = _terms_and_ordinary(text)
    return content, keys


def _terms_and_ordinary(text: str) -> tuple[set[str], set[str], set[str]]:
    """`_terms`, and the key terms every spelling of which in `text` is an ordinary word."""
    text = _TAG.sub(" ", citations.strip(text))  # markup is not content: "<b>" is not the letter b
    lowered = text.lower().replace("\u2019", "'")
    # A number joined to the word before by a hyphen is part of its name ("COVID-19"), not a count of the
    # word after it ("COVID-19 infection" counts no infections).
    words = [(m.group(), m.start() > 0 and lowered[m.start() - 1] == "-") for m in _WORD.finditer(lowered)]
    content: set[str] = set()
    keys: set[str] = set()
    ordinary: dict[str, bool] = {}
    previous = ""
    for w, joined in words:
        w = w.strip("'")
        if w.endswith("'s"):
            w = w[:-2]  # "a child's vaccine" says "child"
        if _NUMBER.match(w) or (len(w) == 1 and w not in "ai" and previous):
            # "type 2", "stage 3", "hepatitis b", "vitamin d": the number or letter goes with its word.
            content.add(w)
            keys.add(f"{previous} {w}" if previous else w)
            if len(w) > 1 or not previous:
                keys.add(w)
        elif w not in _STOPWORDS and len(w) > 1:
            stem = _stem(w)
            content.add(stem)
            if w not in _GENERIC and stem not in _GENERIC_STEMS:
                keys.add(stem)
                ordinary[stem] = ordinary.get(stem, True) and is_ordinary(w)
            if previous and (_NUMBER.match(previous) or previous in NUMBER_WORDS):
                keys.add(f"{previous} {stem}")  # and with its unit: "72 hours" is not "72 days", "six years" not "six months"
        if w in _STOPWORDS or (joined and _NUMBER.match(w)):
            previous = ""
        else:
            previous = w if _NUMBER.match(w) or w in NUMBER_WORDS else _stem(w)
    return content, keys, {k for k, plain in ordinary.items() if plain}


def _window_terms(text: str) -> set[str]:
    content, keys = _terms(text)
    return content | keys  # keys hold the "word number" pairs, so a window answers both questions


@lru_cache(maxsize=4096)
def _windows(passage_text: str) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    """(the sentence, the sentence with its neighbours) term sets, for each sentence of a passage. Terms from a
    neighbour would let "ibuprofen" replace "aspirin" in "Aspirin thins the blood. Ibuprofen is an NSAID.", so
    strict mode reads the sentence alone; lenient mode reads it with its neighbours and the passage's first
    sentence, which names what the passage is about ("Treatment for COPD aims ..."): a paraphrase names it."""
    sentences = split_sentences(passage_text) or [passage_text]
    sets = [frozenset(_window_terms(s)) for s in sentences]
    out = []
    for i, own in enumerate(sets):
        near = own.union(sets[0], *sets[max(0, i - 1): i + 2])
        out.append((own, near))
    return tuple(out)


def support(sentence: str, passages: Sequence[str], strict: bool = True) -> SentenceSupport:
    """Which of `passages` (texts) support `sentence`, and how well."""
    content, keys, ordinary = _terms_and_ordinary(sentence)
    plain = citations.strip(sentence).strip()
    # Nothing to check: no content, a statement that the sources are silent, a refusal or a referral ("See a
    # doctor."), or a short linking line with no key term ("In short:", "It is common.").
    if not content or _ABSTAIN.search(plain) or _NO_CLAIM.search(plain) or (not keys and len(content) <= 3):
        return SentenceSupport(plain, (), 1.0, True, kind="plain")
    need = STRICT_COVERAGE if strict else LENIENT_COVERAGE
    scored: list[tuple[float, float, int, tuple[str, ...]]] = []  # (rank, coverage, passage, missing keys)
    for n, text in enumerate(passages, start=1):
        best = (-1e9, 0.0, n, tuple(sorted(keys)))
        for own, near in _windows(text):
            missing = tuple(sorted(k for k in keys if k not in (own if strict else near) and k not in ordinary))
            coverage = len(content & (own if strict else near)) / len(content)
            rank = coverage - len(missing)  # a missing key term outweighs any overlap
            if rank > best[0]:
                best = (rank, coverage, n, missing)
        scored.append(best)
    scored.sort(key=lambda t: (-t[0], t[2]))
    backed = [t for t in scored if not t[3] and t[1] >= need]
    if backed:
        return SentenceSupport(plain, tuple(t[2] for t in backed[:MAX_CITED]), backed[0][1], True)
    _, coverage, _, missing = scored[0] if scored else (0.0, 0.0, 0, tuple(sorted(keys)))
    return SentenceSupport(plain, (), coverage, not strict, missing=missing)


COVERAGE_SHARE = 0.7  # of the question's key-term weight one passage must hold (bench/attribution_bench.py)
_FUZZY = 0.85  # a key term of six letters or more also matches a passage word this similar (typos)


class TermStats:
    """How many texts of an index hold each term, for weighting a question's terms by how rare they are: the
    subject of "what is restless legs syndrome" is "restless", not "legs"."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.n = len(texts)
        self.df: dict[str, int] = {}
        for text in texts:
            for term in _window_terms(text):
                self.df[term] = self.df.get(term, 0) + 1

    def weight(self, term: str) -> float:
        """Inverse document frequency; a term no text holds weighs as much as the rarest one."""
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))


@dataclass(frozen=True)
class Coverage:
    """Whether retrieved passages cover a question's subject: `terms` are its key terms, `missing` those no
    passage holds (rarest first), `share` the weight of its terms the best passage holds."""

    covered: bool
    terms: tuple[str, ...]
    missing: tuple[str, ...]
    share: float = 0.0

    @property
    def subject(self) -> str:
        """The rarest missing terms as the reader wrote them, for "the sources here do not cover ..."."""
        return ", ".join(self.missing[:3])


def covers(question: str, passages: Sequence[str], stats: TermStats | None = None) -> Coverage:
    """Whether one passage holds at least `COVERAGE_SHARE` of the question's key terms, each weighted by its
    rarity in the index (`stats`; equal weights without), typos forgiven.

    Measured in `bench/attribution_bench.py` on answerable and unanswerable questions. A question with no key
    term ("what is this?") is covered by any passage.
    """
    words = {w: _stem(w) for w in _WORD.findall(question.lower()) if not _NUMBER.match(w)}
    _, keys, ordinary = _terms_and_ordinary(question)
    named = {stem: w for w, stem in words.items()}
    terms = sorted(k for k in keys if k not in _ASKING and named.get(k, k) not in _ASKING and " " not in k
                   and not _NUMBER.match(k))
    # "Is tinnitus forever?" is about tinnitus: ordinary words name no subject, unless nothing else does.
    terms = [t for t in terms if t not in ordinary] or terms
    if not passages:
        return Coverage(False, tuple(terms), tuple(terms))
    if not terms:
        return Coverage(True, (), (), 1.0)
    weight = {t: stats.weight(t) if stats is not None else 1.0 for t in terms}
    total = sum(weight.values()) or 1.0
    found: set[str] = set()
    best = 0.0
    for text in passages:
        vocabulary = _passage_vocabulary(text)
        here = {t for t in terms if t in vocabulary or _near(t, vocabulary)}
        found |= here
        best = max(best, sum(weight[t] for t in here) / total)
    missing = tuple(named.get(t, t) for t in sorted(terms, key=lambda t: -weight[t]) if t not in found)
    return Coverage(best >= COVERAGE_SHARE, tuple(named.get(t, t) for t in terms), missing, best)


@lru_cache(maxsize=4096)
def _passage_vocabulary(text: str) -> frozenset[str]:
    return frozenset(_window_terms(text))


def _near(term: str, vocabulary: frozenset[str]) -> bool:
    if len(term) < 6:
        return False
    return any(abs(len(w) - len(term)) <= 2 and w[:1] == term[:1]
               and SequenceMatcher(None, term, w).ratio() >= _FUZZY for w in vocabulary)


def focus(question: str, passage_text: str, sentences: int) -> str:
    """The passage cut to its first sentence (what it is about) and the `sentences` others that share most
    terms with the question, in their order: fewer prompt tokens for the same quotable facts. A passage with
    no more sentences than that comes back whole."""
    parts = split_sentences(passage_text)
    if sentences <= 0 or len(parts) <= sentences + 1:
        return passage_text
    content, keys = _terms(question)
    wanted = content | keys

    def score(i: int) -> float:
        own = _window_terms(parts[i])
        return 2.0 * len(own & keys) + len(own & wanted) - i * 1e-3  # ties go to the earlier sentence

    best = sorted(range(1, len(parts)), key=score, reverse=True)[:sentences]
    return " ".join(parts[i] for i in sorted([0, *best]))

