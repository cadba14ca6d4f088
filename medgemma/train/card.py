"""The adapter card: a README.md written beside every trained adapter, from its provenance.

It says what the adapter is for and not for, what it was trained from and under which licenses, with which
settings, and how it did. Everything comes from the provenance dict the trainer writes (`provenance.json`), so
the card can be rebuilt at any time, e.g. after an evaluation adds an "evaluation" entry.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .. import lineage
from ..errors import InputError
from .licenses import DATA_LICENSES

GEMMA_TERMS = "Gemma Terms of Use, https://ai.google.dev/gemma/terms (and the Gemma Prohibited Use Policy)"
CONFIG_ROWS = ("lora_r", "lora_alpha", "lora_dropout", "target_modules", "quantization", "max_seq_length",
               "learning_rate", "epochs", "max_steps", "per_device_batch_size", "gradient_accumulation_steps",
               "warmup_ratio", "lr_scheduler", "packing", "prompt_style", "val_fraction", "seed", "target_loss")


# The fixed sections every card says (intended use, out of scope, known limits), kept with the governance docs.
TEMPLATE = Path(__file__).resolve().parents[2] / "docs" / "governance" / "model_card_template.md"


def template_section(title: str, template: Path | None = None) -> list[str]:
    """The lines of section `## title` of the model card template, or InputError naming what is missing."""
    path = template or TEMPLATE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"The model card template {path} cannot be read ({exc.strerror}); restore "
                         "docs/governance/model_card_template.md.") from None
    found = re.search(rf"^## {re.escape(title)}[ \t]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not found or not found.group(1).strip():
        raise InputError(f"The model card template {path} has no '## {title}' section.")
    return found.group(1).strip().splitlines()


def use_sections() -> list[str]:
    """The intended-use and out-of-scope sections every card carries, from the template."""
    return ["## Intended use", "", *template_section("Intended use"), "",
            "## Out of scope: must not be used for", "", *template_section("Out of scope")]


def fmt(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "–"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True) if value else "–"
    return str(value)


def cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def dataset_lines(data: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    """One line per training source, with its license when it is a known public data set."""
    lines = []
    recipe = data.get("recipe") or None
    if recipe:
        lines.append(f"- Recipe `{recipe.get('name')}` with settings `{fmt(recipe.get('args') or {})}`."
                     + _license_line(str(recipe.get("name", "")), recipe.get("license", "")))
    for f in data.get("files") or []:
        sha = str(f.get("sha256", ""))[:12]
        lines.append(f"- File `{f.get('path')}` ({f.get('examples', '?')} examples, sha256 {sha}…)."
                     + _license_line(str(f.get("path", "")), f.get("license", "")))
    if not lines:
        lines.append("- Examples passed in by the caller (no files or recipe recorded).")
    # Where the examples say they come from (meta["source"]), with the license of the known data sets.
    sources = (stats.get("sources") or {}).get("train") if isinstance(stats.get("sources"), dict) else None
    if isinstance(sources, dict) and sources:
        parts = [f"{name or 'unspecified'} ({count})" for name, count in sources.items()]
        lines.append("- Sources of the training examples: " + ", ".join(parts) + ".")
        for name in sources:
            for key, (label, lic, url) in DATA_LICENSES.items():
                if key in str(name).lower():
                    lines.append(f"  - {label}: license {lic}, {url}.")
    return lines


def _license_line(name: str, given: str) -> str:
    low = name.lower()
    for key, (label, lic, url) in DATA_LICENSES.items():
        if key in low:
            return f" Data: {label}, license {lic} ({url})."
    return f" License: {given}." if given else " License: not recorded; check the source's terms."


def adapter_card(provenance: dict[str, Any]) -> str:
    """Markdown for the adapter's README.md."""
    p = provenance
    name = p.get("adapter", "adapter")
    base = p.get("base_model") or {}
    data = p.get("data") or {}
    cfg = p.get("config") or {}
    res = p.get("results") or {}
    dev = p.get("device") or {}
    vers = p.get("versions") or {}
    examples = data.get("examples") or {}
    leak = data.get("leakage") or {}
    out: list[str] = [
        f"# {name}: a LoRA adapter for {base.get('id', 'a Gemma model')}",
        "",
        "A low-rank adapter (LoRA) trained with MedGemma Studio. Load it with the hf backend "
        f"(`--backend hf --adapter {name}`) on top of the base model below.",
        "",
        *use_sections(),
        "",
        "## Base model",
        "",
        f"- Model: {base.get('id', '–')} (`{base.get('path', '–')}`)",
        f"- Weights sha256 (safetensors): `{base.get('sha256') or 'not recorded'}`",
        f"- License: {GEMMA_TERMS}. The adapter is a derivative of Gemma and is distributed under the same terms.",
        "",
        "## Training data",
        "",
        *dataset_lines(data, p.get("dataset_stats") or {}),
        f"- Examples: {examples.get('train', '?')} for training, {examples.get('val', '?')} held out for "
        "validation loss.",
        ("- Overlap with evaluation items: "
         + (f"{leak.get('matches', 0)} found" + (" (allowed by the user: evaluation results overstate the model)"
                                                  if leak.get("matches") and leak.get("allowed") else "")
            if leak.get("checked") else "not checked") + "."),
        "",
        "## Training configuration",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | {cell(cfg.get(k))} |" for k in CONFIG_ROWS if k in cfg],
        f"| device | {cell(dev.get('device'))} ({cell(dev.get('precision'))}) |",
        f"| trainable parameters | {cell(p.get('trainable_parameters'))} of {cell(p.get('total_parameters'))} |",
        "",
        "## Results",
        "",
        f"- Final training loss: {fmt(res.get('train_loss'))}",
        f"- Final validation loss: {fmt(res.get('eval_loss'))}",
        f"- Steps: {fmt(res.get('steps'))}, epochs: {fmt(res.get('epochs'))}, tokens seen: "
        f"{fmt(res.get('tokens_seen'))}" + (f", stopped early ({res['stopped_early']})"
                                              if res.get("stopped_early") else ""),
    ]
    evaluation = p.get("evaluation")
    if isinstance(evaluation, dict) and evaluation:
        out += ["", "### Evaluation", "", "| metric | value |", "|---|---|"]
        for key, value in evaluation.items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    out.append(f"| {cell(key)} / {cell(sub)} | {cell(v)} |")
            else:
                out.append(f"| {cell(key)} | {cell(value)} |")
    else:
        out += ["", "No evaluation results are recorded yet: run `python -m medgemma eval` with this adapter "
                "and compare with the base model before trusting it."]
    out += [
        "",
        "## Known limits",
        "",
        *template_section("Known limits"),
        "- A lower loss is not a better doctor: check evaluation results, including refusals of harmful "
        "requests, which fine-tuning can weaken.",
        "",
        "## Lineage",
        "",
        *lineage.lines(lineage.from_provenance(p)),
        "- Libraries: " + ", ".join(f"{k} {v}" for k, v in vers.items()
                                    if k in ("torch", "transformers", "peft", "trl", "accelerate", "datasets")),
        "- Full details: `provenance.json`, `dataset_stats.json` and `train_log.jsonl` beside this file.",
        "",
    ]
    return "\n".join(out)
