"""Training speed of the answer-only loss path against the plain full-logit path, in the same run.

Each mode trains the same few steps of LoRA on the same examples (PubMedQA training recipe, no packing) in its
own child process (`python -m medgemma train`), so peak memory is that mode's alone. Prints tokens/s, peak
RSS and the ratio fast / plain. Most of the CPU time of the plain path goes to Gemma 3's 262k-row output
layer, which the fast path evaluates only at answer positions.

Usage: python bench/train_bench.py [--steps 4] [--threads 2] [--base-model FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]


def run(mode: str, args: argparse.Namespace, adapters: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "medgemma", "train", "--recipe", "pubmedqa", "--output-name", f"bench-{mode}", "--adapters-dir", str(adapters),
           "--max-steps", str(args.steps), "--per-device-batch-size", "2", "--gradient-accumulation-steps", "1",
           "--max-seq-length", "768", "--val-fraction", "0", "--save-steps", "1000", "--logging-steps", "1",
           "--no-packing", "--fast-loss" if mode == "fast" else "--no-fast-loss"]
    if args.base_model:
        cmd += ["--base-model", args.base_model]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    child = psutil.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, child.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    if child.returncode != 0:
        sys.exit(f"{mode} run failed:\n{child.stderr.read().decode()[-2000:] if child.stderr else ''}")
    log = [json.loads(line) for line in (adapters / f"bench-{mode}" / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if r.get("event") == "log"]
    first, last = steps[0], steps[-1]
    # From the first logged step to the last: model loading and the first step's warm-up are left out.
    tokens = last["tokens"] - first["tokens"]
    seconds = last["elapsed"] - first["elapsed"]
    return {"tokens_per_s": tokens / seconds, "peak_rss_mb": peak / 1e6, "final_loss": last.get("loss") or 0.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base-model", default="", help="Default: the embedded Gemma 3 270M (converted once).")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {mode: run(mode, args, Path(tmp)) for mode in ("plain", "fast")}
    print("| path | tokens/s | peak RSS | last loss |\n|---|---|---|---|")
    for mode, r in results.items():
        print(f"| {mode} | {r['tokens_per_s']:.1f} | {r['peak_rss_mb']:,.0f} MB | {r['final_loss']:.4f} |")
    ratio = results["fast"]["tokens_per_s"] / results["plain"]["tokens_per_s"]
    print(f"\nspeed ratio fast / plain: {ratio:.2f}; memory ratio: "
          f"{results['fast']['peak_rss_mb'] / results['plain']['peak_rss_mb']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
