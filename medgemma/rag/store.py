"""Index folders on disk: FAISS vectors, passages as JSONL and a JSON manifest. No pickle anywhere.

Layout of `indices/<name>/`:
  manifest.json   embedder, dimension, count, corpus hash, chunking, created
  vectors.faiss   faiss.write_index of an IndexFlatIP over unit vectors
  passages.jsonl  one chunk per line, in vector order

A folder is written complete under a temporary name and swapped into place (`files.atomic_folder`), so a
crash during a build leaves the previous index untouched, and one between the two renames of the swap is
recovered on the next read (`files.recover`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import IndexStoreError, InputError, require
from ..files import atomic_folder, recover
from ..types import Chunk

MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
PASSAGES = "passages.jsonl"
FORMAT_VERSION = 1


def check_name(name: str) -> str:
    """An index name is a plain folder name: letters, digits, '-', '_' and '.', not starting with '.'."""
    if not name or len(name) > 64 or name.startswith(".") or any(not (c.isalnum() or c in "-_.") for c in name):
        shown = name if len(name) <= 80 else name[:80] + "..."
        raise InputError(f"Index name {shown!r} is not allowed: use up to 64 letters, digits, '-', '_' or '.'.")
    return name


def save(directory: Path, chunks: Sequence[Chunk], vectors: np.ndarray, manifest: dict[str, Any]) -> None:
    """Write a complete index folder atomically (temp folder, then rename over the old one)."""
    faiss = require("faiss", "faiss-cpu", "The vector index")
    if len(chunks) != len(vectors):
        raise IndexStoreError(f"{len(chunks)} passages but {len(vectors)} vectors.")
    with atomic_folder(directory) as tmp:
        index = faiss.IndexFlatIP(vectors.shape[1])  # type: ignore[attr-defined]
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(index, str(tmp / VECTORS))  # type: ignore[attr-defined]
        with open(tmp / PASSAGES, "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        full = {
            "format": FORMAT_VERSION,
            **manifest,
            "dimension": int(vectors.shape[1]),
            "count": len(chunks),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (tmp / MANIFEST).write_text(json.dumps(full, indent=2), encoding="utf-8")


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of an index folder, or IndexStoreError saying how to rebuild it."""
    recover(directory)
    path = directory / MANIFEST
    if not path.exists():
        raise IndexStoreError(f"No index at {directory}: build it with `python -m medgemma ingest PATH --index {directory.name}`.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexStoreError(f"The manifest of index {directory.name} is corrupt ({exc}); rebuild the index.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise IndexStoreError(f"Index {directory.name} has an unknown format; rebuild it.")
    return manifest


def load(directory: Path) -> tuple[dict[str, Any], Any, list[Chunk]]:
    """Read manifest, FAISS index and passages, checking they agree with each other."""
    faiss = require("faiss", "faiss-cpu", "The vector index")
    manifest = read_manifest(directory)
    try:
        index = faiss.read_index(str(directory / VECTORS))  # type: ignore[attr-defined]
    except RuntimeError as exc:
        raise IndexStoreError(f"The vectors of index {directory.name} are unreadable; rebuild the index.") from exc
    chunks: list[Chunk] = []
    try:
        with open(directory / PASSAGES, encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                chunks.append(Chunk(**record))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise IndexStoreError(f"The passages of index {directory.name} are corrupt ({exc}); rebuild the index.") from exc
    if index.ntotal != len(chunks) or len(chunks) != manifest.get("count") or index.d != manifest.get("dimension"):
        raise IndexStoreError(
            f"Index {directory.name} is inconsistent ({index.ntotal} vectors, {len(chunks)} passages, "
            f"manifest says {manifest.get('count')}); rebuild it."
        )
    return manifest, index, chunks
