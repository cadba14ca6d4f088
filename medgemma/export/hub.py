"""Push an export folder to the Hugging Face Hub: a private repository by default, one commit, and a dry run
that shows exactly what would be sent without touching the network.

The token comes from the argument or HF_TOKEN. It is handed to huggingface_hub and nowhere else: it is never
put in the returned dict, in an error message or in a log line.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from ..errors import BackendError, InputError, MissingDependency
from ..files import inventory

REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")
CARD_NAME = "README.md"


def _redact(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def push_to_hub(
    folder: Path,
    repo_id: str,
    token: str | None = None,
    private: bool = True,
    dry_run: bool = False,
    card: str | None = None,
    commit_message: str = "Upload from MedGemma Studio",
) -> dict[str, Any]:
    """Upload every file of `folder` (and `card` as README.md, replacing one there) to the model repo `repo_id`.

    Without a token (argument or HF_TOKEN) this is a dry run. A dry run returns the files (path, bytes,
    sha256) and the card text that would be pushed, and imports nothing that uses the network. The
    repository is created private unless `private=False`; an existing repository keeps its visibility.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder.")
    if not REPO_ID.match(repo_id or ""):
        raise InputError(f"{repo_id!r} is not a Hub repository id (owner/name).")
    token_source = "argument" if token else ("HF_TOKEN" if os.environ.get("HF_TOKEN") else None)
    token = token or os.environ.get("HF_TOKEN") or None
    files = [f for f in inventory(folder) if not (card is not None and f["path"] == CARD_NAME)]
    card_text = card
    if card is not None:
        blob = card.encode("utf-8")
        files.append({"path": CARD_NAME, "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest(),
                      "from": "card"})
    elif (folder / CARD_NAME).is_file():
        card_text = (folder / CARD_NAME).read_text(encoding="utf-8")
    files.sort(key=lambda f: f["path"])
    result: dict[str, Any] = {
        "repo_id": repo_id,
        "private": private,
        "dry_run": dry_run or token is None,
        "token": "given" if token else "missing",
        "token_source": token_source,
        "files": files,
        "total_bytes": sum(f["bytes"] for f in files),
        "card": card_text,
    }
    if card_text is None:
        result["warning"] = "No README.md model card: the Hub page will be empty. Pass card=model_card(...)."
    if result["dry_run"]:
        result["reason"] = "dry run requested" if dry_run else "no token (pass token= or set HF_TOKEN)"
        return result
    try:
        from huggingface_hub import CommitOperationAdd, HfApi
    except ImportError as exc:
        raise MissingDependency("huggingface_hub", "Pushing to the Hub") from exc
    operations = []
    for f in files:
        source: Any = (card_text or "").encode("utf-8") if f.get("from") == "card" else str(folder / f["path"])
        operations.append(CommitOperationAdd(path_in_repo=f["path"], path_or_fileobj=source))
    try:
        api = HfApi(token=token)
        repo = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.create_commit(repo_id, operations=operations, commit_message=commit_message,
                                   repo_type="model")
    except Exception as exc:  # noqa: BLE001 - any failure is reported without the token
        raise BackendError(f"Pushing to {repo_id} failed: {_redact(str(exc), token)}") from None
    result["url"] = str(repo or f"https://huggingface.co/{repo_id}")  # RepoUrl is the repository's URL string
    result["commit"] = str(getattr(commit, "oid", "") or "")
    result["commit_url"] = str(getattr(commit, "commit_url", "") or "")
    return result
