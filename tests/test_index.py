"""Index store and retriever: save → load round trips, fusion, thresholds and corrupt files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PASSAGES
from fakes import HashEmbedder

from medgemma.errors import IndexStoreError, InputError
from medgemma.rag import store
from medgemma.rag.retriever import Retriever, _rrf


def test_save_load_gives_same_results(small_index: Retriever, tmp_path: Path) -> None:
    again = Retriever.load(tmp_path / "idx", HashEmbedder())  # type: ignore[arg-type]
    for q in ("signs of a stroke", "liver damage overdose", "x-ray consolidation"):
        assert again.search(q, k=3) == small_index.search(q, k=3)
        assert again.search(q, k=3, mode="hybrid") == small_index.search(q, k=3, mode="hybrid")


def test_manifest_describes_index(small_index: Retriever, tmp_path: Path) -> None:
    manifest = json.loads((tmp_path / "idx" / store.MANIFEST).read_text())
    assert manifest["embedder"] == "hash-bow"
    assert manifest["count"] == len(PASSAGES)
    assert manifest["dimension"] == 256
    assert len(manifest["corpus_hash"]) == 64
    assert manifest["created"].endswith("Z")


def test_results_are_ranked_scored_and_capped(small_index: Retriever) -> None:
    results = small_index.search("What are the signs of a stroke?", k=2, mode="hybrid")
    assert len(results) == 2
    assert results[0].id == "stroke-1"
    assert all(-1.0 <= p.score <= 1.0 for p in results)
    dense = small_index.search("What are the signs of a stroke?", k=5, mode="dense")
    assert [p.score for p in dense] == sorted((p.score for p in dense), reverse=True)


def test_threshold_drops_weak_matches(small_index: Retriever) -> None:
    everything = small_index.search("stroke arm weakness", k=5, min_score=-1.0)
    strong = small_index.search("stroke arm weakness", k=5, min_score=0.3)
    assert 0 < len(strong) < len(everything)
    assert all(p.score >= 0.3 for p in strong)


def test_bad_queries(small_index: Retriever) -> None:
    with pytest.raises(InputError):
        small_index.search("   ", k=3)
    with pytest.raises(InputError):
        small_index.search("stroke", k=3, mode="sparse")
    assert small_index.search("stroke", k=0) == []


def test_wrong_embedder_is_refused(small_index: Retriever, tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match="embedder"):
        Retriever.load(tmp_path / "idx", HashEmbedder(name="other"))  # type: ignore[arg-type]
    with pytest.raises(IndexStoreError, match="embedder"):
        Retriever.load(tmp_path / "idx", HashEmbedder(dim=128))  # type: ignore[arg-type]


@pytest.mark.parametrize("victim", [store.VECTORS, store.PASSAGES, store.MANIFEST])
def test_corrupt_file_gives_clear_error_and_changes_nothing(small_index: Retriever, tmp_path: Path, victim: str) -> None:
    folder = tmp_path / "idx"
    (folder / victim).write_bytes(b"\x00\xffgarbage{")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(IndexStoreError, match="rebuild"):
        Retriever.load(folder, HashEmbedder())  # type: ignore[arg-type]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match="ingest"):
        Retriever.load(tmp_path / "nothing", HashEmbedder())  # type: ignore[arg-type]


def test_failed_build_keeps_previous_index(small_index: Retriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "idx"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.json, "dumps", boom)
    with pytest.raises(OSError):
        Retriever.build(PASSAGES[:2], folder, HashEmbedder())  # type: ignore[arg-type]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # no temporary folder left behind


def test_rebuild_replaces_index(small_index: Retriever, tmp_path: Path) -> None:
    rebuilt = Retriever.build(PASSAGES[:2], tmp_path / "idx", HashEmbedder())  # type: ignore[arg-type]
    assert len(rebuilt) == 2
    assert len(Retriever.load(tmp_path / "idx", HashEmbedder())) == 2  # type: ignore[arg-type]


def test_empty_corpus_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        Retriever.build([], tmp_path / "idx", HashEmbedder())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "../evil", ".hidden", "a/b", "x" * 65])
def test_index_names_cannot_escape(name: str) -> None:
    with pytest.raises(InputError):
        store.check_name(name)


def test_rrf_rewards_agreement() -> None:
    fused = _rrf([[1, 2, 3], [3, 1, 4]])
    assert fused[0] == 1  # high in both lists
    assert set(fused) == {1, 2, 3, 4}


def test_shipped_vectors_round_trip_and_refuse_other_chunks(tmp_path: Path) -> None:
    from medgemma.rag.indexes import save_shipped_vectors, shipped_vectors
    from medgemma.rag.retriever import embed_chunks

    embedder = HashEmbedder()
    vectors = embed_chunks(PASSAGES, embedder)  # type: ignore[arg-type]
    path = tmp_path / "vectors.npz"
    save_shipped_vectors(PASSAGES, vectors, embedder.name, path)
    back = shipped_vectors(PASSAGES, embedder.name, path)
    assert back is not None and back.shape == vectors.shape
    assert float((back * vectors).sum(axis=1).min()) > 0.999  # int8 with a scale per vector
    assert shipped_vectors(PASSAGES[:-1], embedder.name, path) is None  # other chunks
    assert shipped_vectors(PASSAGES, "another-embedder", path) is None
    path.write_bytes(b"not an npz file")
    assert shipped_vectors(PASSAGES, embedder.name, path) is None
    assert shipped_vectors(PASSAGES, embedder.name, tmp_path / "missing.npz") is None


def test_an_index_built_from_given_vectors_searches_like_one_built_by_embedding(tmp_path: Path) -> None:
    from medgemma.rag.retriever import embed_chunks

    embedder = HashEmbedder()
    embedded = Retriever.build(PASSAGES, tmp_path / "a", embedder)  # type: ignore[arg-type]
    given = Retriever.build(PASSAGES, tmp_path / "b", embedder,  # type: ignore[arg-type]
                            vectors=embed_chunks(PASSAGES, embedder))  # type: ignore[arg-type]
    query = "signs of a stroke"
    assert [p.id for p in embedded.search(query, k=3)] == [p.id for p in given.search(query, k=3)]


def test_the_shipped_vectors_are_those_of_the_shipped_knowledge_base() -> None:
    """Edit the corpus or the chunk sizes and this fails: run `python scripts/make_knowledge_base.py --vectors`
    (the app still works meanwhile, by embedding the knowledge base itself, ~10 minutes)."""
    import numpy as np

    from medgemma.assets import shipped_vectors_path
    from medgemma.config import AppConfig
    from medgemma.rag.indexes import default_chunks
    from medgemma.rag.retriever import corpus_hash

    with np.load(shipped_vectors_path(), allow_pickle=False) as data:
        assert str(data["corpus_hash"]) == corpus_hash(default_chunks(AppConfig()))
        assert str(data["embedder"]) == "all-MiniLM-L6-v2"
