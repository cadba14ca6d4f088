"""What a run is made of, and the record of it that goes into `provenance.json`.

Hashes the base model's weights and training files, refuses examples that are evaluation items, and assembles
the provenance dict the adapter card is built from. Loading the examples is `recipes.load_training_examples`;
splitting, statistics and the leakage test itself live in `medgemma.train.data`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

from ..files import sha256_file
from ..errors import InputError, MedGemmaError
from . import data
from .config import TrainConfig
from .progress import now

def hash_model(model_id: str, local: bool) -> dict[str, Any]:
    """sha256 of each safetensors file of the model and one digest over them all (name:sha lines, sorted)."""
    folder: Path | None = Path(model_id) if local else None
    if folder is None:
        try:  # the Hub cache's snapshot folder, without downloading anything
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(model_id, local_files_only=True))
        except Exception:  # noqa: BLE001 - provenance is best effort for a Hub id that is not cached
            return {"sha256": "", "files": {}, "note": "Hub model not in the local cache; not hashed"}
    files = {p.name: sha256_file(p) for p in sorted(folder.glob("*.safetensors"))}
    digest = hashlib.sha256("".join(f"{n}:{s}\n" for n, s in files.items()).encode()).hexdigest() if files else ""
    return {"sha256": digest, "files": files}


def evaluation_reference(data_dir: Path | None = None) -> tuple[set[str], set[str]]:
    """Ids and questions of every evaluation item that can be loaded (missing data sets are skipped)."""
    from ..eval.tasks import TASKS, load_task, pubmedqa_test_ids

    ids: set[str] = set()
    questions: set[str] = set()
    for name in TASKS:
        try:
            items = load_task(name, data_dir)
        except MedGemmaError:
            continue
        for it in items:
            ids.add(it.id)
            if it.question:
                questions.add(it.question)
    try:
        pmids = pubmedqa_test_ids(data_dir)
        ids |= pmids | {f"pubmedqa-{p}" for p in pmids}
    except MedGemmaError:
        pass
    return ids, questions


def check_leakage(examples: Sequence[Any], allow: bool) -> dict[str, Any]:
    """Refuse examples that are evaluation items unless `allow`; what was found goes into provenance."""
    ids, questions = evaluation_reference()
    found = list(data.check_leakage(list(examples), ids, questions))
    if found and not allow:
        raise InputError(
            f"{len(found)} training example(s) are evaluation items (e.g. {', '.join(map(str, found[:5]))}): "
            "training on them would make the evaluation overstate the model. Remove them, or set allow_leakage "
            "if you really mean it.")
    return {"checked": True, "matches": len(found), "allowed": bool(allow), "examples": [str(f) for f in found[:20]]}


def build_provenance(cfg: TrainConfig, *, model_id: str, local: bool, source: dict[str, Any],
                     examples: dict[str, int], tokens: dict[str, Any], leakage: dict[str, Any],
                     stats: dict[str, Any], started: str, device: dict[str, str], results: dict[str, Any],
                     trainable: int, total: int) -> dict[str, Any]:
    """The contents of `provenance.json` for a finished run (the adapter card is written from it)."""
    from ..eval.runner import git_commit, versions

    return {
        "format": 1,
        "adapter": cfg.output_name,
        "base_model": {"id": cfg.base_model or "gemma-3-270m (embedded, converted from the packaged GGUF)",
                       "path": model_id, "local": local, **hash_model(model_id, local),
                       "license": "Gemma Terms of Use (ai.google.dev/gemma/terms)"},
        "data": {**source, "examples": examples, "tokens": tokens, "leakage": leakage},
        "config": cfg.to_dict(),
        "dataset_stats": stats,
        "versions": {**versions(), **_extra_versions()},
        "git_commit": git_commit(),
        "started": started,
        "finished": now(),
        "device": device,
        "results": results,
        "trainable_parameters": int(trainable),
        "total_parameters": int(total),
        "fast_loss": cfg.fast_loss,
    }


def _extra_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("trl", "accelerate", "datasets", "bitsandbytes"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def sha256_path(path: Path) -> str:
    """sha256 of a file; for a folder, of its files' relative names and hashes in sorted order."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{item.relative_to(path).as_posix()}\0{sha256_file(item)}\n".encode())
    return digest.hexdigest()
