"""Named indices under `indices/`: building one from files, and the default index kept in step with the corpus."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Sequence

from ..assets import corpus_path
from ..config import AppConfig
from ..errors import IndexStoreError
from . import store
from .embedder import Embedder
from .ingest import ingest
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
) -> Retriever:
    """Ingest `paths` and write `indices/<name>` atomically."""
    directory = cfg.indices_dir / store.check_name(name)
    chunks = ingest(paths, size=cfg.retrieval.chunk_size, overlap=cfg.retrieval.chunk_overlap, progress=progress)
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
        corpus = corpus_path()
        chunks = ingest([corpus], size=cfg.retrieval.chunk_size, overlap=cfg.retrieval.chunk_overlap)
        try:
            manifest = store.read_manifest(directory)
            fresh = manifest.get("corpus_hash") == corpus_hash(chunks)
        except IndexStoreError:
            fresh = False
        if not fresh:
            extra = {"sources": [corpus.name], "chunk_size": cfg.retrieval.chunk_size,
                     "chunk_overlap": cfg.retrieval.chunk_overlap}
            return Retriever.build(chunks, directory, shared_embedder(), extra=extra, progress=progress)
    manifest = store.read_manifest(directory)
    return Retriever.load(directory, shared_embedder(manifest.get("embedder")))


def list_indices(cfg: AppConfig) -> list[str]:
    """Names of the index folders that have a manifest (not the hidden folders of builds in progress)."""
    if not cfg.indices_dir.is_dir():
        return []
    for aside in cfg.indices_dir.glob(".*.old-*"):  # an index whose build was killed mid-swap comes back
        name = aside.name[1:].rsplit(".old-", 1)[0]
        if name and not name.startswith("."):
            store.recover(aside.with_name(name))
    return sorted(p.name for p in cfg.indices_dir.iterdir()
                  if not p.name.startswith(".") and (p / store.MANIFEST).is_file())
