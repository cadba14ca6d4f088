"""A stand-in for `python -m medgemma`: the real CLI, with the merge (the heavy step) replaced.

`python tests/export_child.py SECONDS export --adapter ...` runs the export command as a user would, except
that the base model is a stand-in folder and merging writes one small file, through the same atomic folder
swap, after SECONDS: the export jobs' tests start it as the Export tab's child. No model is loaded.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # the project as `python -m` finds it

import medgemma.export.cli as cli  # noqa: E402
import medgemma.export.merge as merge  # noqa: E402
from medgemma.__main__ import main  # noqa: E402
from medgemma.files import atomic_folder  # noqa: E402

SECONDS = float(sys.argv.pop(1))


def slow_merge(base: Path, adapter: Path, out: Path, dtype: str = "float16") -> Path:
    with atomic_folder(out) as tmp:
        (tmp / "config.json").write_text("{}", encoding="utf-8")
        time.sleep(SECONDS)  # a stop lands here, inside the swap
        (tmp / "model.safetensors").write_bytes(b"weights")
    return out


def same_logits(*_: Any) -> dict[str, Any]:
    return {"max_abs_logit_diff": 0.0, "tolerance": 1e-3, "passed": True}


cli.resolve_base = lambda *_: Path(tempfile.mkdtemp())
merge.merge_adapter = slow_merge
merge.check_merge = same_logits
sys.exit(main(sys.argv[1:]))
