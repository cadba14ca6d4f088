"""Load documents from files and cut them into Chunks with stable, unique ids.

Formats by extension: .txt, .md, .json, .jsonl, .csv (each may also be gzipped, e.g. .jsonl.gz) and .pdf
(one document per page). Folders are walked recursively in sorted order, skipping hidden entries and
files of other types. Records (JSON, JSONL, CSV rows) map their fields by name, case-insensitively; see
the *_FIELDS tuples. This module knows nothing about embedders or indexes: it stops at `Chunk`.

`ingest` is all-or-nothing: any bad file raises InputError (naming the file, and the line or record where
that applies) and returns nothing. `load_documents` parses each file completely before yielding from it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from medgemma.errors import InputError, require
from medgemma.files import read_bytes, read_text
from medgemma.rag.chunking import chunk_text, validate_chunking
from medgemma.textclean import json_loads, scrub
from medgemma.types import Chunk

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
TEXT_FORMATS = (".txt", ".md", ".json", ".jsonl", ".csv")
SUPPORTED = (*TEXT_FORMATS, *(f"{ext}.gz" for ext in TEXT_FORMATS), ".pdf")

TEXT_FIELDS = ("text", "answer", "content", "passage", "abstract", "body")
TITLE_FIELDS = ("title", "question", "focus", "name")
URL_FIELDS = ("url", "link", "source_url")
SOURCE_FIELDS = ("source", "publisher", "collection")
ID_FIELDS = ("id", "qid", "doc_id")  # qid first: MedQuAD shares one doc_id across many questions
LIST_KEYS = ("data", "passages", "records")
MAX_META_CHARS = 200

_H1 = re.compile(r"#\s+(.+?)\s*#*\s*")
_ANY_HEADING = re.compile(r"#{1,6}\s+(.+?)\s*#*\s*")
_FENCE = re.compile(r"\s*(```|~~~)")


# One loaded document (a file, a record, a markdown section or a PDF page) before chunking. It carries
# exactly the fields of a Chunk, so it is one: `ingest` cuts each into smaller Chunks.
Document = Chunk


def load_documents(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, progress: bool = False) -> Iterator[Document]:
    """Yield the documents in a file, or in every supported file under a folder (recursively, sorted)."""
    for file in _list_files(Path(path)):
        yield from _load_file(file, max_bytes, progress)


def ingest(
    paths: Sequence[Path],
    size: int = 800,
    overlap: int = 150,
    progress: bool = False,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[Chunk]:
    """Load every file under `paths` and chunk it (sizes in characters, see `chunk_text`).

    A document that makes one chunk keeps its id; otherwise chunks are `{id}#1`, `{id}#2`, ... A document id
    seen before gets `~2`, `~3`, ... appended, in load order, so ids are unique and repeatable.
    """
    validate_chunking(size, overlap)
    if isinstance(paths, (str, Path)):
        paths = [Path(paths)]  # a bare path is a common slip; a str would otherwise iterate by character
    files: dict[Path, None] = {}  # ordered set: the same file named twice is read once
    for path in paths:
        files.update(dict.fromkeys(_list_files(Path(path))))
    if not files:
        raise InputError("No files to ingest: give at least one file or folder.")

    chunks: list[Chunk] = []
    doc_ids: set[str] = set()
    chunk_ids: set[str] = set()
    for file in tqdm(list(files), desc="Ingesting", unit="file", disable=not progress):
        for doc in _load_file(file, max_bytes, progress):
            texts = chunk_text(doc.text, size, overlap)
            doc_id = _unique_id(doc.id, len(texts), doc_ids, chunk_ids)
            for chunk_id, text in zip(_chunk_ids(doc_id, len(texts)), texts):
                chunk_ids.add(chunk_id)
                chunks.append(Chunk(chunk_id, text, doc.title, doc.source, doc.url, doc.page, dict(doc.meta)))
    return chunks


def _unique_id(base: str, count: int, doc_ids: set[str], chunk_ids: set[str]) -> str:
    """First of base, base~2, base~3... unused as a document id and whose chunk ids are all unused."""
    candidate, k = base, 1
    while candidate in doc_ids or any(cid in chunk_ids for cid in _chunk_ids(candidate, count)):
        k += 1
        candidate = f"{base}~{k}"
    doc_ids.add(candidate)
    return candidate


def _chunk_ids(doc_id: str, count: int) -> list[str]:
    return [doc_id] if count == 1 else [f"{doc_id}#{n}" for n in range(1, count + 1)]


# ---- files ---------------------------------------------------------------------------------------------


def _format(path: Path) -> str | None:
    name = path.name.lower()
    return next((ext for ext in sorted(SUPPORTED, key=len, reverse=True) if name.endswith(ext)), None)


def _stem(path: Path) -> str:
    """The file name without its format extension: 'faq.jsonl.gz' -> 'faq'."""
    ext = _format(path)
    return path.name[: -len(ext)] if ext and len(path.name) > len(ext) else path.stem


def _list_files(path: Path) -> list[Path]:
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:  # e.g. a name too long for the file system
        raise InputError(f"{path}: cannot be opened ({exc.strerror or exc}). Check the path.") from exc
    if not exists:
        raise InputError(f"{path}: file not found. Check the path.")
    if is_dir:
        files = [
            p
            for p in sorted(path.rglob("*"))
            if p.is_file() and _format(p) and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
        if not files:
            raise InputError(f"{path}: no supported files in this folder (supported: {', '.join(SUPPORTED)}).")
        return files
    if _format(path) is None:
        raise InputError(f"{path}: unsupported file type '{path.suffix}'. Supported: {', '.join(SUPPORTED)}.")
    if not path.is_file():  # a pipe or a device would block the read or never end
        raise InputError(f"{path}: not a regular file.")
    return [path]


def _load_file(path: Path, max_bytes: int, progress: bool) -> list[Document]:
    fmt = _format(path) or ""  # _list_files has already refused unsupported names
    if fmt == ".pdf":
        docs = _load_pdf(path, max_bytes)
    else:
        text = read_text(path, max_bytes, "documents")
        kind = fmt.removesuffix(".gz")
        if kind == ".txt":
            docs = [Document(_stem(path), text, _stem(path), path.name)]
        elif kind == ".md":
            docs = _load_markdown(path, text)
        elif kind == ".json":
            docs = _load_json(path, text, progress)
        elif kind == ".jsonl":
            docs = _load_jsonl(path, text, progress)
        else:
            docs = _load_csv(path, text, progress)
    docs = [doc for doc in docs if doc.text.strip()]
    if not docs:
        hint = " A scanned PDF needs OCR first." if fmt == ".pdf" else ""
        raise InputError(f"{path}: no text found.{hint}")
    return docs


# ---- formats -------------------------------------------------------------------------------------------


def _load_markdown(path: Path, text: str) -> list[Document]:
    """One document per top-level (#) section when there are several, else one for the whole file."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    first_heading = ""
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence  # '#' lines inside code blocks are comments, not headings
        elif not in_fence:
            if not first_heading and (heading := _ANY_HEADING.fullmatch(line.rstrip())):
                first_heading = heading.group(1)
            if h1 := _H1.fullmatch(line.rstrip()):
                sections.append((h1.group(1), []))
        sections[-1][1].append(line)
    stem = _stem(path)
    if len(sections) <= 2:  # preamble + at most one top-level heading: keep the file whole
        return [Document(stem, text, first_heading or stem, path.name)]
    docs: list[Document] = []
    for title, lines in sections:
        body = "\n".join(lines)
        if body.strip():
            docs.append(Document(f"{stem}:{len(docs) + 1}", body, title or first_heading or stem, path.name))
    return docs


def _load_json(path: Path, text: str, progress: bool) -> list[Document]:
    try:
        data = json_loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from exc
    if isinstance(data, dict):
        lowered = {str(k).lower(): v for k, v in data.items()}
        key = next((k for k in LIST_KEYS if isinstance(lowered.get(k), list)), None)
        if key is not None:
            data = lowered[key]
        elif any(k in lowered for k in TEXT_FIELDS):
            data = [data]  # a single record
    if not isinstance(data, list):
        raise InputError(
            f"{path}: expected a list of records, or an object holding one under "
            f"{' or '.join(repr(k) for k in LIST_KEYS)}; found {type(data).__name__}."
        )
    records = tqdm(data, desc=path.name, unit="rec", leave=False, disable=not progress)
    docs = (_record(path, rec, f"record {n}", n) for n, rec in enumerate(records, 1))
    return [doc for doc in docs if doc is not None]


def _load_jsonl(path: Path, text: str, progress: bool) -> list[Document]:
    # Split on "\n" only: str.splitlines() would also break at U+2028, which JSON allows inside strings.
    lines = text.split("\n")
    docs: list[Document] = []
    count = 0
    for n, line in enumerate(tqdm(lines, desc=path.name, unit="line", leave=False, disable=not progress), 1):
        if not line.strip():
            continue
        count += 1
        try:
            record = json_loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {n} is not valid JSON ({exc.msg}, column {exc.colno}).") from exc
        if (doc := _record(path, record, f"line {n}", count)) is not None:
            docs.append(doc)
    return docs


def _load_csv(path: Path, text: str, progress: bool) -> list[Document]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        columns = [name.strip() for name in header]
        if not any(name.lower() in TEXT_FIELDS for name in columns):
            raise InputError(
                f"{path}: line 1: no text column (expected one of {', '.join(TEXT_FIELDS)}; "
                f"the columns are {', '.join(columns) or 'empty'})."
            )
        docs: list[Document] = []
        count = 0
        for row in tqdm(reader, desc=path.name, unit="row", leave=False, disable=not progress):
            if not any(cell.strip() for cell in row):
                continue
            count += 1
            record = dict(zip(columns, row))  # short rows leave columns out; extra cells are dropped
            if (doc := _record(path, record, f"line {reader.line_num}", count)) is not None:
                docs.append(doc)
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: malformed CSV ({exc}).") from exc
    return docs


def _load_pdf(path: Path, max_bytes: int) -> list[Document]:
    pypdf: Any = require("pypdf", feature="Reading PDF files")
    data = read_bytes(path, max_bytes, "documents")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _decrypts_without_password(reader):
            raise InputError(f"{path}: the PDF is encrypted (password-protected). Save an unprotected copy.")
        title = str((reader.metadata.title if reader.metadata else None) or "").strip() or _stem(path)
        pages = [(n, page.extract_text() or "") for n, page in enumerate(reader.pages, 1)]
    except InputError:
        raise
    except Exception as exc:  # damaged files raise PdfReadError but also KeyError, ValueError, TypeError...
        raise InputError(f"{path}: could not read this PDF ({type(exc).__name__}: {exc}). Is it damaged?") from exc
    return [Document(f"{_stem(path)}:p{n}", scrub(text), scrub(title), path.name, page=n) for n, text in pages]


def _decrypts_without_password(reader: Any) -> bool:
    """Some PDFs are 'encrypted' only to set permissions and open with an empty password."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # noqa: BLE001 - e.g. AES without the optional crypto package: treat as locked
        return False


# ---- records -------------------------------------------------------------------------------------------


def _first(fields: dict[str, tuple[str, Any]], names: Iterable[str]) -> tuple[str, str] | None:
    """(original key, stripped value) of the first of `names` holding a non-empty string or number."""
    for name in names:
        if name in fields:
            key, value = fields[name]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if isinstance(value, str) and value.strip():
                return key, value.strip()
    return None


def _record(path: Path, record: Any, where: str, number: int) -> Document | None:
    """Map one record's fields to a Document; None for a record whose text field is empty."""
    if not isinstance(record, dict):
        raise InputError(f"{path}: {where} is a {type(record).__name__}, expected an object with a text field.")
    fields = {str(k).strip().lower(): (k, v) for k, v in reversed(list(record.items()))}  # first key wins
    present = [name for name in TEXT_FIELDS if name in fields]
    if not present:
        raise InputError(
            f"{path}: {where} has no text field (expected one of {', '.join(TEXT_FIELDS)}; "
            f"it has {', '.join(map(str, record)) or 'no fields'})."
        )
    filled = [name for name in present if fields[name][1] is not None]
    if not filled:
        return None  # e.g. {"answer": null}: an unanswered question, nothing to retrieve
    text_key, text = fields[filled[0]]
    if not isinstance(text, str):
        raise InputError(f"{path}: {where}: field '{text_key}' must be a string, not {type(text).__name__}.")
    if not text.strip():
        return None
    used = {text_key}
    title = None
    if filled[0] == "answer" and (question := _first(fields, ["question"])):
        title = question
    title = title or _first(fields, TITLE_FIELDS)
    url, source, ident = _first(fields, URL_FIELDS), _first(fields, SOURCE_FIELDS), _first(fields, ID_FIELDS)
    used.update(found[0] for found in (title, url, source, ident) if found)
    meta: dict[str, str] = {}
    for key, value in record.items():
        if key in used or value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        if isinstance(value, str) and value.strip() and len(value.strip()) <= MAX_META_CHARS:
            meta[str(key)] = value.strip()
    return Document(
        id=ident[1] if ident else f"{_stem(path)}:{number}",
        text=text,
        title=" ".join(title[1].split()) if title else "",
        source=source[1] if source else path.name,
        url=url[1] if url else "",
        meta=meta,
    )
