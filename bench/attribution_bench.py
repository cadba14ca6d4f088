"""Does the answer check keep what the sources say and drop what they do not? (printed, not asserted)

1. Sentences of the shipped corpus, each checked against its own passage and three others:
   - copies (faithful: should be kept) and hand-written paraphrases: bench/data/paraphrases.jsonl (looked at
     while the check was written), paraphrases_heldout.jsonl (40 faithful, 20 with one fact changed, written
     apart from the check; its misses were read when ordinary words were forgiven), paraphrases_fresh.jsonl
     (60 faithful, 30 with one fact changed, written later apart from the check; its misses were read when
     lenient mode was given the passage's opening sentence) and paraphrases_blind.jsonl (the same counts, on
     the 82 passages no other set uses, written apart from the check and never read against it);
   - entity swaps built from them: a condition, drug or body-part word replaced by one from a distractor
     passage or from elsewhere in the same passage, a number changed, "type 1" <-> "type 2" (should go).
   Today's pipeline before this check kept every sentence whose citation number existed: it is the baseline.
2. The coverage gate on MedQuAD (../shared/data): each question against BM25's top 4 of all 16,407 answers
   plus the shipped corpus (answerable), and against the same index without any answer about the question's
   focus (unanswerable: "an index with and without their own answers"). BM25 stands in for the dense index
   here so the run takes seconds; the app gates on what its dense index returns.
3. With --model, the default assistant (GGUF 270M + shipped adapter, shipped index) on everyday questions and
   on K-QA patient questions: raw citations against the check's verdict, how many answers keep a supported
   sentence, prompt tokens per answer, and the replies themselves to read (--show).

    python bench/attribution_bench.py [--data ../shared/data] [--medquad 600] [--model] [--show 30]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medgemma import attribution, citations  # noqa: E402
from medgemma.rag.chunking import split_sentences  # noqa: E402

CORPUS = ROOT / "medgemma" / "corpus" / "passages.jsonl"
PARAPHRASES = ROOT / "bench" / "data" / "paraphrases.jsonl"  # looked at while the generic-word list was written
HELD_OUT = ROOT / "bench" / "data" / "paraphrases_heldout.jsonl"  # written apart from the check; its misses were read
FRESH = ROOT / "bench" / "data" / "paraphrases_fresh.jsonl"  # written apart from the check; read when lenient mode was tuned
BLIND = ROOT / "bench" / "data" / "paraphrases_blind.jsonl"  # written apart, on passages no other set uses; never read
EVERYDAY = [  # on topics the shipped corpus covers, in a reader's words
    "What are the symptoms of type 2 diabetes?", "How is high blood pressure treated?", "What causes asthma attacks?",
    "How do statins work?", "What is chronic kidney disease?", "What are the signs of a UTI?",
    "Can you overdose on paracetamol?", "What does an underactive thyroid do?", "How is HIV passed on?",
    "Why should I finish antibiotics only as prescribed?", "What is COPD?", "How do I wash my hands properly?",
    "What are opioids?", "Is the flu vaccine changed every year?", "What is GERD?", "How is anxiety treated?",
    "What vaccines do babies get?", "What is a breast ultrasound for?", "When is back pain an emergency?",
    "What is insulin used for?", "What happens in a biopsy lab?", "How do I stop heavy bleeding from a cut?",
]
OFF_CORPUS = ["What causes gout?", "What is fibromyalgia?", "Do zolmitriptan tablets contain gluten?",
              "How is psoriasis treated?", "What are the symptoms of endometriosis?", "What is restless legs syndrome?",
              "Is tinnitus curable?", "What causes shingles?"]


def load_corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


# The corpus's topic slugs name its conditions, drugs and tests; these slug words name none of them.
NOT_NAMES = set("""
activity and back chronic cold crisis disease emergencies failure hand high normal physical pressure severe
type tract childhood cessation deficiency screening hygiene suicidal
""".split())
BODY_PARTS = set("""
heart lungs lung liver kidney kidneys brain skin bones bone blood chest stomach bowel bladder eyes eye ears
ear throat mouth teeth arm arms legs leg feet foot hands hand neck knee hip joints muscles nerves
""".split())


def name_vocabulary(corpus: list[dict]) -> set[str]:
    """Words that name conditions, drugs, tests and body parts: the corpus's topic slugs and a body-part list.
    Independent of the check's own notion of a key term, so the swaps are not built to suit it."""
    words = {w for p in corpus for w in p["topic"].split("-") if len(w) > 2 and not w.isdigit()}
    return (words - NOT_NAMES) | BODY_PARTS


def key_words(sentence: str, vocabulary: set[str]) -> list[str]:
    """The words of `sentence` that name something (in `vocabulary`), as written."""
    return [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]", sentence) if w.lower() in vocabulary]


def _replace(sentence: str, old: str, new: str) -> str | None:
    if new.lower()[:5] == old.lower()[:5]:
        return None  # "kidney" -> "kidneys" is an inflection, not another name
    if new.lower()[:5] in sentence.lower():
        return None  # "opioid overdose" -> "opioid opioids" drops a word but names nothing new
    return re.sub(rf"\b{re.escape(old)}\b", new, sentence, count=1)


def swaps(sentence: str, passage: dict, others: list[dict], rng: random.Random,
          vocabulary: set[str]) -> list[tuple[str, str]]:
    """(kind, swapped sentence) pairs: one name or number changed, so the sentence says something else."""
    out: list[tuple[str, str]] = []
    mine = key_words(sentence, vocabulary)
    if mine:
        old = rng.choice(mine)
        foreign = [w for o in others for w in key_words(o["title"] + ". " + o["text"], vocabulary)
                   if w.lower() not in passage["text"].lower() and w.lower() not in sentence.lower()]
        if foreign:
            out.append(("name from a distractor", _replace(sentence, old, rng.choice(foreign))))
        inside = [w for s in split_sentences(passage["text"]) if s != sentence for w in key_words(s, vocabulary)
                  if w.lower() not in sentence.lower()]
        if inside:
            out.append(("name from the same passage", _replace(sentence, old, rng.choice(inside))))
    numbers = re.findall(r"\b\d+\b", sentence)
    if numbers:
        n = rng.choice(numbers)
        new = str(int(n) * 2 + 1)
        out.append(("number", re.sub(rf"\b{n}\b", new, sentence, 1)))
    if re.search(r"\btype [12]\b", sentence, re.I):
        out.append(("type 1/2", re.sub(r"\b(type) ([12])\b", lambda m: f"{m.group(1)} {3 - int(m.group(2))}",
                                       sentence, 1, flags=re.I)))
    return [(kind, text) for kind, text in out if text and text != sentence]


def part_sentences(rng: random.Random) -> None:
    corpus = load_corpus()
    by_id = {p["id"]: p for p in corpus}
    vocabulary = name_vocabulary(corpus)
    kept = {"copy": [0, 0]}
    caught: dict[str, list[int]] = {}
    for passage in corpus:
        others = rng.sample([p for p in corpus if p["topic"] != passage["topic"]], 3)
        texts = [passage["text"]] + [o["text"] for o in others]
        for sentence in split_sentences(passage["text"]):
            found = attribution.support(sentence, texts)
            if found.kind != "claim":
                continue
            kept["copy"][0] += found.passages[:1] == (1,)
            kept["copy"][1] += 1
            for kind, swapped in swaps(sentence, passage, others, rng, vocabulary):
                verdict = attribution.support(swapped, texts)
                caught.setdefault(kind, [0, 0])
                caught[kind][0] += not verdict.supported
                caught[kind][1] += 1
    for path, tag in ((PARAPHRASES, "dev"), (HELD_OUT, "held out"), (FRESH, "fresh"), (BLIND, "blind")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            passage = by_id[item["passage"]]
            others = rng.sample([p for p in corpus if p["topic"] != passage["topic"]], 3)
            texts = [passage["text"]] + [o["text"] for o in others]
            for mode, strict in (("strict", True), ("lenient", False)):
                if "paraphrase" in item:
                    found = attribution.support(item["paraphrase"], texts, strict=strict)
                    row = kept.setdefault(f"paraphrase {mode} ({tag})", [0, 0])
                    row[0] += found.passages[:1] == (1,)
                else:
                    found = attribution.support(item["unfaithful"], texts, strict=strict)
                    row = caught.setdefault(f"written, {mode}, {tag}", [0, 0])
                    row[0] += not found.supported
                row[1] += 1
    print("\n1. Sentences of the shipped corpus against their passage and 3 distractors")
    print(f"{'set':44} {'n':>5} {'check':>8} {'baseline':>9}")
    for kind, (good, n) in kept.items():
        print(f"{'faithful ' + kind + ' wrongly removed':44} {n:5d} {1 - good / n:8.3f} {0.0:9.3f}")
    built = {k: v for k, v in caught.items() if not k.startswith("written")}
    total = [sum(v[0] for v in built.values()), sum(v[1] for v in built.values())]
    for kind, (good, n) in sorted(built.items()) + [("all built swaps", total)] + sorted(
            (k, v) for k, v in caught.items() if k.startswith("written")):
        print(f"{'swapped (' + kind + ') caught':44} {n:5d} {good / n:8.3f} {0.0:9.3f}")


def part_gate(data: Path, limit: int, rng: random.Random) -> None:
    import bm25s

    path = data / "medquad" / "medquad_answered.jsonl.gz"
    if not path.exists():
        print(f"\n2. skipped: {path} not found")
        return
    records = [json.loads(line) for line in gzip.open(path, "rt")]
    corpus = load_corpus()
    docs = [(r["focus"] or "", r["focus"] + ". " + r["answer"][:800]) for r in records]
    docs += [("", p["title"] + ". " + p["text"]) for p in corpus]
    t0 = time.perf_counter()
    stats = attribution.TermStats([d[1] for d in docs])
    print(f"\n   term statistics over {len(docs):,} texts in {time.perf_counter() - t0:.1f} s", end="")
    t0 = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([d[1] for d in docs], stopwords="en", show_progress=False), show_progress=False)
    print(f"\n2. Coverage gate on MedQuAD questions (BM25 over {len(docs):,} answers, built in "
          f"{time.perf_counter() - t0:.1f} s)")
    sample = rng.sample(records, min(limit, len(records)))
    answered = unanswered = absent = topic_absent = n_absent = 0
    wrong: list[str] = []
    for r in sample:
        tokens = bm25s.tokenize([r["question"]], stopwords="en", show_progress=False)
        ids, _ = retriever.retrieve(tokens, k=60, show_progress=False)
        ranked = [int(i) for i in ids[0]]
        own = [docs[i][1] for i in ranked[:4]]
        focus = (r["focus"] or "").lower()
        away = [docs[i][1] for i in ranked if docs[i][0].lower() != focus][:4]
        unnamed = [docs[i][1] for i in ranked if focus not in docs[i][1].lower()][:4]
        # The topic absent from the index: no text holds the focus's rarest term.
        focus_terms = sorted(attribution._terms(r["focus"] or r["question"])[1], key=lambda t: stats.df.get(t, 0))
        rare = focus_terms[0] if focus_terms else ""
        if rare:
            texts = [docs[i][1] for i in ranked]
            gone = [t for t in texts if rare not in attribution._window_terms(t)][:4]  # noqa: SLF001
            topic_absent += not attribution.covers(r["question"], gone, stats).covered
            n_absent += 1
        answered += attribution.covers(r["question"], own, stats).covered
        gate = attribution.covers(r["question"], away, stats)
        unanswered += not gate.covered
        absent += not attribution.covers(r["question"], unnamed, stats).covered
        if gate.covered and len(wrong) < 8:
            wrong.append(f"   covered without its focus: {r['question']!r} (terms {gate.terms})")
    n = len(sample)
    print(f"   answerable questions let through   {answered / n:.3f}  (n={n}; baseline 1.000)")
    print(f"   without the focus's own answers, said 'not covered' {unanswered / n:.3f}  (n={n}; baseline 0.000)")
    print(f"   with no answer naming the focus, said 'not covered' {absent / n:.3f}  (n={n}; baseline 0.000)")
    print(f"   with no text holding the focus's rarest term, said 'not covered' {topic_absent / max(1, n_absent):.3f}"
          f"  (n={n_absent}; baseline 0.000)")
    print("\n".join(wrong))


def part_model(data: Path, show: int) -> None:
    from medgemma.config import AppConfig
    from medgemma.prompts import build_messages, render
    from medgemma.runtime import Runtime

    assistant = Runtime(AppConfig.from_env()).assistant()
    kqa = data / "kqa" / "questions_w_answers.jsonl"
    patient = [json.loads(line)["Question"] for line in kqa.read_text().splitlines()[:40]] if kqa.exists() else []
    style = getattr(assistant.backend, "prompt_style", "")  # the local engines render their own prompt
    print(f"\n3. The default assistant ({assistant.backend.info().line()}), strict={assistant.strict}")
    shown = 0
    for name, questions in (("everyday, covered topics", EVERYDAY), ("off the corpus", OFF_CORPUS),
                            ("K-QA patient questions", patient)):
        raw_cited = raw_right = gated = kept_one = checked_cited = 0
        seconds: list[float] = []
        prompt_tokens: list[int] = []
        for q in questions:
            t0 = time.perf_counter()
            reply = assistant.answer(q)
            seconds.append(time.perf_counter() - t0)
            if "not_covered" in reply.flags or reply.verdict.blocks_model:
                gated += 1
            elif reply.passages and style:
                count = assistant.backend.count_tokens(render(build_messages(q, reply.passages), style))
                if count is not None:
                    prompt_tokens.append(count)
            texts = [p.text for p in reply.passages]
            for line in reply.raw_text.split("\n"):
                for sentence, _ in citations.split(line):
                    nums = [n for n in citations.cited_numbers(sentence) if 1 <= n <= len(texts)]
                    if not nums:
                        continue
                    raw_cited += 1
                    found = attribution.support(sentence, texts, strict=False)
                    raw_right += bool(set(found.passages) & set(nums))
            claims = [s for s in reply.support if s.kind == "claim" and s.supported]
            kept_one += bool(claims)
            checked_cited += len(claims)
            if shown < show:
                shown += 1
                print(f"\n--- {q}\n{reply.text}\n    flags={reply.flags}")
                for n, p in enumerate(reply.passages, 1):
                    print(f"    [{n}] {p.title}: {p.text[:160]}...")
        n = max(1, len(questions))
        print(f"\n   {name}: n={len(questions)}, gated (not covered / emergency / refusal) {gated / n:.2f}, "
              f"answered with >= 1 supported sentence {kept_one / n:.2f}")
        if not raw_cited:
            print("   no raw cited sentences")
            continue
        print(f"   raw cited sentences {raw_cited}: citing a passage that supports them {raw_right / raw_cited:.3f} "
              f"(misattribution {1 - raw_right / raw_cited:.3f}); after the check {checked_cited} cited "
              f"sentences, all supported by construction; p50 reply {sorted(seconds)[len(seconds) // 2]:.2f} s"
              + (f"; prompt tokens per answer {sum(prompt_tokens) / len(prompt_tokens):.0f}" if prompt_tokens else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--medquad", type=int, default=600, help="MedQuAD questions for the gate")
    parser.add_argument("--model", action="store_true", help="also run the default assistant")
    parser.add_argument("--show", type=int, default=0, help="print this many replies with their passages")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    part_sentences(rng)
    if args.medquad:
        part_gate(args.data, args.medquad, rng)
    if args.model:
        part_model(args.data, args.show)


if __name__ == "__main__":
    main()
