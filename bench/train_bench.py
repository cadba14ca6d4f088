"""Training speed of the training paths on the same steps, in the same run, with their loss curves.

Each path trains the same steps of LoRA on the same examples in the same order (PubMedQA training recipe, no
packing, seed 0) in its own child process (`python -m medgemma train`), so peak memory is that path's alone:

- plain: fp32, the full-vocabulary output layer at every position, LoRA dropout 0.05;
- fast-fp32: fp32, the output layer at answer positions only, LoRA dropout 0.05 (the earlier default);
- fp32-nodrop: as fast-fp32 without dropout: the reference for the bf16 loss curve;
- bf16 (the default on CPUs with native bf16): bf16 base weights and autocast matmuls, LoRA weights and
  optimizer in fp32, no dropout.

Prints tokens/s, peak RSS, ratios against fast-fp32, and how far the bf16 loss curve is from fp32-nodrop's
(same data, same initial weights: the difference is the precision alone). `--rounds 2` runs the paths twice,
interleaved, and keeps each path's faster round, which damps other load on the machine.

Usage: python bench/train_bench.py [--steps 8] [--threads 2] [--rounds 1] [--base-model FOLDER]
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
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]


PATHS = {
    "plain": ["--precision", "fp32", "--no-fast-loss", "--lora-dropout", "0.05"],
    "fast-fp32": ["--precision", "fp32", "--fast-loss", "--lora-dropout", "0.05"],
    "fp32-nodrop": ["--precision", "fp32", "--fast-loss", "--lora-dropout", "0"],
    "bf16": ["--precision", "bf16", "--fast-loss", "--lora-dropout", "0"],
}
BASELINE = "fast-fp32"


def run(mode: str, args: argparse.Namespace, adapters: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "medgemma", "train", "--recipe", "pubmedqa", "--output-name", f"bench-{mode}",
           "--adapters-dir", str(adapters), "--no-resume",
           "--max-steps", str(args.steps), "--per-device-batch-size", "2", "--gradient-accumulation-steps", "1",
           "--max-seq-length", "768", "--val-fraction", "0", "--save-steps", "1000", "--logging-steps", "1",
           "--no-packing", *PATHS[mode]]
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
    return {"tokens_per_s": tokens / seconds, "peak_rss_mb": peak / 1e6, "losses": [r["loss"] for r in steps]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--paths", default=",".join(PATHS), help=f"Comma-separated, of: {', '.join(PATHS)}.")
    ap.add_argument("--base-model", default="", help="Default: the embedded Gemma 3 270M (converted once).")
    args = ap.parse_args()
    modes = [m for m in args.paths.split(",") if m]
    unknown = [m for m in modes if m not in PATHS]
    if unknown:
        sys.exit(f"Unknown path(s): {', '.join(unknown)}.")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for mode in modes:
                r = run(mode, args, Path(tmp))
                if mode not in results or r["tokens_per_s"] > results[mode]["tokens_per_s"]:
                    results[mode] = r
    base = results.get(BASELINE)
    print("| path | tokens/s | vs fast-fp32 | peak RSS | loss, first -> last step |\n|---|---|---|---|---|")
    for mode, r in results.items():
        ratio = f"x{r['tokens_per_s'] / base['tokens_per_s']:.2f}" if base else "-"
        print(f"| {mode} | {r['tokens_per_s']:.1f} | {ratio} | {r['peak_rss_mb']:,.0f} MB | "
              f"{r['losses'][0]:.4f} -> {r['losses'][-1]:.4f} |")
    if "bf16" in results and "fp32-nodrop" in results:
        a, b = results["fp32-nodrop"]["losses"], results["bf16"]["losses"]
        rel = max(abs(x - y) / abs(x) for x, y in zip(a, b))
        print(f"\nbf16 against fp32 loss, same steps: largest relative difference {rel:.4f} over {len(a)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
