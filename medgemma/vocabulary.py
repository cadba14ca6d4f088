"""Which words are ordinary English and which name something medical, for the answer check.

A paraphrase brings in ordinary words its passage does not hold ("a sudden *rush* of fear"); a substitution
brings in a name ("gout", "ibuprofen", "veins"). Two lists tell them apart without a medical dictionary:

- *names*: every word of the shipped knowledge base's topics and titles (MedQuAD's 15,809 NIH answers have
  about 4,700 topics, most of them conditions; the hand-written corpus adds its drugs and tests), lists of body parts and kinds
  of organism, and number words;
- *common words*: the whole words of the default embedder's WordPiece vocabulary (about 21,000), the words
  frequent enough in English text to get a token of their own. A rare name ("zolmitriptan",
  "fibromyalgia", "paracetamol") is split into pieces there, so it is never common.

A word is ordinary when it is common and not a name. Both lists ship with the package, so nothing is read
from the network; they are built once, on first use (about a second).
"""

from __future__ import annotations

import re
from functools import lru_cache

from nltk.stem.porter import PorterStemmer

from .assets import default_embedder_path, knowledge_base_paths
from .errors import MissingDependency
from .files import read_jsonl, read_text

MAX_CORPUS_BYTES = 64 * 1024 * 1024
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]")
BODY_PARTS = frozenset("""
abdomen airway airways ankle ankles anus aorta appendix arm arms arteries artery back belly bladder blood bone
bones bowel bowels brain breast breasts calf cell cells cervix cheek chest chin colon cornea ear eardrum ears
elbow eye eyes face finger fingers foot forehead gallbladder gland glands groin gum gums gut hair hand hands
head heart heel hip hips intestine intestines jaw joint joints kidney kidneys knee knees lens lip lips liver
lung lungs lymph marrow mouth muscle muscles nail nails neck nerve nerves node nodes nose oesophagus esophagus
organ organs ovaries ovary palm pancreas pelvis penis prostate pupil rectum retina rib ribs scalp shoulder
shoulders sinus sinuses skin skull sole spine spleen stomach teeth testicle testicles testis thigh throat
thyroid tissue tissues toe toes tongue tonsil tonsils tooth uterus vagina vein veins vessel vessels windpipe
womb wrist wrists
""".split())
ORGANISMS = frozenset("""
bacteria bacterial bacterium fungal fungi fungus germ germs mould mold mosquito mosquitoes parasite parasites
tick ticks virus viral viruses worm worms yeast
""".split())
# "two years" is not "six months": a number written in words is a fact like a number in digits.
NUMBER_WORDS = frozenset("""
zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million
billion half twice double triple quarter third
""".split())


_stemmer = PorterStemmer()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Porter stem of a lower-case word: "kidneys" and "kidney" are one term, and so are "necrosis" and
    "necrotic" (Porter leaves "-osis" as "osi", "-otic" as "ot")."""
    out = _stemmer.stem(word)
    return out[:-3] + "ot" if out.endswith("osi") and len(out) > 5 else out


@lru_cache(maxsize=1)
def name_stems() -> frozenset[str]:
    """Stems of the knowledge base's topic and title words, body parts, organisms and number words."""
    words: set[str] = set(BODY_PARTS | ORGANISMS | NUMBER_WORDS)
    for path in knowledge_base_paths():
        for _, row in read_jsonl(path, MAX_CORPUS_BYTES, "corpus files"):
            label = f"{row.get('topic', '')} {str(row.get('title', '')).split(':')[0]}"
            words.update(w.strip("'") for w in _WORD.findall(label.replace("-", " ").lower()))
    return frozenset(stem(w) for w in words)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Whole alphabetic words of the default embedder's vocabulary; empty when it is not installed, which
    only makes the check stricter."""
    try:
        text = read_text(default_embedder_path() / "vocab.txt", 4 * 1024 * 1024, "vocabularies")
    except MissingDependency:
        return frozenset()
    return frozenset(w for w in text.split() if w.isalpha() and w.islower() and len(w) > 2)


def is_ordinary(word: str) -> bool:
    """Whether `word` (lower case, as written) is a common English word that names nothing medical. Names
    are compared by stem, so "cataracts" is a name because "Cataract" is a topic."""
    return word in common_words() and stem(word) not in name_stems()
