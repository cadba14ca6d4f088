"""Command line: `python -m medgemma ingest|search|chat|eval|train|export|serve`. Each command imports its modules lazily."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from .config import AppConfig, BackendConfig, RetrievalConfig, field_help
from .backends import BACKENDS
from .prompts import STYLES
from .errors import InputError, MedGemmaError


def _config(args: argparse.Namespace) -> AppConfig:
    cfg = AppConfig.from_env()
    retrieval = {k: getattr(args, k) for k in ("index", "k", "mode") if getattr(args, k, None) is not None}
    backend = {k: getattr(args, k) for k in ("backend", "model", "adapter", "n_ctx", "threads", "prompt_style",
                                             "device", "quantization", "base_url", "api_model")
               if getattr(args, k, None) is not None}
    return replace(cfg, retrieval=replace(cfg.retrieval, **retrieval), backend=replace(cfg.backend, **backend))


def cmd_ingest(args: argparse.Namespace) -> int:
    from .rag.indexes import build_index

    cfg = _config(args)
    cfg = replace(cfg, retrieval=replace(cfg.retrieval, chunk_size=args.chunk_size, chunk_overlap=args.overlap))
    retriever = build_index([Path(p) for p in args.paths], args.index, cfg, progress=True)
    print(f"Index {args.index!r}: {len(retriever)} passages in {cfg.indices_dir / args.index}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .rag.indexes import open_index

    cfg = _config(args)
    retriever = open_index(cfg.retrieval.index, cfg)
    results = retriever.search(args.question, k=cfg.retrieval.k, mode=cfg.retrieval.mode,
                               min_score=args.min_score)
    if not results:
        print("No passage scored above the threshold.")
    for n, p in enumerate(results, 1):
        text = p.text if len(p.text) <= 300 else p.text[:300] + "…"
        print(f"[{n}] score {p.score:.3f}  {p.title}  ({p.source}) {p.url}\n    {text}\n")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from .assistant import Partial
    from .runtime import Runtime
    from .types import Message

    runtime = Runtime(_config(args))
    assistant = runtime.assistant()
    print(f"{assistant.backend.info().line()}\nType a question (empty line or Ctrl-D to quit).")
    history: list[Message] = []
    questions = [args.question] if args.question else None
    images = [args.image] if args.image else []  # shown with the first question only
    while True:
        if questions is not None:
            if not questions:
                break
            question = questions.pop()
            print(f"> {question}")
        else:
            try:
                question = input("> ").strip()
            except EOFError:
                break
            if not question:
                break
        shown = 0
        try:
            for item in assistant.stream(question, history, rag=not args.no_rag, images=images):
                if isinstance(item, Partial):
                    print(item.text[shown:], end="", flush=True)
                    shown = len(item.text)
                else:
                    print("\n\n" + item.text if shown else item.text)
                    for n, p in enumerate(item.passages, 1):
                        mark = "*" if n in item.cited else " "
                        print(f" {mark}[{n}] {p.title} ({p.source}) {p.url}")
                    if "images_ignored" in item.flags:
                        print("(This model reads text only; the image was not used.)")
                    history += [{"role": "user", "content": question}, {"role": "assistant", "content": item.text}]
                    images = []
        except MedGemmaError as exc:
            print(f"\nError: {exc}", file=sys.stderr)
    runtime.close()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .eval.plots import headline_rows
    from .backends.base import StopSignal
    from .eval.runner import RunSpec, run_task
    from .eval.tasks import TASKS, load_task
    from .runtime import Runtime

    if args.list:
        for name, task in TASKS.items():
            print(f"{name:22} {task.kind:16} {task.description}")
        return 0
    if not args.task:
        raise InputError("Name a task with --task (see --list).")
    cfg = _config(args)
    spec = RunSpec(task=args.task, rag=args.rag == "on", k=cfg.retrieval.k, limit=args.limit,
                   seed=args.seed, max_new_tokens=args.max_new_tokens, score_options=not args.generate,
                   data_dir=str(args.data or ""))
    items = load_task(args.task, Path(args.data) if args.data else None, limit=args.limit, seed=args.seed)
    runtime = Runtime(cfg)
    assistant = runtime.assistant()
    print(f"{args.task}: {len(items)} items on {assistant.backend.info().line()}, RAG {args.rag}", flush=True)
    bar = tqdm(total=len(items), unit="item")
    stop = StopSignal()

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    def on_sigint(signum: int, frame: Any) -> None:
        if stop.is_set:
            raise KeyboardInterrupt
        stop.set()
        bar.write("Stopping after this item (the run resumes from here); Ctrl-C again to abort now.")

    # The first Ctrl-C (or the Evaluation tab's Stop) finishes the item in hand and writes the metrics so far.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        result = run_task(assistant, spec, items, Path(args.out) if args.out else cfg.runs_dir,
                          fresh=args.fresh, progress=progress, stop=stop)
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        runtime.close()
    for name, value, interval in headline_rows(result.metrics):
        print(f"  {name:32} {value}  {interval}")
    print(f"Run folder: {result.folder}")
    if not result.finished:
        print(f"Stopped after {result.metrics['n']} of {result.metrics['of']} items; run the same command again "
              "to resume.", file=sys.stderr)
        return 1
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from . import lineage

    cfg = AppConfig.from_env()
    subject = resolve_subject(args.target, cfg)
    record = lineage.build(subject, cfg.runs_dir, cfg.exports_dir, cfg.adapters_dir)
    print(f"Lineage of the {record['subject']['kind']} {subject}:")
    for line in lineage.lines(record):
        print(line)
    print(f"Written to {lineage.write(record, Path(args.out) if args.out else subject)}")
    return 0


def resolve_subject(target: str, cfg: AppConfig) -> Path:
    """An adapter or export folder from a path, an adapter name or an export name (adapters first)."""
    path = Path(target).expanduser()
    if path.is_dir():
        return path
    for folder in (cfg.adapters_dir / target, cfg.exports_dir / target):
        if "/" not in target and folder.is_dir():
            return folder
    raise InputError(f"{target!r} is neither a folder nor an adapter or export name; adapters live in "
                     f"{cfg.adapters_dir}, exports in {cfg.exports_dir}.")


def cmd_serve(args: argparse.Namespace) -> int:
    from .runtime import Runtime
    from .ui.server import serve

    cfg = _config(args)
    cfg = replace(cfg, host=args.host or cfg.host, port=args.port or cfg.port)
    if args.public:
        cfg = replace(cfg, access=replace(cfg.access, public=True))
    serve(Runtime(cfg))
    return 0


def _add_retrieval(p: argparse.ArgumentParser) -> None:
    h = field_help(RetrievalConfig)
    p.add_argument("--index", help=h["index"])
    p.add_argument("--k", type=int, help=h["k"])
    p.add_argument("--mode", choices=["hybrid", "dense"], help=h["mode"])


def _add_backend(p: argparse.ArgumentParser) -> None:
    h = field_help(BackendConfig)
    p.add_argument("--backend", choices=list(BACKENDS), help=h["backend"])
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help=h["device"])
    p.add_argument("--quantization", choices=["none", "4bit", "8bit"], help=h["quantization"])
    p.add_argument("--base-url", dest="base_url", help=h["base_url"])
    p.add_argument("--api-model", dest="api_model", help=h["api_model"])
    p.add_argument("--model", help=h["model"])
    p.add_argument("--adapter", help=h["adapter"])
    p.add_argument("--n-ctx", dest="n_ctx", type=int, help=h["n_ctx"])
    p.add_argument("--threads", type=int, help=h["threads"])
    p.add_argument("--prompt-style", dest="prompt_style", choices=["auto", *STYLES], help=h["prompt_style"])


def parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    ap = argparse.ArgumentParser(prog="python -m medgemma", description="MedGemma Studio: cited medical QA.")
    sub = ap.add_subparsers(dest="command", required=True)
    h = field_help(RetrievalConfig)

    p = sub.add_parser("ingest", help="Build an index from txt, md, json, jsonl(.gz), csv and pdf files.")
    p.add_argument("paths", nargs="+", help="Files or folders to ingest.")
    p.add_argument("--index", required=True, help=h["index"])
    p.add_argument("--chunk-size", type=int, default=RetrievalConfig.chunk_size, help=h["chunk_size"])
    p.add_argument("--overlap", type=int, default=RetrievalConfig.chunk_overlap, help=h["chunk_overlap"])
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="Print the passages an index returns for a question.")
    p.add_argument("question")
    p.add_argument("--min-score", type=float, default=0.0, help=h["min_score"])
    _add_retrieval(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("chat", help="Talk to the assistant in the terminal.")
    p.add_argument("question", nargs="?", help="Ask one question and exit.")
    p.add_argument("--no-rag", action="store_true", help="Answer without retrieved sources.")
    p.add_argument("--image", help="An image file shown with the first question (multimodal models only).")
    _add_retrieval(p)
    _add_backend(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("eval", help="Evaluate a configuration on a task; writes a run folder under runs/.")
    p.add_argument("--task", help="Task name (see --list).")
    p.add_argument("--list", action="store_true", help="List the tasks and exit.")
    p.add_argument("--rag", choices=["on", "off"], default="on", help="Answer from retrieved passages or not.")
    p.add_argument("--limit", type=int, help="Evaluate a fixed random sample of this many items.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the sample (same seed, same items).")
    p.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=128,
                   help="Most tokens per generated answer.")
    p.add_argument("--generate", action="store_true",
                   help="Multiple choice: parse a generated answer instead of scoring each option.")
    p.add_argument("--data", help="Folder of the public data sets (default ../shared/data or MEDGEMMA_DATA).")
    p.add_argument("--out", help="Folder that holds the run folders (default runs/, or MEDGEMMA_RUNS_DIR).")
    p.add_argument("--fresh", action="store_true", help="Start the run over instead of resuming it.")
    _add_retrieval(p)
    _add_backend(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="Run the web app (full app at /, iframe layout at /embed/, API at /v1).")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--public", action="store_true",
                   help="Public mode: admin features need MEDGEMMA_ADMIN_TOKEN; per-visitor rate limits.")
    _add_retrieval(p)
    _add_backend(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("lineage", help="Print and write the lineage of an adapter or an export: data, base model, "
                                       "config, evaluations, exports and the git commit at each step.")
    p.add_argument("target", metavar="ADAPTER_OR_EXPORT", help="An adapter name, or an adapter or export folder.")
    p.add_argument("--out", help="Folder to write lineage.json to (default: the adapter's or export's own).")
    p.set_defaults(func=cmd_lineage)

    from .train.cli import add_train_parser  # argparse only; the trainer loads when the command runs

    add_train_parser(sub)
    from .export.cli import add_export_parser  # argparse only; torch, gguf and llama.cpp load when it runs

    add_export_parser(sub)
    from .space import add_space_parser  # argparse only; the embedder loads when `space prepare` runs

    add_space_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except MedGemmaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
