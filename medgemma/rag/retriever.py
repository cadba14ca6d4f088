"""Finds passages for a question: dense FAISS search, BM25, and their reciprocal-rank fusion.

Every result carries its cosine similarity to the query as `score` (also for passages found by BM25
alone), so the threshold and the UI speak one scale; the order comes from the chosen method.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..assets import DEFAULT_EMBEDDER
from ..errors import IndexStoreError, InputError, require
from ..types import Chunk, Passage
from . import store
from .embedder import Embedder

RRF_K = 60  # the constant from Cormack et al. (2009); it damps the weight of the very top ranks


def corpus_hash(chunks: Sequence[Chunk]) -> str:
    """A digest of the chunk texts and ids: it changes whenever the indexed content would."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk.id.encode())
        digest.update(b"\0")
        digest.update(chunk.text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def embed_chunks(
    chunks: Sequence[Chunk],
    embedder: Embedder,
    progress: bool = False,
    batch_size: int = 64,
    on_batch: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The unit vectors an index stores for `chunks` (title and text), in order."""
    texts = [_embed_text(c) for c in chunks]
    parts = []
    batches = range(0, len(texts), batch_size * 8)
    iterator: Any = batches
    if progress:
        from tqdm import tqdm

        iterator = tqdm(batches, desc="Embedding", unit="batch", total=len(batches))
    for start in iterator:
        parts.append(embedder.encode(texts[start : start + batch_size * 8], batch_size=batch_size))
        if on_batch:
            on_batch(min(start + batch_size * 8, len(texts)), len(texts))
    return np.concatenate(parts)


class Retriever:
    """Search over one index folder. Safe to share between threads."""

    def __init__(self, chunks: Sequence[Chunk], index: Any, embedder: Embedder, manifest: dict[str, Any]) -> None:
        self.chunks = list(chunks)
        self.index = index
        self.embedder = embedder
        self.manifest = manifest
        self._bm25: Any = None
        self._bm25_lock = threading.Lock()

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", ""))

    def __len__(self) -> int:
        return len(self.chunks)

    # Building and loading -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        chunks: Sequence[Chunk],
        directory: Path,
        embedder: Embedder,
        extra: dict[str, Any] | None = None,
        progress: bool = False,
        batch_size: int = 64,
        on_batch: Callable[[int, int], None] | None = None,
        vectors: np.ndarray | None = None,
    ) -> "Retriever":
        """Embed `chunks` (or take their `vectors`, made by `embed_chunks` with this embedder), write the index
        folder atomically and return a retriever over it."""
        if not chunks:
            raise InputError("Nothing to index: no text was found in the given files.")
        if vectors is None:
            vectors = embed_chunks(chunks, embedder, progress, batch_size, on_batch)
        manifest = {
            "name": directory.name,
            "embedder": embedder.name,
            "corpus_hash": corpus_hash(chunks),
            **(extra or {}),
        }
        store.save(directory, chunks, vectors, manifest)
        return cls.load(directory, embedder)

    @classmethod
    def load(cls, directory: Path, embedder: Embedder | None = None) -> "Retriever":
        """Open an index folder. The embedder must be the one the index was built with."""
        manifest, index, chunks = store.load(directory)
        wanted = manifest.get("embedder", "")
        if embedder is None:
            embedder = Embedder(wanted or DEFAULT_EMBEDDER)
        if embedder.name != wanted or embedder.dim != index.d:
            raise IndexStoreError(
                f"Index {directory.name} was built with embedder {wanted!r} ({index.d} dimensions) but "
                f"{embedder.name!r} ({embedder.dim}) is loaded; rebuild the index or use that embedder."
            )
        return cls(chunks, index, embedder, manifest)

    # Searching -------------------------------------------------------------------------------------

    def search(self, query: str, k: int = 4, mode: str = "dense", min_score: float = 0.0) -> list[Passage]:
        """Top-k passages for `query`, best first; passages below `min_score` cosine are dropped."""
        query = query.strip()
        if not query:
            raise InputError("The search query is empty.")
        if k <= 0 or not self.chunks:
            return []
        qvec = self.embedder.encode([query])[0]
        pool = min(len(self.chunks), max(50, 5 * k))
        dense_scores, dense_ids = self.index.search(qvec[None, :], pool)
        dense = [int(i) for i in dense_ids[0] if i >= 0]
        if mode == "dense":
            order = dense
        elif mode == "hybrid":
            order = _rrf([dense, self._bm25_ranking(query, pool)])
        else:
            raise InputError("Retrieval mode must be 'hybrid' or 'dense'.")
        cosine = self._cosine(qvec, order)
        results = []
        for i in order:
            if cosine[i] < min_score:
                continue
            results.append(_passage(self.chunks[i], cosine[i]))
            if len(results) == k:
                break
        return results

    def _cosine(self, qvec: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        # Vectors are unit length, so the inner product is the cosine; reconstruct is exact for flat indexes.
        if not ids:
            return {}
        vecs = np.stack([self.index.reconstruct(int(i)) for i in ids])
        return {int(i): float(s) for i, s in zip(ids, vecs @ qvec)}

    def _bm25_ranking(self, query: str, pool: int) -> list[int]:
        bm25s = require("bm25s", "bm25s", "Hybrid retrieval")
        with self._bm25_lock:
            if self._bm25 is None:
                # Built in memory at first use (about a second for 16k passages) instead of stored,
                # which keeps the index folder free of library-specific formats.
                retriever = bm25s.BM25()  # type: ignore[attr-defined]
                tokens = bm25s.tokenize([_embed_text(c) for c in self.chunks], stopwords="en", show_progress=False)  # type: ignore[attr-defined]
                retriever.index(tokens, show_progress=False)
                self._bm25 = retriever
            tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)  # type: ignore[attr-defined]
            if not tokens.vocab:
                return []
            ids, scores = self._bm25.retrieve(tokens, k=min(pool, len(self.chunks)), show_progress=False)
        return [int(i) for i, s in zip(ids[0], scores[0]) if s > 0]


def _rrf(rankings: Sequence[Sequence[int]]) -> list[int]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(fused, key=lambda d: (-fused[d], d))


def _embed_text(chunk: Chunk) -> str:
    # The title carries the topic ("Asthma: triggers") that the passage text may only imply.
    if chunk.title and not chunk.text.startswith(chunk.title):
        return f"{chunk.title}. {chunk.text}"
    return chunk.text


def _passage(chunk: Chunk, score: float) -> Passage:
    return Passage(
        id=chunk.id,
        text=chunk.text,
        title=chunk.title,
        source=chunk.source,
        url=chunk.url,
        score=round(score, 4),
        page=chunk.page,
        meta=dict(chunk.meta),
    )
