"""Training examples as the model sees them: prompt/completion records, then token ids with a completion mask.

Each example's prompt is its messages rendered by `medgemma.prompts.render`, exactly as the backends render them at
answer time; its completion is the answer followed by an end marker: by default the tokenizer's end-of-text token (`<eos>` for
Gemma), which a pretrained model already predicts (the embedded 270M gives it a log-probability around -5 after
an answer, and `<end_of_turn>` around -36, which 37 LoRA steps only raised to -6: that adapter never stopped).
Every backend stops at either. The only model object needed is a tokenizer.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import InputError
from ..prompts import TURN_END, render


def to_records(examples: Sequence[Any], prompt_style: str = "chat", end: str = TURN_END) -> list[dict[str, str]]:
    """Prompt/completion records: the rendered messages, and the answer closed by the marker `end`."""
    records = []
    for ex in examples:
        answer = str(ex.answer).strip()
        if not answer:
            raise InputError(f"Example {ex.id!r} has an empty answer: there is nothing to learn from it.")
        records.append({"id": str(ex.id), "prompt": render(list(ex.messages), prompt_style),
                        "completion": answer + end})
    return records


def tokenize_records(tokenizer: Any, records: Sequence[dict[str, str]], max_length: int) -> tuple[list[dict], dict]:
    """Token ids and a completion mask for each record, at most `max_length` tokens each.

    The prompt is tokenized as the backends tokenize it at answer time (with <bos>), the completion on its own,
    and the two are joined, so training sees exactly the prompt inference sees. A sequence that is too long loses
    the start of its prompt (after <bos>), never any of its answer: TRL 1.16 offers only `keep_start`
    truncation, which would cut the answer, so truncation happens here. An example whose answer alone does not
    fit is left out and counted.
    """
    bos = tokenizer.bos_token_id
    rows: list[dict] = []
    info = {"prompt_tokens": 0, "completion_tokens": 0, "truncated_prompts": 0, "dropped_too_long": 0,
            "dropped_ids": [], "longest": 0}
    for rec in records:
        p = list(tokenizer(rec["prompt"], add_special_tokens=True)["input_ids"])
        c = list(tokenizer(rec["completion"], add_special_tokens=False)["input_ids"])
        head = [p[0]] if p and p[0] == bos else []
        room = max_length - len(c) - len(head)
        if room < 1:  # not even one prompt token fits beside the answer
            info["dropped_too_long"] += 1
            info["dropped_ids"].append(rec["id"])
            continue
        if len(p) + len(c) > max_length:
            p = head + p[len(p) - room:]
            info["truncated_prompts"] += 1
        ids = p + c
        rows.append({"input_ids": ids, "completion_mask": [0] * len(p) + [1] * len(c)})
        info["prompt_tokens"] += len(p)
        info["completion_tokens"] += len(c)
        info["longest"] = max(info["longest"], len(ids))
    info["total_tokens"] = info["prompt_tokens"] + info["completion_tokens"]
    info["sequences"] = len(rows)
    info["dropped_ids"] = info["dropped_ids"][:10]
    return rows, info
