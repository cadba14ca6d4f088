"""A Hugging Face Space (Docker SDK) for the studio: the folder to push, and what the image builds ahead.

`build_space` assembles a folder that can be pushed to a Space as it is: app.py, the medgemma package, the
shipped adapter without its checkpoints but with its lineage (`lineage.json`), the Space's README and Dockerfile (from `space/`) and a
requirements.txt derived from the repository's, with the same pins. `prepare` runs inside the image build.
Nothing here builds or runs the Docker image, and nothing talks to the Hub.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

from .config import ROOT, AppConfig
from . import lineage
from .errors import InputError
from .files import atomic_folder, inventory

MANIFEST = ".space-build.json"
ADAPTERS = ("grounded-270m",)
# Folders of the repository a build must never be written into: the sources it copies from and the data folders.
PROTECTED = ("medgemma", "adapters", "space", "tests", "scripts", "bench", "docs", ".git", ".venv", "cache",
             "indices", "runs", "exports", "uploads", ".ci")
# Training leftovers under an adapter folder: resumable checkpoints (hundreds of MB), job state, copied data.
ADAPTER_SKIP = ("checkpoints", "data", "job.json", "train_stdout.log")
# Packages the app never imports: the test runner and the browser driver of the README screenshot.
DEV_ONLY = ("pytest", "playwright")
# Gradio's login button (Hugging Face OAuth, `hf_oauth: true`) needs this extra.
EXTRAS = {"gradio": "oauth"}
# The GPU variant: 4/8-bit loading of MedGemma through transformers.
GPU_PACKAGES = ("bitsandbytes==0.50.2",)
GPU_HARDWARE = "a10g-small"  # 24 GB and bf16; a t4-small (16 GB, fp16 only) needs MEDGEMMA_QUANTIZATION=4bit
GPU_MODEL = "google/medgemma-4b-it"
CPU_TORCH_INDEX = "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu"
GPU_TORCH_INDEX = "ARG TORCH_INDEX=https://pypi.org/simple"
GPU_ENV = f"ENV MEDGEMMA_BACKEND=hf MEDGEMMA_MODEL={GPU_MODEL} MEDGEMMA_DEVICE=cuda"
_REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)$")


def build_space(out: Path, root: Path = ROOT, *, gpu: bool = False, force: bool = False) -> list[Path]:
    """Write the Space folder `out` from the checkout at `root` and return the files written (paths in `out`).

    The folder is built beside `out` and swapped in whole, so a failed build leaves a previous one intact.
    An existing `out` must be empty or a previous build (it holds `.space-build.json`) unless `force`.
    `gpu` writes the MedGemma 4B variant: CUDA torch, hf backend defaults, bitsandbytes, a GPU suggestion.
    """
    root, out = Path(root).resolve(), Path(out).expanduser().resolve()
    _check_target(out, root, force)
    if not (root / "app.py").is_file():
        raise InputError(f"{root} has no app.py; build the Space from a checkout of the studio.")
    readme, dockerfile = _space_texts(root, gpu)
    with atomic_folder(out) as tmp:
        (tmp / "README.md").write_text(readme, encoding="utf-8")
        (tmp / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        (tmp / "requirements.txt").write_text(space_requirements(root / "requirements.txt", gpu=gpu),
                                              encoding="utf-8")
        for rel in ("app.py", "space/.dockerignore", "LICENSE"):  # no LICENSE file: the README's metadata names it
            if (root / rel).is_file():
                _copy_file(root / rel, tmp / Path(rel).name)
        # The governance texts: the cards an admin's training or export writes there read the template.
        _copy_tree(root / "docs" / "governance", tmp / "docs" / "governance", skip=())
        _copy_tree(root / "medgemma", tmp / "medgemma", skip=())
        for name in ADAPTERS:
            folder = root / "adapters" / name
            if not (folder / "adapter_config.json").is_file():
                raise InputError(f"The adapter {name!r} is missing from {folder}; the Space ships it. "
                                 "Train it or restore it from git first.")
            _copy_tree(folder, tmp / "adapters" / name, skip=ADAPTER_SKIP)
            # What the shipped adapter was made from, evaluated on and exported as (fails if a link is missing).
            lineage.write(lineage.build(folder, root / "runs", root / "exports"), tmp / "adapters" / name)
        files = inventory(tmp, hidden=True)  # .dockerignore and .gitattributes are part of a Space
        manifest = {"format": 1, "variant": "gpu" if gpu else "cpu", "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    **_git(root), "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    written = [out / f["path"] for f in files] + [out / MANIFEST]
    _print_summary(out, files)
    return written


def space_requirements(requirements: Path, *, gpu: bool = False) -> str:
    """The Space's requirements.txt: the repository's pins, less test-only packages, plus Gradio's OAuth extra."""
    lines = ["# Derived from the repository's requirements.txt by `python -m medgemma space build`; edit that file.",
             "# torch is installed first by the Dockerfile, from the index its TORCH_INDEX names."]
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _REQ.match(line)
        if match is None:
            raise InputError(f"{requirements}: {raw!r} is not a 'name==version' pin; the Space needs exact pins.")
        name, extra, version = match.groups()
        if name.lower() in DEV_ONLY:
            continue
        extra = extra or (f"[{EXTRAS[name.lower()]}]" if name.lower() in EXTRAS else "")
        lines.append(f"{name}{extra}=={version}")
    if gpu:
        lines += ["# GPU variant: 4/8-bit loading (MEDGEMMA_QUANTIZATION)", *GPU_PACKAGES]
    return "\n".join(lines) + "\n"


def prepare(cfg: AppConfig | None = None) -> str:
    """Build what a first visitor would otherwise wait for: the default index and the assembled embedded GGUF.

    Run by the Dockerfile at image build time. Loads the embedder, not the language model.
    """
    from .assets import default_gguf
    from .rag.indexes import open_index

    cfg = cfg or AppConfig.from_env()
    retriever = open_index("default", cfg, progress=True)
    gguf = default_gguf(cfg.cache_dir)
    return (f"Index 'default': {len(retriever)} passages in {cfg.indices_dir / 'default'}; "
            f"embedded model: {gguf} ({gguf.stat().st_size / 1e6:.0f} MB).")


def _check_target(out: Path, root: Path, force: bool) -> None:
    if out == root or out in root.parents:
        raise InputError(f"{out} is the repository or holds it; choose a new folder for the Space, "
                         "e.g. ../medgemma-space.")
    if root in out.parents:
        top = out.relative_to(root).parts[0]
        if top in PROTECTED or (root / top).is_file():
            raise InputError(f"{out} is inside the repository's {top!r}; choose a folder outside the repository "
                             "or a new top-level one (e.g. space-build/).")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not force and not _is_previous_build(out):
        raise InputError(f"{out} is not empty and is not a previous Space build; choose another folder, or pass "
                         "--force to replace it.")


def _is_previous_build(folder: Path) -> bool:
    try:
        return isinstance(json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("files"), list)
    except (OSError, ValueError, AttributeError):
        return False


def _space_texts(root: Path, gpu: bool) -> tuple[str, str]:
    readme = (root / "space" / "README.md").read_text(encoding="utf-8")
    dockerfile = (root / "space" / "Dockerfile").read_text(encoding="utf-8")
    if not readme.startswith("---\n") or "\n---\n" not in readme[4:]:
        raise InputError("space/README.md must start with the Space's YAML metadata between '---' lines.")
    if gpu:
        end = readme.index("\n---\n", 4)
        readme = (readme[:end] + f"\nsuggested_hardware: {GPU_HARDWARE}\nmodels:\n  - {GPU_MODEL}" + readme[end:])
        dockerfile = _replace_once(dockerfile, CPU_TORCH_INDEX, GPU_TORCH_INDEX)
        dockerfile = _replace_once(dockerfile, "# " + GPU_ENV, GPU_ENV)
    return readme, dockerfile


def _replace_once(text: str, old: str, new: str) -> str:
    # The GPU variant edits known lines of space/Dockerfile; if they change, fail here rather than ship a CPU image.
    if text.count(old) != 1:
        raise InputError(f"space/Dockerfile should hold the line {old!r} exactly once (the GPU variant edits it).")
    return text.replace(old, new)


def _skipped(path: Path) -> bool:
    # Caches and hidden files (unfinished atomic writes, editor files) are never shipped.
    return path.name.startswith(".") or path.name == "__pycache__" or path.suffix in (".pyc", ".pyo", ".tmp")


def _copy_tree(src: Path, dst: Path, skip: Iterable[str]) -> None:
    skip = set(skip)
    for path in sorted(src.iterdir()):
        if _skipped(path) or path.name in skip or path.is_symlink():
            continue
        if path.is_dir():
            _copy_tree(path, dst / path.name, skip=())
        elif path.is_file():
            _copy_file(path, dst / path.name)


def _copy_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _git(root: Path) -> dict[str, Any]:
    """The commit the build came from, and the shipped paths that differ from it ('' outside a checkout)."""
    def run(*args: str) -> str:
        try:
            # --no-optional-locks: a read-only look that never takes the index lock a concurrent commit needs.
            done = subprocess.run(["git", "--no-optional-locks", *args], cwd=root, capture_output=True, text=True,
                                  timeout=10)
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout if done.returncode == 0 else ""

    commit = run("rev-parse", "HEAD").strip()
    changed = run("status", "--porcelain", "--", "app.py", "requirements.txt", "medgemma", "space",
                  *(f"adapters/{a}" for a in ADAPTERS)) if commit else ""
    return {"git_commit": commit, "uncommitted": [line[3:] for line in changed.splitlines() if line[3:]]}


def _print_summary(out: Path, files: list[dict[str, Any]]) -> None:
    sizes: dict[str, int] = {}
    for f in files:
        parts = f["path"].split("/")
        top = "/".join(parts[:2]) if parts[0] == "adapters" and len(parts) > 2 else parts[0]
        sizes[top] = sizes.get(top, 0) + f["bytes"]
    total = sum(sizes.values())
    print(f"Space folder {out}: {len(files)} files, {total / 1e6:.1f} MB")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {size / 1e6:8.2f} MB  {name}")


def cmd_space_build(args: argparse.Namespace) -> int:
    build_space(Path(args.out), gpu=args.gpu, force=args.force)
    print("Push it as it is, e.g.: huggingface-cli upload --repo-type space OWNER/NAME "
          f"{args.out} .")
    return 0


def cmd_space_prepare(args: argparse.Namespace) -> int:
    print(prepare())
    return 0


def add_space_parser(sub: Any) -> None:
    """Register `python -m medgemma space build OUT [--gpu] [--force]` and `space prepare`."""
    p = sub.add_parser("space", help="Assemble a Hugging Face Space (Docker) from this checkout.")
    commands = p.add_subparsers(dest="space_command", required=True)
    b = commands.add_parser("build", help="Write a folder that can be pushed to a Docker Space as it is.")
    b.add_argument("out", help="The folder to write (outside the repository's source folders).")
    b.add_argument("--gpu", action="store_true",
                   help=f"The GPU variant: {GPU_MODEL} on CUDA through transformers, suggested {GPU_HARDWARE}.")
    b.add_argument("--force", action="store_true", help="Replace `out` even if it is not a previous Space build.")
    b.set_defaults(func=cmd_space_build)
    q = commands.add_parser("prepare", help="Build the default index and assemble the embedded model "
                                            "(the Dockerfile runs this so the first visitor does not wait).")
    q.set_defaults(func=cmd_space_prepare)
