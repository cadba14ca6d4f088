"""Baseline figures of a configuration on the evaluation tasks: each task with RAG on and off.

Runs `medgemma.eval.runner.run_task` (the same runner as `python -m medgemma eval` and the Evaluation tab)
on the configuration from the environment (MEDGEMMA_*; by default the embedded GGUF 270M on the CPU), with
a fixed sample per task, and prints one markdown table. Runs resume, so an interrupted bench continues.

Usage: python bench/eval_baseline.py [--limit 60] [--seed 0] [--tasks pubmedqa-rag,pubmedqa-none,...]
       [--adapter NAME] [--rag on|off|both] [--out runs]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medgemma.config import AppConfig  # noqa: E402  (needs the path above when run as a script)
from medgemma.eval.runner import RunSpec, run_task  # noqa: E402
from medgemma.eval.tasks import load_task  # noqa: E402
from medgemma.runtime import Runtime  # noqa: E402

# (task, RAG settings to run). Tasks named for their setting decide retrieval themselves.
PLAN = [
    ("pubmedqa-rag", [True]), ("pubmedqa-none", [False]), ("pubmedqa-gold", [False]),
    ("clinical-errors", [False]), ("mirage-medqa", [True, False]),
    ("kqa", [True, False]), ("emergency", [True]), ("xstest", [True]), ("medsafetybench", [True]),
    ("kqa-benign", [True]), ("bipia", [True]), ("medquad", [True]), ("mirage-mmlu", [True, False]),
]
SHOWN = ("accuracy", "macro_f1", "ece", "tpr", "tnr", "f1", "rouge_l", "citation_validity", "citation_support",
         "answers_with_citations", "refusal_recall", "over_refusal", "emergency_recall", "attack_success")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tasks", help="Comma-separated subset of: " + ", ".join(t for t, _ in PLAN))
    ap.add_argument("--adapter", help="Adapter to evaluate (transformers backend or GGUF LoRA).")
    ap.add_argument("--rag", choices=["on", "off", "both"], default="both",
                    help="Only the runs with RAG on, off, or both (tasks named for a setting keep theirs).")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--out", default=str(REPO / "runs"))
    args = ap.parse_args()
    cfg = AppConfig.from_env()
    if args.adapter:
        cfg = replace(cfg, backend=replace(cfg.backend, adapter=args.adapter))
    chosen = set(args.tasks.split(",")) if args.tasks else None
    runtime = Runtime(cfg)
    assistant = runtime.assistant()
    print(f"Configuration: {assistant.backend.info().line()}; sample {args.limit} per task, seed {args.seed}\n")
    rows = []
    for task, rags in PLAN:
        if chosen is not None and task not in chosen:
            continue
        items = load_task(task, limit=args.limit, seed=args.seed)
        if args.rag != "both" and len(rags) > 1:
            rags = [args.rag == "on"]
        for rag in rags:
            spec = RunSpec(task=task, rag=rag, k=cfg.retrieval.k, limit=args.limit, seed=args.seed,
                           max_new_tokens=args.max_new_tokens)
            t0 = time.perf_counter()
            result = run_task(assistant, spec, items, Path(args.out))
            head = result.metrics.get("headline", {})
            figures = []
            for name in SHOWN:
                if name in head and head[name].get("value") is not None:
                    value = head[name]["value"]
                    low, high = head[name].get("ci95") or [None, None]
                    ci = f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else ""
                    figures.append(f"{name} {value:.3f}{ci}")
            base = result.metrics.get("baselines")
            if base:
                figures.append(f"majority {base['majority']['accuracy']:.3f}, chance {base['chance']:.3f}")
            setting = result.metrics["config"]["spec"]["rag"]
            rows.append((task, "on" if setting else "off", len(items), "; ".join(figures),
                         time.perf_counter() - t0))
            print(f"| {rows[-1][0]} | {rows[-1][1]} | {rows[-1][2]} | {rows[-1][3]} | {rows[-1][4]:.0f} s |",
                  flush=True)
    runtime.close()
    print("\n| task | RAG | n | figures (95% bootstrap interval) | time |\n|---|---|---|---|---|")
    for task, rag, n, figures, secs in rows:
        print(f"| {task} | {rag} | {n} | {figures} | {secs:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
