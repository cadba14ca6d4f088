"""Raw answers of two adapters before the answer check, on grounded questions neither was trained on.

The questions are PubMedQA's (a source the grounded adapters never trained on: their recipe used MedQuAD),
each with its abstract among distractor passages from the shipped index, some with distractors only (the
sources do not cover the question). For each adapter, on the model's raw text (hf backend, greedy):

- misattribution: cited sentences whose cited passages do not support them (`attribution.support`, strict);
- substitution: claim sentences whose best passage lacks one of their key terms (a name, number, "type 2");
- abstention when not covered, and false abstention when covered;
- the GRPO reward (`train/rewards.py`), averaged.

    python bench/preference_bench.py --adapters grounded-270m,grounded-270m-dpo [--n 20] [--max-new-tokens 120]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medgemma import attribution, citations  # noqa: E402
from medgemma.rag.chunking import split_sentences  # noqa: E402
from medgemma.train.rewards import grounded_reward  # noqa: E402


def wilson(k: int, n: int) -> str:
    if not n:
        return "-"
    z, p = 1.96, k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5 / d
    return f"{p:.3f} [{max(0, c - h):.3f}, {min(1, c + h):.3f}] ({k}/{n})"


def score(answer: str, passages: list[str], covered: bool) -> dict[str, int | float]:
    out = {"cited": 0, "misattributed": 0, "claims": 0, "substituted": 0, "abstained": 0,
           "reward": grounded_reward(answer, passages, covered)}
    out["abstained"] = int(attribution.abstains(answer))
    for sentence in split_sentences(answer):
        found = attribution.support(sentence, tuple(passages), strict=True)
        if found.kind == "plain":
            continue
        out["claims"] += 1
        out["substituted"] += int(not found.supported and bool(found.missing))
        nums = citations.cited_numbers(sentence)
        if nums:
            out["cited"] += 1
            out["misattributed"] += int(not set(nums) <= set(found.passages))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapters", default="grounded-270m,grounded-270m-dpo")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=120)
    ap.add_argument("--show", type=int, default=0)
    args = ap.parse_args()

    from medgemma.backends.hf import HFBackend
    from medgemma.config import AppConfig, GenerationParams
    from medgemma.convert import default_hf_model
    from medgemma.rag.indexes import open_index
    from medgemma.train.grounded import grounded_recipe

    cfg = AppConfig.from_env()
    examples = grounded_recipe(open_index("default", cfg), dataset="pubmedqa", k=3, limit=args.n, seed=5,
                               no_answer_fraction=0.3)
    model = default_hf_model(cfg.cache_dir)
    params = GenerationParams(max_new_tokens=args.max_new_tokens, temperature=0.0, repeat_penalty=1.0)
    print(f"{len(examples)} PubMedQA questions ({sum(e.meta['grounded'] == 'no_answer' for e in examples)} "
          f"not covered), greedy, {args.max_new_tokens} new tokens at most\n")
    rows = []
    for name in [a for a in args.adapters.split(",") if a]:
        backend = HFBackend(model, device="cpu", adapter_path=cfg.adapters_dir / name, adapter_name=name)
        total = {"cited": 0, "misattributed": 0, "claims": 0, "substituted": 0, "abstain_uncovered": 0,
                 "uncovered": 0, "abstain_covered": 0, "covered": 0, "reward": 0.0}
        try:
            for i, ex in enumerate(examples):
                passages = [p["text"] for p in json.loads(ex.meta["passages"])]
                covered = ex.meta["grounded"] == "answer"
                answer = backend.generate(list(ex.messages), params)
                s = score(answer, passages, covered)
                for key in ("cited", "misattributed", "claims", "substituted"):
                    total[key] += int(s[key])
                total["reward"] += float(s["reward"])
                side = "covered" if covered else "uncovered"
                total[side] += 1
                total[f"abstain_{side}"] += int(s["abstained"])
                if i < args.show:
                    print(f"[{name}] {ex.meta['question']}\n  -> {answer.strip()[:400]}\n")
        finally:
            backend.close()
        rows.append((name, total))
    print("| adapter | misattribution (cited sentences) | substitution (claims) | abstains, not covered | "
          "abstains, covered | mean reward |\n|---|---|---|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {wilson(t['misattributed'], t['cited'])} | {wilson(t['substituted'], t['claims'])} | "
              f"{wilson(t['abstain_uncovered'], t['uncovered'])} | {wilson(t['abstain_covered'], t['covered'])} | "
              f"{t['reward'] / max(1, len(examples)):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
