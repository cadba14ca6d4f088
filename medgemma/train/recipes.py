"""Training recipes built from the shared public data. Each returns Examples in a fixed order, the same on
every run, with evaluation items left out (`sources`).

- pubmedqa: yes/no/maybe questions answered from their own abstract ("Yes. <conclusion> [1]. ...").
- medquad: consumer questions answered without sources (the no-context prompt).
- grounded-pairs (`preferences.py`): the grounded examples as preference pairs for DPO.
- grounded (`grounded.py`): a question with its gold passage hidden among retrieved distractors, answered by
  quoting the gold with its citation number; a fraction get distractors only and learn to say the sources do
  not answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import citations
from ..errors import InputError
from ..prompts import build_messages
from ..rag.chunking import split_sentences
from .config import TrainConfig
from .data import load_examples
from .examples import Example, trim_sentences
from .licenses import license_of
from .provenance import sha256_path
from .clinical import clinical_errors_recipe
from .grounded import grounded_recipe
from .preferences import grounded_pairs_recipe
from .sources import (
    DECISIONS,
    abstract,
    build_sample,
    check_limit,
    digest,
    drop_leaked,
    drop_leaked_records,
    evaluation_items,
    medquad_rows,
    medquad_train,
    pubmedqa_train,
    shared_data,
)

MEDQUAD_ANSWER_CHARS = 700


# --- pubmedqa -----------------------------------------------------------------------------------------------


def pubmedqa_recipe(data_dir: Path | None = None) -> list[Example]:
    """The 500 PubMedQA questions outside the official test split, each answered from its own abstract.

    Prompt: the question with the abstract as source [1]. Answer: "Yes." / "No." / "Maybe.", then the
    paper's conclusion (LONG_ANSWER) with "[1]" closing its first sentence. Category: the decision.
    """
    data = shared_data(data_dir)
    examples = []
    for rec in pubmedqa_train(data):
        first, *rest = split_sentences(citations.strip(rec.long_answer))
        answer = " ".join([DECISIONS[rec.decision], citations.cite(first, [1]), *rest])
        examples.append(Example(
            id=f"pubmedqa-{rec.pmid}", messages=tuple(build_messages(rec.question, [abstract(rec)])), answer=answer,
            meta={"source": "pubmedqa", "category": rec.decision, "eval_split": "train", "pmid": rec.pmid,
                  "question": rec.question, "year": rec.year, "format": "qa"}))
    ids, questions = evaluation_items(data)
    return drop_leaked(examples, ids, questions, "pubmedqa")


# --- medquad ------------------------------------------------------------------------------------------------


def medquad_recipe(data_dir: Path | None = None, limit: int | None = None) -> list[Example]:
    """MedQuAD's training-split questions, each once, answered without sources (the no-context prompt).

    Answer: the NIH answer cut at a sentence boundary to about 700 characters, list items on their own
    lines. Category: the question type. `limit` keeps a fixed sample (seed 0), in file order.
    """
    check_limit(limit)
    data = shared_data(data_dir)
    rows = medquad_rows(data)
    _, questions = evaluation_items(data, rows)
    records = [rec for _, rec in medquad_train(rows)]
    return build_sample(drop_leaked_records(records, questions, "medquad"), _medquad_example, limit, seed=0)


def _medquad_example(rec: dict[str, str]) -> Example | None:
    answer = trim_sentences(rec["answer"], MEDQUAD_ANSWER_CHARS, lines=True)
    if not answer:
        return None
    return Example(
        id=f"medquad-{rec['qid']}-{digest(rec['question'])}", messages=tuple(build_messages(rec["question"], [])),
        answer=answer,
        meta={"source": "medquad", "category": rec["qtype"], "eval_split": "train", "qid": rec["qid"],
              "question": rec["question"], "focus": rec["focus"], "publisher": rec["source"], "url": rec["url"],
              "format": "qa"})


# --- the registry -------------------------------------------------------------------------------------------

RECIPES: dict[str, Callable[..., list[Example]]] = {
    "pubmedqa": pubmedqa_recipe,
    "medquad": medquad_recipe,
    "grounded": grounded_recipe,
    "clinical-errors": clinical_errors_recipe,
    "grounded-pairs": grounded_pairs_recipe,
}
NEEDS_INDEX = frozenset({"grounded", "grounded-pairs"})  # their distractors come from an index


def build_recipe(name: str, **kwargs: Any) -> list[Example]:
    """The examples of recipe `name`; keyword arguments go to it.

    grounded takes its distractors from an index: pass `retriever`, or `index` (a name under indices/,
    default "default", the shipped corpus), which is opened here, so YAML files and the CLI can name it."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise InputError(f"Unknown training recipe {name!r}. Known recipes: {', '.join(RECIPES)}.")
    if name in NEEDS_INDEX and kwargs.get("retriever") is None:
        from ..config import AppConfig
        from ..rag.indexes import open_index

        kwargs["retriever"] = open_index(str(kwargs.pop("index", "default")), AppConfig.from_env())
    elif name not in NEEDS_INDEX and "index" in kwargs:
        raise InputError(f"The {name} recipe takes no index.")
    return recipe(**kwargs)


# --- what a run trains on -----------------------------------------------------------------------------------


def load_training_examples(cfg: TrainConfig) -> tuple[list[Any], dict[str, Any]]:
    """The examples the config names (files or a recipe) and what provenance records about their source."""
    if cfg.recipe:
        examples = list(build_recipe(cfg.recipe, **dict(cfg.recipe_args)))
        return examples, {"recipe": {"name": cfg.recipe, "args": dict(cfg.recipe_args),
                                     "license": license_of(cfg.recipe)}, "files": []}
    if not cfg.data:
        raise InputError("No training data: give data files or a recipe.")
    examples = []
    files = []
    for name in cfg.data:
        path = Path(name).expanduser()
        if not path.exists():  # a file, or a folder saved by `datasets`
            raise InputError(f"Training file {path} not found.")
        loaded = load_examples(path, fmt=cfg.data_format, limit=cfg.limit or None)
        examples.extend(loaded)
        files.append({"path": str(path.resolve()), "sha256": sha256_path(path), "examples": len(loaded),
                      "license": license_of(path.name)})
    return examples, {"files": files, "recipe": None}
