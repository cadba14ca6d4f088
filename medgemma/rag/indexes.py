"""Named indices under `indices/`: building one from files, and the default index kept in step with the shipped
knowledge base (from its shipped vectors when they match, so a fresh install does not embed 36,000 chunks)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..assets import knowledge_base_paths, shipped_vectors_path
from ..config import AppConfig
from ..errors import IndexStoreError
from ..files import recover
from . import store
from .embedder import Embedder
from .ingest import DEFAULT_MAX_BYTES, ingest
from ..types import Chunk
from .retriever import Retriever, corpus_hash

_embedders: dict[str, Embedder] = {}
_lock = threading.Lock()


def shared_embedder(name: str | None = None) -> Embedder:
    """One embedder per name for the whole process (loading MiniLM takes seconds and ~100 MB)."""
    key = name or "all-MiniLM-L6-v2"
    with _lock:
        if key not in _embedders:
            _embedders[key] = Embedder(key)
        return _embedders[key]


def build_index(
    paths: Sequence[Path],
    name: str,
    cfg: AppConfig,
    progress: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Retriever:
    """Ingest `paths` (each file at most `max_bytes`, decompressed too) and write `indices/<name>` atomically."""
    directory = cfg.indices_dir / store.check_name(name)
    chunks = ingest(paths, size=cfg.retrieval.chunk_size, overlap=cfg.retrieval.chunk_overlap, progress=progress,
                    max_bytes=max_bytes)
    extra = {
        "sources": [str(p) for p in paths],
        "chunk_size": cfg.retrieval.chunk_size,
        "chunk_overlap": cfg.retrieval.chunk_overlap,
    }
    return Retriever.build(chunks, directory, shared_embedder(), extra=extra, progress=progress, on_batch=on_batch)


def open_index(name: str, cfg: AppConfig, progress: bool = False) -> Retriever:
    """Load `indices/<name>`. The default index is (re)built from the shipped corpus when missing or stale."""
    directory = cfg.indices_dir / store.check_name(name)
    if name == "default":
        chunks = default_chunks(cfg)
        try:
            manifest = store.read_manifest(directory)
            fresh = manifest.get("corpus_hash") == corpus_hash(chunks)
        except IndexStoreError:
            fresh = False
        if not fresh:
            embedder = shared_embedder()
            extra = {"sources": [p.name for p in knowledge_base_paths()], "chunk_size": cfg.retrieval.chunk_size,
                     "chunk_overlap": cfg.retrieval.chunk_overlap}
            return Retriever.build(chunks, directory, embedder, extra=extra, progress=progress,
                                   vectors=shipped_vectors(chunks, embedder.name))
    manifest = store.read_manifest(directory)
    return Retriever.load(directory, shared_embedder(manifest.get("embedder")))


def default_chunks(cfg: AppConfig) -> list[Chunk]:
    """The chunks of the default index: the shipped knowledge base, cut with the configured sizes."""
    return ingest(knowledge_base_paths(), size=cfg.retrieval.chunk_size, overlap=cfg.retrieval.chunk_overlap)


def save_shipped_vectors(chunks: Sequence[Chunk], vectors: np.ndarray, embedder_name: str, path: Path) -> None:
    """Store `vectors` as int8 with one scale per vector (a quarter of float32's size; cosine to the float
    vector above 0.999), tagged with the chunks' hash and the embedder, atomically."""
    scales = np.abs(vectors).max(axis=1, keepdims=True) / 127.0
    codes = np.round(vectors / np.maximum(scales, 1e-12)).astype(np.int8)
    tmp = path.with_name(path.name + ".part.npz")
    np.savez_compressed(tmp, codes=codes, scales=scales.astype(np.float32), corpus_hash=np.array(corpus_hash(chunks)),
                        embedder=np.array(embedder_name))
    tmp.replace(path)


def shipped_vectors(chunks: Sequence[Chunk], embedder_name: str, path: Path | None = None) -> np.ndarray | None:
    """The shipped vectors of `chunks`, or None (then they are computed) when the file is missing or was made
    for other chunks (another chunk size, an edited corpus) or another embedder. Read without unpickling."""
    path = path or shipped_vectors_path()
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["corpus_hash"]) != corpus_hash(chunks) or str(data["embedder"]) != embedder_name:
                return None
            vectors = data["codes"].astype(np.float32) * data["scales"]
    except (OSError, KeyError, ValueError):
        return None
    if len(vectors) != len(chunks):
        return None
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def list_indices(cfg: AppConfig) -> list[str]:
    """Names of the index folders that have a manifest (not the hidden folders of builds in progress)."""
    if not cfg.indices_dir.is_dir():
        return []
    for aside in cfg.indices_dir.glob(".*.old-*"):  # an index whose build was killed mid-swap comes back
        name = aside.name[1:].rsplit(".old-", 1)[0]
        if name and not name.startswith("."):
            recover(aside.with_name(name))
    return sorted(p.name for p in cfg.indices_dir.iterdir()
                  if not p.name.startswith(".") and (p / store.MANIFEST).is_file())
