"""Training data from files: loading examples (`examples.Example`), dropping images for
text-only models, a stratified split, statistics and the evaluation-leakage check.

Every prompt is built with `prompts.build_messages`, so a model is trained on exactly the layout the
assistant gives it at run time. Files are JSON (a list of objects), JSONL or CSV, optionally gzipped, or a
folder written by `datasets`' `save_to_disk`. Nothing is fetched from a hub and nothing is unpickled.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import statistics
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import files
from ..files import atomic_write_text
from ..textclean import json_loads
from ..errors import InputError, require
from ..prompts import build_messages, render
from ..types import Message, Passage
from .examples import Example, Pair, normalize_question, question_of

MAX_FILE_BYTES = 1024 * 1024 * 1024  # the largest upload the app can be set to take (AccessConfig.upload_mb)
FORMATS = ("auto", "instruction", "qa", "chat", "preference")
ROLES = ("system", "user", "assistant")


# --- reading files ------------------------------------------------------------------------------------------


def _is(test: Callable[[], bool]) -> bool:
    """`path.is_file()` and the like, False for a name the file system refuses (too long, say)."""
    try:
        return test()
    except OSError:
        return False


def read_text(path: Path) -> str:
    """UTF-8 text of a training file (gzip when .gz), bounded by MAX_FILE_BYTES (`files.read_text`)."""
    return files.read_text(path, MAX_FILE_BYTES, "training files")


def _base_suffix(path: Path) -> str:
    name = path.name.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name[name.rfind("."):] if "." in name else ""


def read_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """("<file>, line N" or "<file>, list index N", record) for each record of a JSON, JSONL or CSV file.

    JSON versus JSONL is told from the content (a list opens with "["), so a misnamed file still reads.
    """
    path = Path(path)
    text = read_text(path)
    suffix = _base_suffix(path)
    if suffix in (".csv", ".tsv"):
        yield from _csv_records(path, text, "\t" if suffix == ".tsv" else ",")
        return
    start = text.lstrip()[:1]
    if start == "[":
        yield from _json_list_records(path, text)
    elif start == "{":
        yield from _jsonl_records(path, text)
    elif not start:
        return
    else:
        raise InputError(f"{path}: not JSON, JSONL or CSV (it starts with {text.lstrip()[:20]!r}).")


def _json_list_records(path: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        data = json_loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from exc
    if not isinstance(data, list):
        raise InputError(f"{path}: a JSON file must hold a list of objects.")
    for i, row in enumerate(data):
        where = f"{path}, list index {i}"
        yield where, files.json_object(row, where)


def _jsonl_records(path: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for n, row in files.jsonl_objects(path, text):
        yield f"{path}, line {n}", row


def _csv_records(path: Path, text: str, delimiter: str) -> Iterator[tuple[str, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{path}, line 1: not readable CSV ({exc}).") from exc
    if not any(header) or len(set(header)) != len(header):
        raise InputError(f"{path}, line 1: the header row must name each column once.")
    while True:
        start = reader.line_num + 1  # a quoted field may span lines: report where the record begins
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"{path}, line {start}: not readable CSV ({exc}).") from exc
        if not cells or not any(c.strip() for c in cells):
            continue
        where = f"{path}, line {start}"
        if len(cells) > len(header):
            raise InputError(f"{where}: {len(cells)} fields but the header names {len(header)}.")
        # An empty cell means "not given", as a missing key does in JSON.
        yield where, {h: c for h, c in zip(header, cells) if c != ""}


def _dataset_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if not ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file()):
        raise InputError(f"{path} is a folder but not a dataset saved with datasets' save_to_disk.")
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path} holds {files.size_text(size)}; training data is limited to "
                         f"{files.size_text(MAX_FILE_BYTES)}.")
    datasets = require("datasets", "datasets", "Loading a saved dataset")
    try:
        loaded: Any = datasets.load_from_disk(str(path))  # type: ignore[attr-defined]
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} could not be loaded as a saved dataset: {exc}") from exc
    if isinstance(loaded, Mapping):  # a DatasetDict
        if "train" in loaded:
            loaded = loaded["train"]
        elif len(loaded) == 1:
            loaded = next(iter(loaded.values()))
        else:
            raise InputError(f"{path} holds the splits {', '.join(loaded)}; save the one to train on by itself, "
                             f"or name one 'train'.")
    for i, row in enumerate(loaded):
        yield f"{path}, row {i}", dict(row)


# --- records to examples ------------------------------------------------------------------------------------


def _detect(row: Mapping[str, Any], where: str) -> str:
    for key, kind in (("chosen", "preference"), ("messages", "chat"), ("instruction", "instruction"),
                      ("question", "qa")):
        if row.get(key) not in (None, ""):
            return kind
    raise InputError(f"{where}: cannot tell the record's format: give 'instruction' and 'output', 'question' and "
                     f"'answer', 'messages', or 'prompt', 'chosen' and 'rejected' (it has {', '.join(map(str, row)) or 'no fields'}).")


def _required(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if value is None:
        raise InputError(f"{where}: '{key}' is missing.")
    if not isinstance(value, str):
        raise InputError(f"{where}: '{key}' must be text, not {type(value).__name__}.")
    if not value.strip():
        raise InputError(f"{where}: '{key}' is empty.")
    return value.strip()


def _optional(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: '{key}' must be text, not {type(value).__name__}.")
    return value.strip()


def _json_field(row: Mapping[str, Any], key: str, where: str, strict: bool = True) -> Any:
    # CSV cells hold nested values (messages, metadata, a list of contexts) as JSON text. A context is text
    # that may merely start with "[", so for it (strict=False) text that is not JSON stays text.
    value = row.get(key)
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json_loads(value)
        except json.JSONDecodeError as exc:
            if strict:
                raise InputError(f"{where}: '{key}' is not valid JSON ({exc.msg}).") from exc
    return value


def _meta_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value).strip()
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _image_path(value: Any, base: Path, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: 'image_file' must be a file name.")
    image = Path(value.strip()).expanduser()
    # Relative to the data file's folder, as the evaluation's clinical-errors loader reads it.
    return str(image if image.is_absolute() else base / image)


def _record_example(row: dict[str, Any], where: str, fmt: str, base: Path, default_id: str,
                    default_source: str) -> Example:
    kind = _detect(row, where) if fmt == "auto" else fmt
    raw_id = row.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        if raw_id not in (None, ""):
            raise InputError(f"{where}: 'id' must be text or a number.")
        ex_id = default_id
    else:
        ex_id = str(raw_id).strip()

    meta: dict[str, str] = {"format": kind}
    metadata = _json_field(row, "metadata", where)
    if metadata is not None and not isinstance(metadata, dict):
        raise InputError(f"{where}: 'metadata' must be an object.")
    image = row.get("image_file")
    for key, value in (metadata or {}).items():
        if key == "image_file":
            image = value if image is None else image
        elif (text := _meta_value(value)) is not None:
            meta[str(key)] = text
    for key in ("source", "category"):
        if row.get(key) is not None:
            meta[key] = _optional(row, key, where)
    meta.setdefault("source", default_source)
    # Without a category field, the clinical-scenario format's modality is the natural stratum.
    meta.setdefault("category", meta.get("modality") or meta.get("qtype") or "")

    images: list[str] = [_image_path(image, base, where)] if image not in (None, "") else []
    if kind == "instruction":
        instruction = _required(row, "instruction", where)
        extra = _optional(row, "input", where)
        answer = _required(row, "output", where)
        question = f"{instruction}\n\n{extra}" if extra else instruction
        messages = build_messages(question, [])
    elif kind == "qa":
        question = _required(row, "question", where)
        answer = _required(row, "response" if row.get("answer") is None and "response" in row else "answer", where)
        passages = _context_passages(row, where, ex_id)
        messages = build_messages(question, passages)
    elif kind == "chat":
        messages, answer = _chat_messages(row, where, base)
        _, label, tail = messages[-1]["content"].rpartition("Question:")
        question = tail.strip() if label else messages[-1]["content"]
    elif kind == "preference":
        question = _required(row, "prompt" if row.get("question") is None else "question", where)
        answer = _required(row, "chosen", where)
        rejected = _required(row, "rejected", where)
        if rejected == answer:
            raise InputError(f"{where}: 'chosen' and 'rejected' are the same answer: there is no preference.")
        messages = build_messages(question, _context_passages(row, where, ex_id))
    else:
        raise InputError(f"Unknown training format {kind!r}; use one of {', '.join(FORMATS)}.")
    if images:
        messages[-1]["images"] = list(messages[-1].get("images", [])) + images
        meta["image_file"] = images[0]
    meta["question"] = question
    if kind == "preference":
        return Pair(ex_id, tuple(messages), answer, meta, rejected=rejected)
    return Example(ex_id, tuple(messages), answer, meta)


def _context_passages(row: Mapping[str, Any], where: str, ex_id: str) -> list[Passage]:
    context = _json_field(row, "context", where, strict=False)
    if context in (None, ""):
        return []
    texts = context if isinstance(context, list) else [context]
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise InputError(f"{where}: 'context' must be text or a list of non-empty texts.")
    title, source, url = (_optional(row, k, where) for k in ("title", "source", "url"))
    return [Passage(id=f"{ex_id}-context-{j}", text=t.strip(), title=title, source=source, url=url, score=1.0)
            for j, t in enumerate(texts, 1)]


def _chat_messages(row: Mapping[str, Any], where: str, base: Path) -> tuple[list[Message], str]:
    raw = _json_field(row, "messages", where)
    if not isinstance(raw, list) or len(raw) < 2:
        raise InputError(f"{where}: 'messages' must be a list of at least a user and an assistant message.")
    messages: list[Message] = []
    for j, m in enumerate(raw):
        at = f"{where}, message {j}"
        if not isinstance(m, dict):
            raise InputError(f"{at}: expected an object with 'role' and 'content'.")
        role = m.get("role")
        if role not in ROLES:
            raise InputError(f"{at}: unknown role {role!r}; use system, user or assistant.")
        msg: Message = {"role": role, "content": _required(m, "content", at)}
        if m.get("images") is not None:
            imgs = m["images"]
            if not isinstance(imgs, list):
                raise InputError(f"{at}: 'images' must be a list of file names.")
            msg["images"] = [_image_path(i, base, at) for i in imgs]
        messages.append(msg)
    if messages[-1]["role"] != "assistant":
        raise InputError(f"{where}: the last message must be the assistant's (the answer to learn), not "
                         f"{messages[-1]['role']!r}.")
    prompt = messages[:-1]
    if prompt[-1]["role"] != "user":
        raise InputError(f"{where}: the answer must follow a user message, not {prompt[-1]['role']!r}.")
    return prompt, messages[-1]["content"]


def load_examples(path_or_name: str | Path, *, fmt: str = "auto", limit: int | None = None) -> list[Example]:
    """Examples from a JSON / JSONL / CSV file (optionally .gz), a `save_to_disk` dataset folder, or a recipe name.

    `fmt` forces one record format ("instruction", "qa" or "chat"); "auto" tells each record's from its keys.
    `limit` keeps the first `limit` examples. Any malformed record raises InputError naming the file and the
    line (JSONL, CSV), list index (JSON) or row (dataset folder). Ids default to "<file stem>-<n>".
    """
    if fmt not in FORMATS:
        raise InputError(f"Unknown training format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit must be a positive whole number, not {limit!r}.")
    path = Path(path_or_name).expanduser()
    if _is(path.is_dir):
        records = _dataset_records(path)
        base = path
    elif _is(path.is_file):
        records = read_records(path)
        base = path.parent
    else:
        raise InputError(f"{path} not found. Give a JSON, JSONL or CSV file, or a folder saved with datasets' "
                         f"save_to_disk (recipes are named with --recipe); hub datasets are not fetched.")
    stem = path.name.split(".")[0] or "example"
    examples: list[Example] = []
    seen: dict[str, str] = {}
    for n, (where, row) in enumerate(records, 1):
        ex = _record_example(row, where, fmt, base, f"{stem}-{n}", stem)
        if ex.id in seen:
            raise InputError(f"{where}: id {ex.id!r} was already used at {seen[ex.id]}.")
        seen[ex.id] = where.rsplit(", ", 1)[-1]
        examples.append(ex)
        if limit is not None and len(examples) >= limit:
            break
    return examples


# --- images -------------------------------------------------------------------------------------------------


def has_image(example: Example) -> bool:
    """Whether the example refers to an image (meta["image_file"] or images on a message)."""
    return bool(example.meta.get("image_file")) or any(m.get("images") for m in example.messages)


def drop_images(examples: Sequence[Example], multimodal: bool) -> list[Example]:
    """For a text-only model, keep every example but without its image, warning once with the count.

    A multimodal model gets the examples unchanged. Dropped images leave meta["image_skipped"] = "true".
    """
    if multimodal:
        return list(examples)
    out: list[Example] = []
    skipped = 0
    for ex in examples:
        if not has_image(ex):
            out.append(ex)
            continue
        skipped += 1
        messages = tuple(Message(role=m["role"], content=m["content"]) for m in ex.messages)  # type: ignore[misc]
        meta = {k: v for k, v in ex.meta.items() if k != "image_file"}
        meta["image_skipped"] = "true"
        out.append(Example(ex.id, messages, ex.answer, meta))
    if skipped:
        warnings.warn(f"{skipped} of {len(out)} training examples refer to an image that a text-only model cannot "
                      f"read; their images were skipped and their text kept.", UserWarning, stacklevel=2)
    return out


# --- splitting ----------------------------------------------------------------------------------------------


def split_examples(
    examples: Sequence[Example], val_fraction: float = 0.1, stratify: str = "category", seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """(train, validation), stratified by meta[`stratify`] and the same for the same input and seed.

    Each stratum gives round(val_fraction * size) items to validation; when val_fraction > 0, every stratum of
    two or more gives at least one and keeps at least one for training. Both lists keep the input order.
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise InputError(f"val_fraction must be at least 0 and below 1, not {val_fraction!r}.")
    strata: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        strata.setdefault(ex.meta.get(stratify, ""), []).append(i)
    val: set[int] = set()
    for name in sorted(strata):
        # Sorted by id first, so the choice depends on the examples, not on the order they were read in.
        members = sorted(strata[name], key=lambda i: (examples[i].id, i))
        n_val = round(val_fraction * len(members))
        if val_fraction > 0 and len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val.update(random.Random(f"{seed}:{name}").sample(members, n_val))
    train = [ex for i, ex in enumerate(examples) if i not in val]
    return train, [ex for i, ex in enumerate(examples) if i in val]


# --- statistics ---------------------------------------------------------------------------------------------


def _token_counter(tokenizer: Any) -> Callable[[str], int]:
    def count(text: str) -> int:
        if hasattr(tokenizer, "encode"):
            out = tokenizer.encode(text)
        elif callable(tokenizer):
            out = tokenizer(text)["input_ids"]
        else:
            raise InputError("The tokenizer must have .encode(text) or return {'input_ids': ...} when called.")
        return len(getattr(out, "ids", out))  # a `tokenizers` Encoding keeps its ids in .ids

    return count


def _summary(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {"count": len(ordered), "min": ordered[0], "mean": round(statistics.fmean(ordered), 1),
            "median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def dataset_stats(
    train: Sequence[Example], val: Sequence[Example], tokenizer: Any = None, stratify: str = "category"
) -> dict[str, Any]:
    """Counts, per-stratum and per-source counts, and prompt/answer lengths of both splits.

    Prompt length is of the rendered Gemma chat prompt. Lengths are in characters, and in tokens when a
    tokenizer is given (anything with `.encode(text)` or `tokenizer(text)["input_ids"]`); "tokens" is None
    otherwise.
    """
    count = _token_counter(tokenizer) if tokenizer is not None else None
    parts = {"train": list(train), "val": list(val)}
    stats: dict[str, Any] = {
        "counts": {name: len(exs) for name, exs in parts.items()} | {"total": len(train) + len(val)},
        "stratify": stratify,
        "strata": {}, "sources": {}, "images": {}, "chars": {}, "tokens": {} if count else None,
    }
    for name, exs in parts.items():
        stats["strata"][name] = dict(sorted(Counter(e.meta.get(stratify, "") for e in exs).items()))
        stats["sources"][name] = dict(sorted(Counter(e.meta.get("source", "") for e in exs).items()))
        stats["images"][name] = sum(has_image(e) for e in exs)
        prompts = [render(e.messages) for e in exs]
        stats["chars"][name] = {"prompt": _summary([len(p) for p in prompts]),
                                "answer": _summary([len(e.answer) for e in exs])}
        if count:
            stats["tokens"][name] = {"prompt": _summary([count(p) for p in prompts]),
                                     "answer": _summary([count(e.answer) for e in exs])}
    return stats


def write_stats(path: Path, stats: Mapping[str, Any]) -> None:
    """Write `stats` as indented JSON, atomically."""
    atomic_write_text(Path(path), json.dumps(stats, indent=2, ensure_ascii=False, default=str) + "\n")


# --- leakage ------------------------------------------------------------------------------------------------


def check_leakage(
    examples: Iterable[Example], eval_ids: set[str] | None = None, eval_questions: Iterable[str] = ()
) -> list[str]:
    """Ids of training examples that are evaluation items, in input order.

    An example leaks when its id, meta["pmid"] or meta["eval_id"] is in `eval_ids`, or when its question
    (`question_of`) equals an evaluation question after `normalize_question`.
    """
    ids = {str(i) for i in (eval_ids or ())}
    questions = {q for q in map(normalize_question, eval_questions) if q}
    leaked: list[str] = []
    for ex in examples:
        keys = {ex.id, ex.meta.get("pmid", ""), ex.meta.get("eval_id", "")} - {""}
        if keys & ids or normalize_question(question_of(ex)) in questions:
            if ex.id not in leaked:
                leaked.append(ex.id)
    return leaked
