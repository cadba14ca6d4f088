"""Retrieval quality and index speed on PubMedQA, or on the default knowledge base (printed, not asserted).

Every one of the 1,000 expert-labelled abstracts is chunked and indexed; each question should find its
own abstract. Prints recall@1/5/10 for dense, BM25-fused hybrid, and the index build rate against raw
`SentenceTransformer.encode` on the same texts in the same run.

    python bench/retrieval_bench.py [--data ../shared/data] [--limit N]
    python bench/retrieval_bench.py --knowledge-base 1000   # MedQuAD questions against the default index
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medgemma.rag.chunking import chunk_text  # noqa: E402
from medgemma.rag.embedder import Embedder  # noqa: E402
from medgemma.rag.retriever import Retriever, _embed_text  # noqa: E402
from medgemma.types import Chunk  # noqa: E402


def load_pubmedqa(data: Path, limit: int | None) -> tuple[list[Chunk], list[tuple[str, str]]]:
    raw = json.loads((data / "pubmedqa" / "ori_pqal.json").read_text())
    chunks: list[Chunk] = []
    questions: list[tuple[str, str]] = []
    for pmid, item in list(raw.items())[:limit]:
        abstract = " ".join(item["CONTEXTS"])
        for n, piece in enumerate(chunk_text(abstract, size=800, overlap=150)):
            chunks.append(Chunk(id=f"{pmid}#{n}", text=piece, source="PubMed", meta={"doc": pmid}))
        questions.append((item["QUESTION"], pmid))
    return chunks, questions


def recall(retriever: Retriever, questions: list[tuple[str, str]], mode: str, ks: tuple[int, ...]) -> dict[int, float]:
    hits = {k: 0 for k in ks}
    for question, pmid in questions:
        # Several chunks may come from one abstract: rank documents by their best chunk.
        docs: list[str] = []
        for p in retriever.search(question, k=max(ks) * 3, mode=mode, min_score=-1.0):
            doc = p.meta["doc"]
            if doc not in docs:
                docs.append(doc)
        for k in ks:
            hits[k] += pmid in docs[:k]
    return {k: hits[k] / len(questions) for k in ks}


def knowledge_base(data: Path, n: int, seed: int = 0) -> None:
    """The default index (hand-written corpus + MedQuAD answers): does a MedQuAD question find its own answer,
    and how long does one search take?"""
    import gzip
    import random
    import statistics

    from medgemma.config import AppConfig
    from medgemma.rag.indexes import open_index

    t0 = time.perf_counter()
    retriever = open_index("default", AppConfig(), progress=True)
    print(f"default index: {len(retriever):,} chunks, opened in {time.perf_counter() - t0:.1f} s")
    kept = {c.id.split("#")[0] for c in retriever.chunks}
    with gzip.open(data / "medquad" / "medquad_answered.jsonl.gz", "rt") as stream:
        rows = [json.loads(line) for line in stream]
    rows = [r for r in rows if f"medquad-{r['qid']}" in kept]  # a duplicate answer is kept under one question
    sample = random.Random(seed).sample(rows, min(n, len(rows)))
    ks = (1, 4, 10)
    hits = {k: 0 for k in ks}
    times = []
    for r in sample:
        t0 = time.perf_counter()
        found = retriever.search(r["question"], k=max(ks) * 3, min_score=-1.0)
        times.append((time.perf_counter() - t0) * 1000)
        docs: list[str] = []
        for p in found:
            if p.id.split("#")[0] not in docs:
                docs.append(p.id.split("#")[0])
        for k in ks:
            hits[k] += f"medquad-{r['qid']}" in docs[:k]
    print(f"MedQuAD questions ({len(sample)}): " + ", ".join(f"own answer in top {k} {hits[k] / len(sample):.3f}"
                                                          for k in ks)
          + f"; search p50 {statistics.median(times):.1f} ms, p95 {sorted(times)[int(0.95 * len(times))]:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=None, help="Use only the first N abstracts.")
    ap.add_argument("--knowledge-base", type=int, default=0, metavar="N",
                    help="Instead: N MedQuAD questions against the default index (their own answer's recall).")
    args = ap.parse_args()
    if args.knowledge_base:
        knowledge_base(args.data, args.knowledge_base)
        return

    chunks, questions = load_pubmedqa(args.data, args.limit)
    print(f"PubMedQA: {len(questions)} abstracts → {len(chunks)} chunks")
    embedder = Embedder()
    texts = [_embed_text(c) for c in chunks]

    t0 = time.perf_counter()
    embedder._model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    raw_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        retriever = Retriever.build(chunks, Path(tmp) / "pubmedqa", embedder, progress=True)
        build_s = time.perf_counter() - t0
        print(f"\nIndex build: {len(chunks) / build_s:.1f} passages/s (app, incl. FAISS + files) vs "
              f"{len(chunks) / raw_s:.1f} passages/s (raw SentenceTransformer.encode); ratio {raw_s / build_s:.2f}")

        ks = (1, 5, 10)
        print(f"\n{'mode':8} " + " ".join(f"R@{k:<5}" for k in ks) + "  ms/query")
        for mode in ("dense", "hybrid"):
            t0 = time.perf_counter()
            r = recall(retriever, questions, mode, ks)
            ms = (time.perf_counter() - t0) / len(questions) * 1000
            print(f"{mode:8} " + " ".join(f"{r[k]:<7.3f}" for k in ks) + f"  {ms:.1f}")


if __name__ == "__main__":
    main()
