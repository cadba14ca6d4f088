"""The training methods behind the one entry point, on tiny random Gemmas: DPO on preference pairs, GRPO with
the grounded reward, logit distillation, training on from an adapter; preference files and the pair recipe."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest

from medgemma.errors import InputError
from medgemma.prompts import build_messages
from medgemma.train.config import TrainConfig
from medgemma.train.data import load_examples
from medgemma.train.examples import Example, Pair
from medgemma.train.preferences import rejected_for
from medgemma.train.rewards import grounded_reward
from medgemma.types import Passage

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from tiny_gemma import build_lora, build_tiny_gemma  # noqa: E402

from medgemma.train import provenance  # noqa: E402
from medgemma.train import trainer as T  # noqa: E402
from medgemma.train.progress import read_log  # noqa: E402

PASSAGES = [
    ("Asthma", "Asthma is a long-term lung condition that causes wheezing, cough and breathlessness."),
    ("Gout", "Gout is a type of arthritis caused by crystals of uric acid in a joint."),
]


@pytest.fixture(autouse=True)
def small_eval_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provenance, "evaluation_reference", lambda data_dir=None: (set(), set()))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gemma(tmp_path_factory.mktemp("tiny") / "gemma")


def cfg_for(tiny: Path, **kw: object) -> TrainConfig:
    base = dict(base_model=str(tiny), device="cpu", output_name="m", max_steps=2, per_device_batch_size=2,
                gradient_accumulation_steps=1, save_steps=1, logging_steps=1, val_fraction=0.0,
                learning_rate=5e-3, warmup_ratio=0.0, lora_r=4, lora_alpha=8, precision="fp32")
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def grounded(i: int, covered: bool = True) -> Example:
    shown = [Passage(f"p{j}", text, title, "test", "", 1.0) for j, (title, text) in enumerate(PASSAGES, 1)]
    if not covered:
        shown = shown[:1]
    answer = (f"{PASSAGES[1][1][:-1]} [2]." if covered else
              "The provided sources do not answer this question, so I do not know.")
    meta = {"grounded": "answer" if covered else "no_answer", "gold_position": "2" if covered else "",
            "focus": "Gout", "question": "What is gout?",
            "passages": json.dumps([{"title": p.title, "text": p.text} for p in shown])}
    return Example(f"g{i}-{covered}", tuple(build_messages("What is gout?", shown)), answer, meta)


def pairs(n: int = 4) -> list[Pair]:
    out = []
    for i in range(n):
        ex = grounded(i, covered=i % 2 == 0)
        kind, rejected = rejected_for(ex, random.Random(i), i)
        out.append(Pair(ex.id, ex.messages, ex.answer, ex.meta | {"rejected_kind": kind}, rejected=rejected))
    return out


# --- the data ----------------------------------------------------------------------------------------------


def test_rejected_answers_are_the_errors_a_small_model_makes() -> None:
    covered = grounded(0)
    kind, moved = rejected_for(covered, random.Random(0), 0)
    assert kind == "moved" and "[1]" in moved and "[2]" not in moved and "uric acid" in moved
    kind, swapped = rejected_for(covered, random.Random(0), 1)
    assert kind == "swapped" and "Asthma" in swapped and "Gout" not in swapped and "[2]" in swapped
    kind, confident = rejected_for(grounded(0, covered=False), random.Random(0), 0)
    assert kind == "confident" and "Gout" in confident and "[1]" in confident
    # the reward that GRPO uses ranks each chosen answer above its rejected one
    texts = [t for _, t in PASSAGES]
    assert grounded_reward(covered.answer, texts, True) > grounded_reward(moved, texts, True)
    assert grounded_reward(covered.answer, texts, True) > grounded_reward(swapped, texts, True)
    silent = grounded(0, covered=False)
    assert grounded_reward(silent.answer, texts[:1], False) > grounded_reward(confident, texts[:1], False)


def test_reward_values() -> None:
    texts = [t for _, t in PASSAGES]
    assert grounded_reward("Gout is a type of arthritis caused by crystals of uric acid in a joint [2].", texts,
                           True) == 1.0
    assert grounded_reward("Gout is a type of arthritis caused by crystals of uric acid in a joint.", texts,
                           True) == 0.0  # no citation
    assert grounded_reward("Take 400 mg of ibuprofen three times a day [2].", texts, True) == -1.0
    assert grounded_reward("", texts, True) == 0.0
    assert grounded_reward("The sources do not cover this question.", texts, True) == 0.0


def test_preference_files_load_and_malformed_pairs_name_their_line(tmp_path: Path) -> None:
    good = {"prompt": "What is gout?", "chosen": "Gout is arthritis [1].", "rejected": "Gout is reflux [1].",
            "context": [PASSAGES[1][1]]}
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    (pair,) = load_examples(path)
    assert isinstance(pair, Pair) and pair.rejected == good["rejected"] and pair.answer == good["chosen"]
    assert "uric acid" in pair.messages[-1]["content"]
    for bad, word in (({k: v for k, v in good.items() if k != "rejected"}, "'rejected' is missing"),
                      (good | {"rejected": good["chosen"]}, "same answer"),
                      (good | {"rejected": 3}, "must be text")):
        path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
        with pytest.raises(InputError, match=word) as err:
            load_examples(path)
        assert "pairs.jsonl" in str(err.value) and "line 2" in str(err.value)


def test_method_settings_are_checked() -> None:
    for change, word in (({"method": "ppo"}, "method"), ({"method": "distill"}, "teacher_model"),
                         ({"num_generations": 1}, "num_generations"), ({"kd_alpha": 2.0}, "kd_alpha"),
                         ({"precision": "fp8"}, "precision")):
        with pytest.raises(InputError, match=word):
            TrainConfig(**change).validate()  # type: ignore[arg-type]


# --- the runs ----------------------------------------------------------------------------------------------


def test_dpo_trains_resumes_and_keeps_the_base(tiny: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    stop = threading.Event()
    cfg = cfg_for(tiny, method="dpo", max_steps=3)
    first = T.train(cfg, adapters_dir=tmp_path, examples=pairs(), stop=stop,
                    progress=lambda info: stop.set() if info["step"] >= 1 else None)
    assert not first.finished and first.steps == 1
    result = T.train(cfg, adapters_dir=tmp_path, examples=pairs())
    assert result.finished and result.steps == 3 and result.metrics["resumed_from"] == "checkpoint-1"
    log = [r for r in read_log(result.folder / "train_log.jsonl") if r["event"] == "log"]
    assert len({round(r["loss"], 6) for r in log}) > 1  # the loss moves
    weights = load_file(str(result.folder / "adapter_model.safetensors"))
    assert any(weights[k].abs().max() > 0 for k in weights if "lora_B" in k)
    assert all("lora_" in k for k in weights)  # only the adapter is saved: the base is untouched
    prov = json.loads((result.folder / "provenance.json").read_text())
    assert prov["config"]["method"] == "dpo" and prov["data"]["examples"]["train"] == 4
    assert prov["base_model"]["sha256"] and prov["git_commit"] is not None or "git_commit" in prov


def test_dpo_needs_pairs_and_a_real_start_adapter(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="rejected"):
        T.train(cfg_for(tiny, method="dpo"), adapters_dir=tmp_path, examples=[grounded(0), grounded(1)])
    with pytest.raises(InputError, match="no trained adapter"):
        T.train(cfg_for(tiny, method="dpo", init_adapter="nowhere"), adapters_dir=tmp_path, examples=pairs())


def test_dpo_from_an_adapter_trains_that_adapter_further(tiny: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    start = build_lora(tiny, tmp_path / "start", seed=1)
    result = T.train(cfg_for(tiny, method="dpo", init_adapter=str(start)), adapters_dir=tmp_path / "a",
                     examples=pairs())
    before, after = load_file(str(start / "adapter_model.safetensors")), load_file(
        str(result.folder / "adapter_model.safetensors"))
    assert set(before) == set(after)  # the same adapter, same shape
    assert any(not torch.equal(before[k], after[k]) for k in before)  # trained further
    assert all(torch.allclose(before[k], after[k], atol=0.5) for k in before)  # from where it was


def test_grpo_runs_end_to_end_with_the_grounded_reward(tiny: Path, tmp_path: Path) -> None:
    cfg = cfg_for(tiny, method="grpo", num_generations=2, max_completion_length=8, beta=0.0)
    result = T.train(cfg, adapters_dir=tmp_path, examples=[grounded(i, covered=i % 2 == 0) for i in range(4)])
    assert result.finished and result.steps == 2
    log = [r for r in read_log(result.folder / "train_log.jsonl") if r["event"] == "log"]
    assert any("reward" in r for r in log)
    with pytest.raises(InputError, match="multiple of num_generations"):
        T.train(cfg_for(tiny, method="grpo", num_generations=3, output_name="n"), adapters_dir=tmp_path,
                examples=[grounded(i) for i in range(4)])


def test_distillation_brings_the_student_toward_the_teacher(tiny: Path, tmp_path: Path) -> None:
    from medgemma.backends.hf import plan_device
    from medgemma.train.loss import answer_logits
    from medgemma.train.methods.distill import kd_loss
    from medgemma.train.model import load_model, load_tokenizer
    from medgemma.train.records import to_records, tokenize_records
    from peft import PeftModel

    teacher_dir = build_tiny_gemma(tmp_path / "teacher", seed=1)
    examples = [grounded(i) for i in range(4)]
    cfg = cfg_for(tiny, method="distill", teacher_model=str(teacher_dir), max_steps=12, learning_rate=2e-2,
                  kd_alpha=1.0, kd_temperature=1.0)
    plan = plan_device("cpu")
    tok = load_tokenizer(str(tiny), True)
    (row, *_), _ = tokenize_records(tok, to_records(examples[:1], end=tok.eos_token), 256)
    ids = torch.tensor([row["input_ids"]])
    labels = torch.tensor([[t if m else -100 for t, m in zip(row["input_ids"], row["completion_mask"])]])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}

    def kl(student: object) -> float:
        with torch.no_grad():
            return float(kd_loss(answer_logits(student, inputs)[0], answer_logits(teacher, inputs)[0], 1.0))

    teacher = load_model(str(teacher_dir), True, plan, cfg).eval()
    before = kl(load_model(str(tiny), True, plan, cfg).eval())
    result = T.train(cfg, adapters_dir=tmp_path / "a", examples=examples)
    student = PeftModel.from_pretrained(load_model(str(tiny), True, plan, cfg), str(result.folder)).eval()
    assert kl(student) < 0.9 * before
    log = [r for r in read_log(result.folder / "train_log.jsonl") if r["event"] == "log"]
    assert any("kd_kl" in r for r in log)
