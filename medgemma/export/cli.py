"""`python -m medgemma export --adapter NAME --formats ...`: every export of one adapter, each one verified.

Layout of the output folder (default exports/NAME):

    adapter/   the PEFT adapter (safetensors) with its model card
    merged/    base + adapter merged, transformers safetensors, tokenizer, chat template, card
    gguf/      NAME-f16.gguf, NAME-q4_k_m.gguf, ... and NAME-lora.gguf (for any GGUF of the base), card
    onnx/      model.onnx with tokenizer and config
    export_report.json   what was written and every verification figure
    export_progress.json the step under way (pid, state, step, done/total), rewritten as each step starts and ends

Formats a later one needs (the merged model for GGUF and ONNX, the f16 GGUF for quantization, an f16 GGUF
of the base for checking the LoRA) are built in a hidden work folder when not asked for, and removed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import read_state
from .quantize import QTYPES

FORMATS = ("adapter", "merged", "gguf", "gguf-lora", "onnx")
DEFAULT_FORMATS = "adapter,merged,gguf,gguf-lora,q4_k_m"
VERIFY_QUESTIONS = (
    "What are the warning signs of a stroke?",
    "What is asthma and how is it treated?",
    "Why is a paracetamol overdose dangerous?",
    "How do vaccines protect against disease?",
    "What does pneumonia look like on a chest X-ray?",
)
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "provenance.json", "dataset_stats.json")
PROGRESS = "export_progress.json"


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `export` command to an argparse subparsers object; returns its parser."""
    p = subparsers.add_parser(
        "export", help="Export an adapter: merged model, GGUF (+ quantized, + LoRA), ONNX; verify; push to the Hub.",
        description="Export a trained adapter to other formats, check each file against transformers, and "
                    "optionally push one of them to the Hugging Face Hub (token from HF_TOKEN only).")
    p.add_argument("--adapter", required=True, help="Adapter name under the adapters folder, or a folder path.")
    p.add_argument("--formats", default=DEFAULT_FORMATS,
                   help=f"Comma-separated: {', '.join(FORMATS)}, or a llama.cpp quantization "
                        f"({', '.join(QTYPES)}). Default: {DEFAULT_FORMATS}.")
    p.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"],
                   help="Precision of the merged safetensors (default float16).")
    p.add_argument("--gguf-outtype", dest="gguf_outtype", default="f16", choices=["f16", "bf16", "f32", "q8_0"],
                   help="Type of the main GGUF file, which quantizations start from (default f16).")
    p.add_argument("--base", help="Base model folder (default: from the adapter's provenance, else the embedded "
                                  "Gemma 3 270M).")
    p.add_argument("--out", help="Output folder (default exports/NAME, or under MEDGEMMA_EXPORTS_DIR).")
    p.add_argument("--push", metavar="REPO", help="Push one export folder to this Hub repository (private).")
    p.add_argument("--push-what", dest="push_what", choices=["adapter", "merged", "gguf"],
                   help="Which folder to push (default: gguf, else merged, else adapter).")
    p.add_argument("--public", action="store_true", help="Create the Hub repository public (default private).")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="With --push: list the files and card that would be pushed; send nothing.")
    p.add_argument("--no-verify", dest="verify", action="store_false", help="Skip the checks against transformers.")
    p.add_argument("--allow-inexact-tokenizer", dest="allow_inexact_tokenizer", action="store_true",
                   help="Export a GGUF even when llama.cpp cannot reproduce the tokenizer (test models).")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for llama.cpp (default: up to 4).")
    p.add_argument("--adapters-dir", dest="adapters_dir", help="Folder holding adapters (default adapters/).")
    p.add_argument("--cache-dir", dest="cache_dir", help="Where the converted default model is cached.")
    p.set_defaults(func=cmd_export)
    return p


def parse_formats(text: str) -> list[str]:
    """The formats asked for, checked, in the order given."""
    out: list[str] = []
    for raw in text.split(","):
        f = raw.strip().lower()
        if not f:
            continue
        if f not in FORMATS and f not in QTYPES:
            raise InputError(f"Unknown export format {f!r}; choose from {', '.join(FORMATS)} or a quantization "
                             f"({', '.join(QTYPES)}).")
        if f not in out:
            out.append(f)
    if not out:
        raise InputError("--formats names no format.")
    return out


def resolve_adapter(name: str, adapters_dir: Path) -> Path:
    """The adapter folder for a name under `adapters_dir`, or for a path."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    candidate = adapters_dir / name
    if candidate.is_dir():
        return candidate
    raise InputError(f"No adapter {name!r} in {adapters_dir} (and no such folder).")


def read_progress(out: Path) -> dict[str, Any]:
    """An export folder's export_progress.json, or {} when there is none or it cannot be read."""
    return read_state(Path(out) / PROGRESS)


def read_provenance(adapter_folder: Path) -> dict[str, Any]:
    """The adapter's provenance.json, or a minimal one naming the adapter."""
    try:
        data = json.loads((adapter_folder / "provenance.json").read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    except (OSError, ValueError):
        pass
    return {"adapter": adapter_folder.name}


def resolve_base(args: argparse.Namespace, adapter_folder: Path, provenance: dict[str, Any], cache_dir: Path) -> Path:
    """--base, else the base folder the adapter was trained on (if it is on disk), else the embedded model."""
    if getattr(args, "base", None):
        base = Path(args.base).expanduser()
        if not (base / "config.json").is_file():
            raise InputError(f"--base {base} is not a transformers model folder.")
        return base
    recorded = (provenance.get("base_model") or {}).get("path")
    try:
        recorded = recorded or json.loads((adapter_folder / "adapter_config.json").read_text(
            encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError):
        pass
    if recorded and (Path(recorded) / "config.json").is_file():
        return Path(recorded)
    from ..convert import default_hf_model

    return default_hf_model(cache_dir)


def _packaged_gguf_for(base: Path, cache_dir: Path) -> Path | None:
    """The packaged GGUF the base folder was converted from (the app's CPU model), if that is what it is."""
    from ..convert import read_manifest

    manifest = read_manifest(base) or {}
    candidate = cache_dir / "models" / str(manifest.get("source_gguf", ""))
    return candidate if manifest.get("source_gguf") and candidate.is_file() else None


class _Run:
    """One export: the folders, the steps done and the checks, written to export_report.json at the end."""

    def __init__(self, out: Path, verify: bool, threads: int) -> None:
        self.out = out
        self.work = out / ".work"
        self.verify = verify
        self.threads = threads
        self.steps: list[dict[str, Any]] = []
        self.checks: dict[str, Any] = {}

    def step(self, name: str, t0: float, **info: Any) -> None:
        self.steps.append({"step": name, "seconds": round(time.perf_counter() - t0, 1), **info})

    def progress(self, plan: list[str], state: str, step: str = "") -> None:
        """Rewrite export_progress.json: what a watcher (the Export tab) shows while the child runs."""
        from ..files import atomic_write_text

        atomic_write_text(self.out / PROGRESS, json.dumps(
            {"pid": os.getpid(), "state": state, "step": step, "done": len(self.steps), "total": len(plan),
             "plan": plan, "updated": time.time()}))


def cmd_export(args: argparse.Namespace) -> int:
    """Run the export steps for the parsed arguments; 0 when every check passed, 1 otherwise, 130 when stopped."""
    from tqdm import tqdm

    from ..config import AppConfig
    from ..prompts import build_messages
    from .. import lineage
    from ..eval.runner import git_commit
    from .card import model_card
    from ..files import atomic_folder, atomic_write_text, publish
    from .gguf_lora import export_gguf_lora
    from .gguf_model import export_gguf
    from .merge import check_merge, merge_adapter
    from .quantize import quantize_gguf
    from .verify import summary_lines, verify_gguf

    formats = parse_formats(args.formats)
    app = AppConfig.from_env()
    adapters_dir = Path(args.adapters_dir) if getattr(args, "adapters_dir", None) else app.adapters_dir
    cache_dir = Path(args.cache_dir) if getattr(args, "cache_dir", None) else app.cache_dir
    adapter = resolve_adapter(args.adapter, adapters_dir)
    provenance = read_provenance(adapter)
    provenance.setdefault("adapter", adapter.name)
    name = str(provenance["adapter"])
    # The cards carry the adapter's lineage (data, base model, evaluations, commits); this export's own checks
    # are in their own section, so other exports are left out.
    traced = lineage.build(adapter, app.runs_dir, None) if (adapter / "provenance.json").is_file() else None
    card = functools.partial(model_card, lineage=traced)
    out = Path(args.out) if getattr(args, "out", None) else app.exports_dir / name
    quants = [f for f in formats if f in QTYPES]
    need_merged = any(f in formats for f in ("merged", "gguf", "onnx")) or bool(quants)
    need_gguf = "gguf" in formats or bool(quants)
    plan = (["adapter"] if "adapter" in formats else []) + (["merged"] if need_merged else []) \
        + (["gguf"] if need_gguf else []) + quants + (["gguf-lora"] if "gguf-lora" in formats else []) \
        + (["onnx"] if "onnx" in formats else []) + (["push"] if getattr(args, "push", None) else [])
    run = _Run(out, args.verify, args.threads)
    prompts = [build_messages(q, []) for q in VERIFY_QUESTIONS]
    gguf_dir = out / "gguf"
    gguf_files: dict[str, str] = {}
    out.mkdir(parents=True, exist_ok=True)
    base: Path | None = None
    bar = tqdm(total=len(plan), unit="step", desc="export", file=sys.stderr)
    run.progress(plan, "running")
    state = "failed"  # until the loop ends; a stop (SIGINT) says "stopped"

    def say(line: str) -> None:
        tqdm.write(line, file=sys.stderr)

    try:
        base = resolve_base(args, adapter, provenance, cache_dir)
        say(f"Exporting adapter {adapter} on base {base} → {out} ({', '.join(plan)})")
        merged = out / "merged" if "merged" in formats else run.work / "merged"
        main_gguf = (gguf_dir if "gguf" in formats else run.work) / f"{name}-{args.gguf_outtype}.gguf"
        for step in plan:
            bar.set_description(step)
            run.progress(plan, "running", step)
            t0 = time.perf_counter()
            if step == "adapter":
                with atomic_folder(out / "adapter") as tmp:
                    for f in ADAPTER_FILES:
                        if (adapter / f).is_file():
                            shutil.copy2(adapter / f, tmp / f)
                    (tmp / "README.md").write_text(card(provenance, "adapter"), encoding="utf-8")
                run.step("adapter", t0, folder=str(out / "adapter"))
            elif step == "merged":
                merge_adapter(base, adapter, merged, args.dtype)
                if run.verify:
                    run.checks["merged"] = check_merge(base, adapter, merged)
                    say(f"merged ({args.dtype}): max |Δlogit| {run.checks['merged']['max_abs_logit_diff']:.3g} "
                        f"(tolerance {run.checks['merged']['tolerance']:.3g}) → "
                        f"{'PASS' if run.checks['merged']['passed'] else 'FAIL'}")
                run.step("merged", t0, folder=str(merged))
            elif step == "gguf":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # the inexact-tokenizer case is an error below
                    export_gguf(merged, main_gguf, args.gguf_outtype, name=name,
                                allow_inexact_tokenizer=args.allow_inexact_tokenizer)
                if "gguf" in formats:  # otherwise it is a work file that quantizations start from
                    gguf_files["model"] = main_gguf.name
                if run.verify:
                    run.checks[main_gguf.name] = verify_gguf(main_gguf, merged, prompts, threads=args.threads)
                    for line in summary_lines(run.checks[main_gguf.name]):
                        say(line)
                run.step("gguf", t0, file=str(main_gguf))
            elif step in QTYPES:
                target = gguf_dir / f"{name}-{step}.gguf"
                quantize_gguf(main_gguf, target, step, threads=args.threads)
                gguf_files.setdefault("model", target.name)
                if run.verify:
                    run.checks[target.name] = verify_gguf(target, merged, prompts, threads=args.threads)
                    for line in summary_lines(run.checks[target.name]):
                        say(line)
                run.step(step, t0, file=str(target))
            elif step == "gguf-lora":
                lora = gguf_dir / f"{name}-lora.gguf"
                export_gguf_lora(adapter, base, lora)
                gguf_files["lora"] = lora.name
                packaged = _packaged_gguf_for(base, cache_dir)
                if packaged is not None:
                    gguf_files["lora_base"] = packaged.name
                if run.verify:
                    base_gguf = run.work / "base-f16.gguf"
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        export_gguf(base, base_gguf, "f16", allow_inexact_tokenizer=args.allow_inexact_tokenizer)
                    key = lora.name
                    run.checks[key] = verify_gguf(base_gguf, base, prompts, lora_gguf=lora, adapter_folder=adapter,
                                                  threads=args.threads)
                    for line in summary_lines(run.checks[key]):
                        say(line)
                    if packaged is not None:
                        # The app serves the LoRA on the packaged q4_k_m file: check that combination loads
                        # and moves the logits the same way (4-bit weights make it less exact).
                        key = f"{lora.name} on {packaged.name}"
                        run.checks[key] = verify_gguf(packaged, base, prompts[:2], lora_gguf=lora,
                                                      adapter_folder=adapter, threads=args.threads)
                        run.checks[key]["passed"] = bool(run.checks[key]["lora_delta_correlation"] >= 0.9)
                        for line in summary_lines(run.checks[key]):
                            say(line)
                run.step("gguf-lora", t0, file=str(lora))
            elif step == "onnx":
                from .onnx_export import check_onnx, export_onnx

                export_onnx(merged, out / "onnx")
                if run.verify:
                    run.checks["onnx"] = check_onnx(out / "onnx", merged)
                    c = run.checks["onnx"]
                    say(f"onnx: max |Δlogit| {c['max_abs_logit_diff']:.3g} (tolerance {c['tolerance']:.3g}), top-1 "
                        f"agreement {c['top1_agreement']:.3f} → {'PASS' if c['passed'] else 'FAIL'}")
                run.step("onnx", t0, folder=str(out / "onnx"))
            elif step == "push":
                run.step("push", t0, **_push(args, out, say))
            if step == "merged" and "merged" in formats:
                publish(atomic_write_text(merged / "README.md",
                                     card(provenance, "merged", checks=_only(run.checks, "merged"))))
            if step in ("gguf", "gguf-lora", *QTYPES) and gguf_dir.is_dir():
                # Rewritten after each GGUF step, so the card lists every file and check before a push.
                publish(atomic_write_text(gguf_dir / "README.md", card(
                    provenance, "gguf", checks=_gguf_checks(run.checks), files=gguf_files)))
            bar.update(1)
        state = "finished"
    except KeyboardInterrupt:
        # The step under way writes through an atomic swap, so dropping it leaves the previous output, or none.
        state = "stopped"
        say(f"Stopped: {len(run.steps)} of {len(plan)} steps done; the step under way left nothing.")
    finally:
        bar.close()
        shutil.rmtree(run.work, ignore_errors=True)
        report = {"adapter": str(adapter), "adapter_sha256": lineage.adapter_hash(adapter),
                  "base": str(base) if base else None, "formats": formats, "steps": run.steps, "checks": run.checks,
                  "state": state, "git_commit": git_commit() or None}
        publish(atomic_write_text(out / "export_report.json", json.dumps(report, indent=2, default=str) + "\n"))
        run.progress(plan, state)
    if state == "stopped":
        return 130
    failed = [k for k, v in run.checks.items() if isinstance(v, dict) and v.get("passed") is False]
    print(f"Export of {name} in {out}: {len(run.steps)} steps; "
          + (f"checks failed: {', '.join(failed)}" if failed else
             ("all checks passed" if run.checks else "no checks run")))
    return 1 if failed else 0


def _only(checks: dict[str, Any], key: str) -> dict[str, Any]:
    return {key: checks[key]} if key in checks else {}


def _gguf_checks(checks: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in checks.items() if k.endswith(".gguf") or ".gguf " in k}


def _push(args: argparse.Namespace, out: Path, say: Any) -> dict[str, Any]:
    from .hub import push_to_hub

    what = args.push_what or next((w for w in ("gguf", "merged", "adapter") if (out / w).is_dir()), None)
    if what is None or not (out / what).is_dir():
        raise InputError(f"Nothing to push: {out / (what or 'adapter|merged|gguf')} was not exported.")
    result = push_to_hub(out / what, args.push, private=not args.public, dry_run=args.dry_run)
    say(f"{'Dry run: would push' if result['dry_run'] else 'Pushed'} {len(result['files'])} files "
        f"({result['total_bytes'] / 1e6:.1f} MB) from {out / what} to {args.push} "
        f"({'private' if result['private'] else 'public'})"
        + (f" - {result['reason']}" if result.get("reason") else ""))
    for f in result["files"]:
        say(f"  {f['path']:48} {f['bytes']:>14,} B  sha256 {f['sha256'][:16]}…")
    if result.get("url"):
        say(f"  {result['url']}")
    return {"repo_id": args.push, "folder": str(out / what), "dry_run": result["dry_run"],
            "files": len(result["files"]), "url": result.get("url")}
