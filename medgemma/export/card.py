"""The model card (README.md) of an exported adapter, merged model or GGUF, built from the adapter's provenance.

It shares the training-data lines, license table and formatting with the adapter card written at training
time (`medgemma.train.card`) and adds what an export needs on the Hub: YAML metadata, how to run each
format, the export checks, and an explicit note when no safety evaluation is recorded.
"""

from __future__ import annotations

from typing import Any

from ..lineage import from_provenance
from ..lineage import lines as lineage_lines
from ..train.card import GEMMA_TERMS, cell, dataset_lines, fmt, template_section, use_sections
from ..train.licenses import DATA_LICENSES

KINDS = ("adapter", "merged", "gguf")
SECTIONS = ("## Intended use", "## Out of scope: must not be used for", "## Base model and license",
            "## Training data and licenses", "## Evaluation", "## Known limits", "## How to use", "## Lineage")
SAFETY_WORDS = ("safety", "refusal", "refuse", "harm", "xstest", "medsafety", "injection", "bipia")
LABELS = {"adapter": "LoRA adapter", "merged": "merged transformers model", "gguf": "GGUF for llama.cpp"}
LIBRARY = {"adapter": "peft", "merged": "transformers", "gguf": "gguf"}


def _front_matter(p: dict[str, Any], kind: str) -> list[str]:
    base = (p.get("base_model") or {}).get("id") or "google/gemma-3-270m"
    base_id = base if "/" in str(base) and " " not in str(base) else "google/gemma-3-270m"
    return ["---", "license: gemma", f"library_name: {LIBRARY[kind]}", f"base_model: {base_id}",
            "pipeline_tag: text-generation", "language:", "- en", "tags:", "- medical", "- education",
            "- gemma3", *([f"- {kind}"] if kind != "merged" else []), "---", ""]


def _evaluation(evaluation: dict[str, Any] | None) -> list[str]:
    if not evaluation:
        return ["No evaluation results are recorded: run `python -m medgemma eval` on this model (accuracy, "
                "refusal of harmful requests, over-refusal of benign ones) and compare with the base model before "
                "relying on it.", "", "**Safety: no safety evaluation is recorded for this model.**"]
    rows = ["| metric | value |", "|---|---|"]
    for key, value in evaluation.items():
        if isinstance(value, dict):
            rows += [f"| {cell(key)} / {cell(sub)} | {cell(v)} |" for sub, v in value.items()]
        else:
            rows.append(f"| {cell(key)} | {cell(value)} |")
    flat = " ".join(r.lower() for r in rows)
    if any(w in flat for w in SAFETY_WORDS):
        rows += ["", "Safety figures are included above (refusal of harmful requests and over-refusal of benign "
                 "ones); fine-tuning can weaken refusals, so compare them with the base model's."]
    else:
        rows += ["", "**Safety: no safety evaluation is recorded for this model** (run the refusal and over-refusal "
                 "tasks of `python -m medgemma eval` before sharing it)."]
    return rows


def _checks(checks: dict[str, Any] | None) -> list[str]:
    if not checks:
        return []
    out = ["", "### Export checks", "", "Each exported file was compared with transformers on the same token ids:", "",
           "| check | top-1 agreement | max abs logit diff | passed |", "|---|---|---|---|"]
    for name, r in checks.items():
        if isinstance(r, dict):
            out.append(f"| {cell(name)} | {cell(r.get('top1_agreement'))} | {cell(r.get('max_abs_logit_diff'))} "
                       f"| {cell(r.get('passed'))} |")
    return out


def _usage(kind: str, name: str, base_id: str, files: dict[str, str]) -> list[str]:
    chat = ('prompt = "<start_of_turn>user\\nWhat are the warning signs of a stroke?<end_of_turn>\\n'
            '<start_of_turn>model\\n"')
    if kind == "adapter":
        return ["With transformers and PEFT (safetensors only):", "", "```python",
                "from peft import PeftModel", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                f'base = AutoModelForCausalLM.from_pretrained("{base_id}")',
                f'model = PeftModel.from_pretrained(base, "{name}")',
                f'tokenizer = AutoTokenizer.from_pretrained("{base_id}")', chat,
                "ids = tokenizer(prompt, return_tensors=\"pt\")",
                "print(tokenizer.decode(model.generate(**ids, max_new_tokens=128)[0]))", "```", "",
                f"In MedGemma Studio: `python -m medgemma chat --backend hf --adapter {name}`."]
    if kind == "merged":
        return ["With transformers (the adapter is already folded into the weights):", "", "```python",
                "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                f'model = AutoModelForCausalLM.from_pretrained("{name}")',
                f'tokenizer = AutoTokenizer.from_pretrained("{name}")',
                "messages = [{\"role\": \"user\", \"content\": \"What are the warning signs of a stroke?\"}]",
                "ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\", "
                "return_dict=True)",
                "print(tokenizer.decode(model.generate(**ids, max_new_tokens=128)[0]))", "```"]
    model_file = files.get("model", f"{name}-f16.gguf")
    lines = ["With llama.cpp (`llama-cli -m FILE.gguf`) or llama-cpp-python:", "", "```python",
             "from llama_cpp import Llama", ""]
    if files.get("lora"):
        lines += [f'llm = Llama(model_path="{files.get("lora_base", "gemma-3-270m-q4_k_m.gguf")}", '
                  f'lora_path="{files["lora"]}")  # the LoRA applies to any GGUF of the base model']
    else:
        lines += [f'llm = Llama(model_path="{model_file}", n_ctx=2048)']
    lines += [chat, 'print(llm(prompt, max_tokens=128, stop=["<end_of_turn>"])["choices"][0]["text"])', "```", "",
              "The chat template is embedded in the file (`tokenizer.chat_template`) and renders Gemma's turn "
              "format; `llm.create_chat_completion(messages=...)` uses it.",
              "In MedGemma Studio: `python -m medgemma chat --backend gguf --model FILE.gguf`."]
    return lines


def model_card(provenance: dict[str, Any], kind: str = "adapter", evaluation: dict[str, Any] | None = None,
               checks: dict[str, Any] | None = None, files: dict[str, str] | None = None,
               lineage: dict[str, Any] | None = None) -> str:
    """Markdown model card for an export of `kind` ("adapter", "merged" or "gguf").

    `evaluation` (else provenance["evaluation"]) fills the evaluation table; `checks` adds the export
    verification figures; `files` names the GGUF files for the usage snippet ({"model": …} or
    {"lora": …, "lora_base": …}). `lineage` (a `medgemma.lineage` record) adds the Lineage section; without
    it the section is built from the provenance alone.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    p = provenance or {}
    name = str(p.get("adapter") or "medgemma-adapter")
    base = p.get("base_model") or {}
    base_id = str(base.get("id") or "google/gemma-3-270m")
    data = p.get("data") or {}
    res = p.get("results") or {}
    vers = p.get("versions") or {}
    evaluation = evaluation if evaluation is not None else p.get("evaluation")
    what = {
        "adapter": f"A LoRA adapter for {base_id}: load it on top of the base model.",
        "merged": f"{base_id} with the LoRA adapter `{name}` merged into its weights: a plain transformers model.",
        "gguf": f"{base_id} fine-tuned with the LoRA adapter `{name}`, as GGUF files for llama.cpp (CPU inference).",
    }[kind]
    out: list[str] = [
        *_front_matter(p, kind),
        f"# {name}: {LABELS[kind]}",
        "",
        what + " Made with MedGemma Studio for medical **education** on small language models.",
        "",
        *use_sections(),
        "",
        "## Base model and license",
        "",
        f"- Base model: {base_id}" + (f" (`{base.get('path')}`)" if base.get("path") else ""),
        f"- License: {GEMMA_TERMS}.",
        "- Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms. This "
        f"{LABELS[kind]} is a Model Derivative of Gemma: whoever redistributes it must pass on those terms, "
        "including the use restrictions, to the recipients.",
        "",
        "## Training data and licenses",
        "",
        *dataset_lines(data, p.get("dataset_stats") or {}),
        "",
        "Licenses of the public data sets MedGemma Studio recipes draw on:",
        "",
        *[f"- {label}: {lic} ({url})" for label, lic, url in DATA_LICENSES.values()],
        "",
        "## Evaluation",
        "",
        f"- Training loss {fmt(res.get('train_loss'))}, validation loss {fmt(res.get('eval_loss'))} "
        f"({fmt(res.get('steps'))} steps).",
        "",
        *_evaluation(evaluation),
        *_checks(checks),
        "",
        "## Known limits",
        "",
        *template_section("Known limits"),
    ]
    if kind == "gguf":
        out.append("- Quantized files (q4_k_m and the like) trade some accuracy for size and speed; the export checks "
                   "above give their agreement with the full-precision model.")
    if kind == "merged":
        out.append("- Merged weights are saved in reduced precision (see `merge_info.json`); logits differ slightly "
                   "from base + adapter.")
    out += [
        "",
        "## How to use",
        "",
        *_usage(kind, name, base_id, files or {}),
        "",
        "## Lineage",
        "",
        *lineage_lines(lineage or from_provenance(p)),
        "- Libraries: " + (", ".join(f"{k} {v}" for k, v in vers.items()) or "not recorded") + ".",
        "",
    ]
    return "\n".join(out)
