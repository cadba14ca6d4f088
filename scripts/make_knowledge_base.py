"""Write `medgemma/corpus/medquad.jsonl.gz`, the NIH answers of MedQuAD (CC BY 4.0) as knowledge-base passages,
and with --vectors the default index's shipped vectors (`medgemma/corpus/default_vectors.npz`, ~10 min on 2
cores), which must be remade whenever the knowledge base, the chunk sizes or the embedder change.

Each answer becomes one record: its focus and question type as the title, the answer text, "MedQuAD · NIH
<site>" as the source and the NIH page as the URL. Exact duplicate answers are kept once. The output is the
same bytes for the same input (sorted, gzip without a timestamp).

    python scripts/make_knowledge_base.py [--data ../shared/data] [--vectors]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "medgemma" / "corpus" / "medquad.jsonl.gz"
QTYPE_TITLES = {"information": "what it is", "symptoms": "symptoms", "treatment": "treatment",
                "causes": "causes", "inheritance": "inheritance", "prevention": "prevention",
                "exams and tests": "tests", "outlook": "outlook", "frequency": "how common",
                "susceptibility": "who is at risk", "complications": "complications", "stages": "stages",
                "genetic changes": "genetic changes", "research": "research", "considerations": "considerations",
                "support groups": "support groups"}


# The sites MedQuAD links over http. NIDDK, NINDS, NHLBI and CDC serve the same pages over https;
# NIHSeniorHealth was retired, so its links may not resolve either way, but the app links over https only.
HTTPS_HOSTS = ("www.niddk.nih.gov", "www.ninds.nih.gov", "www.nhlbi.nih.gov", "www.cdc.gov", "nihseniorhealth.gov")


def _secure(url: str) -> str:
    for host in HTTPS_HOSTS:
        if url.startswith(f"http://{host}/"):
            return "https://" + url[len("http://"):]
    return url


def records(data: Path) -> list[dict]:
    seen: set[str] = set()
    out = []
    with gzip.open(data / "medquad" / "medquad_answered.jsonl.gz", "rt", encoding="utf-8") as stream:
        for line in stream:
            r = json.loads(line)
            text = re.sub(r"[ \t]+", " ", r["answer"]).strip()
            key = " ".join(text.split()).lower()
            if not text or key in seen:
                continue
            seen.add(key)
            focus = " ".join((r.get("focus") or "").split())
            kind = QTYPE_TITLES.get(r.get("qtype", ""), r.get("qtype", ""))
            out.append({
                "id": f"medquad-{r['qid']}",
                "topic": focus,
                "title": f"{focus}: {kind}" if focus and kind else focus or r["question"],
                "text": text,
                "source": f"MedQuAD · NIH {r['source']}",
                "url": _secure(r["url"]),
            })
    return sorted(out, key=lambda rec: rec["id"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--vectors", action="store_true", help="also embed the default index and ship its vectors")
    args = parser.parse_args()
    rows = records(args.data)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    tmp = OUT.with_name(OUT.name + ".part")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(body)
    tmp.replace(OUT)
    print(f"{OUT.relative_to(ROOT)}: {len(rows):,} answers, {OUT.stat().st_size / 1e6:.1f} MB")
    if args.vectors:
        sys.path.insert(0, str(ROOT))
        from medgemma.assets import shipped_vectors_path
        from medgemma.config import AppConfig
        from medgemma.rag.indexes import default_chunks, save_shipped_vectors, shared_embedder
        from medgemma.rag.retriever import embed_chunks

        chunks = default_chunks(AppConfig())
        embedder = shared_embedder()
        vectors = embed_chunks(chunks, embedder, progress=True)
        path = shipped_vectors_path()
        save_shipped_vectors(chunks, vectors, embedder.name, path)
        print(f"{path.relative_to(ROOT)}: {len(chunks):,} vectors, {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
