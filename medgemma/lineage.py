"""Lineage: one record joining what made a model, from the records each step already writes.

`provenance.json` (training: data files with hashes and licenses, recipe, base model hash, config, git commit),
evaluation run folders (`config.json` and `metrics.json`: which adapter, the figures, the git commit) and
`export_report.json` (formats, verification checks, the adapter's hash and the git commit at export). The
record is what `python -m medgemma lineage` prints and writes as `lineage.json`, and what the model cards and
the Space build include.

A link that cannot be made is an InputError saying which and what to do: no provenance, or an export whose
adapter was retrained since (its recorded hash is not the adapter's now). Runs are matched by adapter name and
kept only when they started after the adapter was trained, so an earlier training's figures are never shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import atomic_write_text, publish, read_json, sha256_file
from .train.licenses import DATA_LICENSES

MAX_RECORD_BYTES = 8 * 1024 * 1024  # provenance, reports and metrics are small; a bigger file is not one of ours
ADAPTER_WEIGHTS = "adapter_model.safetensors"
FILE_NAME = "lineage.json"


def adapter_hash(folder: Path) -> str:
    """sha256 of an adapter's weights file, the identity exports and lineage check."""
    weights = Path(folder) / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise InputError(f"{folder} has no {ADAPTER_WEIGHTS}: it is not a trained adapter.")
    return sha256_file(weights)


def from_provenance(p: dict[str, Any]) -> dict[str, Any]:
    """The training part of a lineage record, from a provenance dict alone (no files are read)."""
    data = p.get("data") or {}
    base = p.get("base_model") or {}
    recipe = data.get("recipe") or None
    files = [{"path": f.get("path"), "sha256": f.get("sha256"), "examples": f.get("examples"),
              "license": f.get("license") or _license(str(f.get("path", "")))} for f in data.get("files") or []]
    stats = p.get("dataset_stats") or {}
    sources = (stats.get("sources") or {}).get("train") if isinstance(stats.get("sources"), dict) else None
    return {
        "adapter": p.get("adapter"),
        "base_model": {"id": base.get("id"), "sha256": base.get("sha256") or None, "license": base.get("license")},
        "data": {"files": files,
                 "recipe": ({"name": recipe.get("name"), "args": recipe.get("args"),
                             "license": recipe.get("license") or _license(str(recipe.get("name", "")))}
                            if recipe else None),
                 "sources": [{"name": name, "examples": n, "license": _license(str(name)) or None}
                             for name, n in (sources or {}).items()],
                 "examples": data.get("examples"), "leakage": data.get("leakage")},
        "training_config": p.get("config") or {},
        "training": {"started": p.get("started"), "finished": p.get("finished"), "git_commit": p.get("git_commit") or None,
                     "results": p.get("results") or {}},
    }


def build(subject: Path, runs_dir: Path, exports_dir: Path | None, adapters_dir: Path | None = None) -> dict[str, Any]:
    """The lineage record of an adapter folder or an export folder (one holding `export_report.json`);
    `exports_dir` None leaves exports out (an export's own card, written before its report)."""
    subject = Path(subject)
    if (subject / "export_report.json").is_file():
        report = _read(subject / "export_report.json", "export report")
        adapter = Path(str(report.get("adapter") or ""))
        if not (adapter / "provenance.json").is_file() and adapters_dir is not None:
            adapter = Path(adapters_dir) / adapter.name  # the export was made on another machine or checkout
        if not (adapter / "provenance.json").is_file():
            raise InputError(f"The export {subject.name} was made from the adapter {report.get('adapter')!r}, which "
                             "has no provenance.json here: restore that adapter folder to trace it.")
        export = _export(subject, report, adapter_hash(adapter), strict=True)
        record = build(adapter, runs_dir, exports_dir)
        return {**record, "subject": {"kind": "export", "path": str(subject)}, "exports": [export]}
    if not (subject / "provenance.json").is_file():
        raise InputError(f"{subject} has neither provenance.json (an adapter) nor export_report.json (an export); "
                         "give an adapter name, an adapter folder or an export folder.")
    provenance = _read(subject / "provenance.json", "provenance")
    current = adapter_hash(subject)
    record = {"format": 1, "subject": {"kind": "adapter", "path": str(subject)}, **from_provenance(provenance)}
    record["adapter_sha256"] = current
    name = str(provenance.get("adapter") or subject.name)
    record["evaluations"] = _runs(Path(runs_dir), name, str(provenance.get("finished") or ""))
    exports: list[dict[str, Any]] = []
    stale: list[str] = []
    folder = Path(exports_dir) / name if exports_dir is not None else None
    if folder is not None and (folder / "export_report.json").is_file():
        report = _read(folder / "export_report.json", "export report")
        if report.get("adapter_sha256") == current:
            exports.append(_export(folder, report, current, strict=False))
        else:
            stale.append(str(folder))
    record["exports"], record["stale_exports"] = exports, stale
    return record


def write(record: dict[str, Any], folder: Path) -> Path:
    """`record` as `folder/lineage.json`, written atomically."""
    return publish(atomic_write_text(Path(folder) / FILE_NAME, json.dumps(record, indent=2, default=str) + "\n"))


def lines(record: dict[str, Any]) -> list[str]:
    """The record as Markdown lines, for a model card and the terminal."""
    base = record.get("base_model") or {}
    data = record.get("data") or {}
    train = record.get("training") or {}
    out = [f"- Base model: {base.get('id') or '–'}, weights sha256 `{base.get('sha256') or 'not recorded'}`, "
           f"{base.get('license') or 'license not recorded'}."]
    recipe = data.get("recipe")
    if recipe:
        out.append(f"- Recipe `{recipe.get('name')}` `{json.dumps(recipe.get('args') or {}, sort_keys=True)}`; "
                   f"license: {recipe.get('license') or 'not recorded'}.")
    for f in data.get("files") or []:
        out.append(f"- Data file `{f.get('path')}`: sha256 `{f.get('sha256') or '–'}`, {f.get('examples', '?')} "
                   f"examples, license {f.get('license') or 'not recorded'}.")
    for s in data.get("sources") or []:
        out.append(f"- Source {s.get('name') or 'unspecified'}: {s.get('examples')} examples, license "
                   f"{s.get('license') or 'not recorded'}.")
    cfg = record.get("training_config") or {}
    keys = ("recipe", "method", "learning_rate", "epochs", "max_steps", "lora_r", "seed")
    shown = ", ".join(f"{k} {cfg[k]}" for k in keys if k in cfg)
    out.append(f"- Trained {train.get('started') or '?'} → {train.get('finished') or '?'} at git commit "
               f"`{train.get('git_commit') or 'not recorded'}`" + (f"; {shown}" if shown else "") + ".")
    if record.get("adapter_sha256"):
        out.append(f"- Adapter weights sha256 `{record['adapter_sha256']}`.")
    runs = record.get("evaluations") or []
    for r in runs:
        figures = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["figures"].items())
        out.append(f"- Evaluation `{r['run']}` ({r.get('items', '?')} items, git commit "
                   f"`{r.get('git_commit') or 'not recorded'}`): {figures or 'no figures'}.")
    if not runs:
        out.append("- Evaluation: no run of this adapter is recorded.")
    for e in record.get("exports") or []:
        checks = ", ".join(f"{k} {'passed' if v.get('passed') else 'FAILED'}" for k, v in e["checks"].items())
        out.append(f"- Export `{Path(e['folder']).name}` ({', '.join(e.get('formats') or [])}) at git commit "
                   f"`{e.get('git_commit') or 'not recorded'}`: {checks or 'no checks run'}.")
    for s in record.get("stale_exports") or []:
        out.append(f"- Export `{Path(s).name}` was made from an earlier training of this adapter: export again.")
    return out


def _runs(runs_dir: Path, adapter: str, trained: str) -> list[dict[str, Any]]:
    out = []
    if not runs_dir.is_dir():
        return out
    for folder in sorted(p for p in runs_dir.iterdir() if (p / "metrics.json").is_file()):
        config = _read(folder / "config.json", "run config") if (folder / "config.json").is_file() else {}
        used = str((config.get("backend") or {}).get("adapter") or "")
        if not used or Path(used).name != adapter:
            continue
        if trained and str(config.get("started") or "") < trained:
            continue  # a run of an earlier training of this adapter name
        metrics = _read(folder / "metrics.json", "metrics")
        versions = config.get("versions") or metrics.get("versions") or {}
        figures = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        out.append({"run": folder.name, "task": (config.get("spec") or {}).get("task"), "items": config.get("items"),
                    "started": config.get("started"),
                    "git_commit": versions.get("git_commit") or config.get("git_commit") or None,
                    "figures": figures})
    return out


def _export(folder: Path, report: dict[str, Any], current: str, strict: bool) -> dict[str, Any]:
    recorded = report.get("adapter_sha256")
    if strict and not recorded:
        raise InputError(f"The export {folder.name} does not record its adapter's hash (an export from an older "
                         "version of the studio): export again to link it to its adapter.")
    if strict and recorded != current:
        raise InputError(f"The export {folder.name} was made from an earlier training of its adapter (adapter "
                         f"sha256 {str(recorded)[:12]}… then, {current[:12]}… now): export it again.")
    checks = {name: {k: c.get(k) for k in ("passed", "top1_agreement", "max_abs_logit_diff") if k in c}
              for name, c in (report.get("checks") or {}).items() if isinstance(c, dict)}
    return {"folder": str(folder), "formats": report.get("formats"), "git_commit": report.get("git_commit") or None,
            "adapter_sha256": recorded, "checks": checks}


def _read(path: Path, what: str) -> dict[str, Any]:
    value = read_json(path, MAX_RECORD_BYTES, what)
    if not isinstance(value, dict):
        raise InputError(f"{path} is not a JSON object; it is not a {what} this studio wrote.")
    return value


def _license(name: str) -> str:
    low = name.lower()
    for key, (label, lic, url) in DATA_LICENSES.items():
        if key in low:
            return f"{label}: {lic} ({url})"
    return ""
