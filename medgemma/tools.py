"""What programs and agents may ask beside an answer: search a named index, list the indexes, embed texts and
triage a question. The doors (`/v1/search`, `/v1/embeddings`, the MCP tools) check their transport and the
visitor's limits, then make one call here; answers themselves go through `Assistant.stream` as everywhere.

Every input is checked and bounded here, so the HTTP API and MCP refuse the same things with the same words.
Nothing here knows HTTP or Gradio.
"""

from __future__ import annotations

from typing import Any, Callable

from .errors import InputError, MedGemmaError
from .rag import store
from .rag.indexes import list_indices
from .runtime import Runtime
from .types import Passage

MAX_K = 20  # passages one search (or one answer on the API) may ask for
MAX_EMBED_INPUTS = 64  # texts in one embeddings request: about 3-6 s of MiniLM on 2 cores at the size cap
MAX_EMBED_CHARS = 8000  # characters of one text to embed; MiniLM reads its first 256 word pieces anyway
MAX_EMBED_TOTAL_CHARS = 128_000


# `admit`, where a function takes it, runs once the input is checked and before any work: the door's rate limit,
# so a refused request is not counted.
Admit = Callable[[], None] | None


def _admit(admit: Admit) -> None:
    if admit is not None:
        admit()


def check_k(k: Any, lowest: int = 1) -> int:
    """`k` as an int between `lowest` and MAX_K, or InputError."""
    if isinstance(k, bool) or not isinstance(k, (int, float)) or int(k) != k or not lowest <= k <= MAX_K:
        raise InputError(f"k must be a whole number from {lowest} to {MAX_K}; got {k!r}.")
    return int(k)


def check_query(runtime: Runtime, query: Any) -> str:
    """The query stripped, or InputError when it is not text, empty or longer than a question may be."""
    return runtime.assistant().check_input(query)


def passage_json(n: int, p: Passage) -> dict[str, Any]:
    """One passage as JSON: its rank `n`, where it comes from, its cosine score and its text."""
    return {"n": n, "id": p.id, "title": p.title, "source": p.source, "url": p.url, "score": p.score,
            "page": p.page, "text": p.text}


def search(runtime: Runtime, query: Any, k: Any = None, index: str | None = None,
           admit: Admit = None) -> dict[str, Any]:
    """The top `k` passages for `query` in `index` (default: the one answering), with the configured retrieval
    mode and score floor: `{"index", "query", "passages": [...]}`."""
    text = check_query(runtime, query)
    k = check_k(runtime.cfg.retrieval.k if k is None else k)
    name = check_index(runtime, index)
    _admit(admit)
    retrieval = runtime.cfg.retrieval
    found = runtime.index(name).search(text, k=k, mode=retrieval.mode, min_score=retrieval.min_score)
    return {"index": name, "query": text, "passages": [passage_json(n, p) for n, p in enumerate(found, 1)]}


def check_index(runtime: Runtime, index: Any) -> str:
    """The name of an index that exists (None: the one answering), or InputError listing the ones that do."""
    current = runtime.cfg.retrieval.index
    if index is None or index == "" or index == current:
        return current
    if not isinstance(index, str):
        raise InputError("index must be the name of an index (a string).")
    store.check_name(index)
    known = list_indices(runtime.cfg)
    if index not in known:
        raise InputError(f"There is no index named {index!r}; the indexes are: {', '.join(known) or current}.")
    return index


def indexes(runtime: Runtime) -> list[dict[str, Any]]:
    """Every index that can be searched: its name, passages, embedder, the files it was built from (names
    only) and whether it is the one answering. A folder whose manifest cannot be read is left out."""
    current = runtime.cfg.retrieval.index
    names = list_indices(runtime.cfg)
    if current not in names:
        names = [current, *names]
    out = []
    for name in names:
        try:
            manifest = store.read_manifest(runtime.cfg.indices_dir / name)
        except MedGemmaError:
            if name != current:
                continue
            manifest = {}
        if name == current and "count" not in manifest and runtime.ready:
            manifest = {**manifest, "count": len(runtime.index(name))}
        out.append({"name": name, "passages": manifest.get("count"), "embedder": manifest.get("embedder"),
                    "sources": [str(s).replace("\\", "/").rsplit("/", 1)[-1] for s in manifest.get("sources", [])],
                    "answering": name == current})
    return out


def check_texts(texts: Any) -> list[str]:
    """Texts to embed: a string or a list of strings, each non-empty, within the count and size limits."""
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        raise InputError("input must be a string or a non-empty list of strings.")
    if len(texts) > MAX_EMBED_INPUTS:
        raise InputError(f"input has {len(texts)} texts; the limit is {MAX_EMBED_INPUTS} per request.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputError(f"input[{i}] must be a string (token ids are not accepted; send the text).")
        if not t.strip():
            raise InputError(f"input[{i}] is empty.")
        if len(t) > MAX_EMBED_CHARS:
            raise InputError(f"input[{i}] has {len(t):,} characters; the limit is {MAX_EMBED_CHARS:,}.")
    total = sum(len(t) for t in texts)
    if total > MAX_EMBED_TOTAL_CHARS:
        raise InputError(f"input has {total:,} characters in all; the limit is {MAX_EMBED_TOTAL_CHARS:,}.")
    return texts


def embed(runtime: Runtime, texts: Any, admit: Admit = None) -> tuple[str, list[list[float]], int]:
    """The answering index's embedder on `texts` (checked by `check_texts`): (model name, unit vectors, tokens
    read)."""
    texts = check_texts(texts)
    _admit(admit)
    embedder = runtime.index().embedder
    vectors = embedder.encode(list(texts))
    return embedder.name, vectors.tolist(), int(sum(embedder.count_tokens(list(texts))))


def triage(runtime: Runtime, question: Any, region: str = "", door: str = "triage",
           admit: Admit = None) -> dict[str, Any]:
    """The safety verdict on `question` alone (the rules, then the triage model; no chat model runs); `door`
    names the caller in the question log."""
    assistant = runtime.assistant()
    text = assistant.check_input(question)
    _admit(admit)
    verdict = assistant.verdict(text, region)
    runtime.questions.record(door, text, verdict)
    return {"action": verdict.action, "category": verdict.category, "message": verdict.message,
            "model_would_answer": not verdict.blocks_model}
