"""Loading every supported format, refusing bad input by name, and stable unique chunk ids."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from pdfs import encrypted_pdf, make_pdf

from medgemma.errors import InputError
from medgemma.rag.ingest import Document, ingest, load_documents

MEDQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "medquad" / "medquad_answered.jsonl.gz"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(gzip.compress(data))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


RECORDS = [
    {
        "qid": "q1",
        "question": "What is anemia?",
        "answer": "Anemia is a lack of healthy red blood cells. It can make you tired.",
        "url": "https://example.org/anemia",
        "source": "NHLBI",
        "focus": "Anemia",
        "qtype": "information",
        "reviewed": "2024-01-02",
        "notes": "x" * 300,
        "category": None,
    },
    {"title": "Fever", "content": "A fever is a body temperature above 38 C.", "link": "https://example.org/fever"},
]


def docs(path: Path, **kwargs: object) -> list[Document]:
    return list(load_documents(path, **kwargs))  # type: ignore[arg-type]


# ---- formats -------------------------------------------------------------------------------------------


def test_txt(tmp_path: Path) -> None:
    (doc,) = docs(write(tmp_path / "notes.txt", "Drink water.\nRest well."))
    assert (doc.id, doc.title, doc.source, doc.page) == ("notes", "notes", "notes.txt", None)
    assert "Rest well." in doc.text


def test_markdown_title_and_sections(tmp_path: Path) -> None:
    (doc,) = docs(write(tmp_path / "a.md", "Intro line.\n\n## Asthma basics\nAsthma narrows airways.\n"))
    assert (doc.id, doc.title) == ("a", "Asthma basics")
    (plain,) = docs(write(tmp_path / "plain.md", "No headings here.\n"))
    assert plain.title == "plain"
    text = "# Asthma\nNarrow airways.\n```\n# not a heading\n```\n# Gout\nUric acid crystals.\n"
    sections = docs(write(tmp_path / "guide.md", text))
    assert [(d.id, d.title) for d in sections] == [("guide:1", "Asthma"), ("guide:2", "Gout")]
    assert "# not a heading" in sections[0].text


def test_json_list_maps_fields(tmp_path: Path) -> None:
    first, second = docs(write(tmp_path / "faq.json", json.dumps(RECORDS)))
    assert first.id == "q1"
    assert first.title == "What is anemia?"  # question + answer: the question is the title
    assert first.text.startswith("Anemia is")
    assert (first.url, first.source) == ("https://example.org/anemia", "NHLBI")
    assert first.meta == {"focus": "Anemia", "qtype": "information", "reviewed": "2024-01-02"}
    assert (second.id, second.title, second.url) == ("faq:2", "Fever", "https://example.org/fever")
    assert second.source == "faq.json"  # no source field: the file name


@pytest.mark.parametrize("key", ["data", "passages", "records"])
def test_json_wrapped_lists(tmp_path: Path, key: str) -> None:
    loaded = docs(write(tmp_path / "wrapped.json", json.dumps({key: RECORDS, "version": 2})))
    assert [d.title for d in loaded] == ["What is anemia?", "Fever"]


@pytest.mark.parametrize("name", ["faq.jsonl", "faq.jsonl.gz", "faq.json.gz"])
def test_jsonl_and_gzip(tmp_path: Path, name: str) -> None:
    body = json.dumps(RECORDS) if ".json." in name else "\n".join(json.dumps(r) for r in RECORDS) + "\n\n"
    loaded = docs(write(tmp_path / name, body))
    assert [d.id for d in loaded] == ["q1", "faq:2"]
    assert loaded[0].url == "https://example.org/anemia"


def test_csv(tmp_path: Path) -> None:
    body = 'Title,Text,URL,topic\nGout,"Gout is arthritis, caused by uric acid.",https://x.org/gout,joints\n,,,\n'
    (doc,) = docs(write(tmp_path / "topics.csv", body))
    assert (doc.title, doc.url, doc.meta) == ("Gout", "https://x.org/gout", {"topic": "joints"})
    assert doc.text == "Gout is arthritis, caused by uric acid."
    assert doc.id == "topics:1"


def test_pdf_pages(tmp_path: Path) -> None:
    path = write(tmp_path / "manual.pdf", make_pdf(["Kidneys filter the blood.", "Drink enough water daily."]))
    loaded = docs(path)
    assert [d.page for d in loaded] == [1, 2]
    assert [d.id for d in loaded] == ["manual:p1", "manual:p2"]
    assert "Kidneys filter the blood" in loaded[0].text and "Drink enough water" in loaded[1].text
    assert all(d.title == "Kidney Care" and d.source == "manual.pdf" for d in loaded)
    chunks = ingest([path])
    assert [c.page for c in chunks] == [1, 2]


def test_folder_walk_is_recursive_sorted_and_skips_others(tmp_path: Path) -> None:
    write(tmp_path / "b" / "z.txt", "Zinc helps healing.")
    write(tmp_path / "a.md", "# Iron\nIron builds blood.")
    write(tmp_path / "b" / "c" / "faq.jsonl", json.dumps(RECORDS[1]))
    write(tmp_path / ".hidden" / "secret.txt", "Hidden.")
    write(tmp_path / "image.png", b"\x89PNG\x00")
    assert [d.source for d in docs(tmp_path)] == ["a.md", "faq.jsonl", "z.txt"]
    assert ingest([tmp_path]) == ingest([tmp_path])


# ---- bad input -----------------------------------------------------------------------------------------


BAD: dict[str, tuple[str, str | bytes, str]] = {
    "unknown extension": ("report.docx", b"PK\x03\x04", "unsupported file type"),
    "NUL bytes": ("binary.txt", b"text\x00\x01\x02", "binary"),
    "bad UTF-8": ("latin.txt", "Café".encode("latin-1"), "UTF-8"),
    "binary md": ("notes.md", b"\xff\xfe\x00\x00", "binary"),
    "malformed JSON line": ("bad.jsonl", '{"text": "ok"}\n\n{"text": oops}\n', "line 3"),
    "malformed JSON": ("bad.json", '[{"text": "ok"},', "invalid JSON"),
    "JSON record without text": ("notext.json", json.dumps([{"text": "ok"}, {"title": "x"}]), "record 2"),
    "JSONL record without text": ("notext.jsonl", '{"text": "ok"}\n{"title": "x"}\n', "line 2"),
    "JSON record not an object": ("strings.json", json.dumps(["just a string"]), "record 1"),
    "JSON text not a string": ("list.json", json.dumps([{"text": ["a"]}]), "must be a string"),
    "JSON wrong top level": ("top.json", json.dumps({"items": []}), "expected a list"),
    "CSV without text column": ("table.csv", "name,age\nAnn,3\n", "no text column"),
    "malformed PDF": ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf\n", "could not read"),
    "truncated PDF": ("cut.pdf", make_pdf(["Half a file."])[:200], "could not read"),
    "encrypted PDF": ("locked.pdf", encrypted_pdf(), "encrypted"),
    "PDF without text": ("scan.pdf", make_pdf([""]), "no text found"),
    "empty txt": ("empty.txt", "", "no text found"),
    "blank md": ("blank.md", "  \n\n", "no text found"),
    "empty jsonl": ("empty.jsonl", "\n", "no text found"),
    "empty json list": ("empty.json", "[]", "no text found"),
    "header-only csv": ("empty.csv", "text,title\n", "no text found"),
    "empty csv": ("void.csv", "", "no text found"),
    "empty answers": ("blank.jsonl", '{"answer": ""}\n{"answer": null}\n', "no text found"),
    "corrupt gzip": ("bad.jsonl.gz", b"not gzip at all", "gzip"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_raises_input_error_naming_the_file(tmp_path: Path, case: str) -> None:
    name, content, expected = BAD[case]
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(InputError) as info:
        ingest([path])
    assert name in str(info.value) and expected in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothere.txt.*not found"):
        ingest([tmp_path / "nothere.txt"])
    with pytest.raises(InputError, match=r"gone.jsonl"):
        list(load_documents(tmp_path / "gone.jsonl"))


def test_folder_without_supported_files(tmp_path: Path) -> None:
    write(tmp_path / "pic.png", b"\x89PNG")
    with pytest.raises(InputError, match=r"no supported files"):
        ingest([tmp_path])


def test_size_limit_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "big.txt", "Word. " * 200)

    def refuse(self: Path) -> bytes:
        raise AssertionError("the file was read before its size was checked")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(InputError, match=r"big.txt.*limit"):
        ingest([path], max_bytes=1000)


def test_gzip_size_limit_applies_after_decompression(tmp_path: Path) -> None:
    path = write(tmp_path / "bomb.jsonl.gz", json.dumps({"text": "a " * 50_000}))
    assert path.stat().st_size < 1000
    with pytest.raises(InputError, match=r"bomb.jsonl.gz.*decompresses"):
        ingest([path], max_bytes=10_000)


def test_one_bad_file_fails_the_whole_ingest(tmp_path: Path) -> None:
    good = write(tmp_path / "good.txt", "Fine text.")
    bad = write(tmp_path / "bad.jsonl", "{oops\n")
    with pytest.raises(InputError, match=r"bad.jsonl"):
        ingest([good, bad])


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100)])
def test_ingest_validates_sizes_before_reading(tmp_path: Path, size: int, overlap: int) -> None:
    with pytest.raises(InputError, match=r"Chunk"):
        ingest([tmp_path / "does-not-exist.txt"], size=size, overlap=overlap)


# ---- ids -----------------------------------------------------------------------------------------------


def test_chunk_ids_unique_stable_and_shaped(tmp_path: Path) -> None:
    long_text = " ".join(f"Sentence {i} explains one more thing about asthma." for i in range(60))
    write(tmp_path / "one" / "notes.txt", "Short note.")
    write(tmp_path / "two" / "notes.txt", long_text)  # same stem: the id must be disambiguated
    records = [{"id": "dup", "text": "First."}, {"id": "dup", "text": "Second."}, {"id": "dup~2", "text": "Third."}]
    write(tmp_path / "recs.jsonl", "\n".join(json.dumps(r) for r in records))
    chunks = ingest([tmp_path], size=300, overlap=50, progress=True)
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids))
    assert ids == [c.id for c in ingest([tmp_path], size=300, overlap=50)]
    assert "notes" in ids and "notes~2#1" in ids and "notes~2#2" in ids
    assert [i for i in ids if i.startswith("dup")] == ["dup", "dup~2", "dup~2~2"]


def test_same_file_twice_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Only once.")
    assert [c.id for c in ingest([path, path, tmp_path])] == ["a"]


def test_chunks_carry_document_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.jsonl", json.dumps(RECORDS[0]))
    (chunk,) = ingest([path])
    expected = ("q1", "What is anemia?", "NHLBI", "https://example.org/anemia")
    assert (chunk.id, chunk.title, chunk.source, chunk.url) == expected
    assert chunk.meta["focus"] == "Anemia"


# ---- the real corpus -----------------------------------------------------------------------------------


@pytest.mark.skipif(not MEDQUAD.exists(), reason="MedQuAD is not present in this checkout's shared data")
def test_medquad_ingests_with_urls_and_unique_ids() -> None:
    start = time.perf_counter()
    documents = list(load_documents(MEDQUAD))
    chunks = ingest([MEDQUAD])
    elapsed = time.perf_counter() - start
    assert len(documents) >= 16_000
    assert all(d.url.startswith("http") for d in documents)
    assert all(c.url and c.title for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    assert {d.meta.get("qtype") for d in documents} >= {"information", "symptoms"}
    print(f"MedQuAD: {len(documents)} documents, {len(chunks)} chunks in {elapsed:.1f} s")
