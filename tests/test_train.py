"""LoRA fine-tuning on the tiny random Gemma: config, tokenization, the answer-only loss, runs, resume, stops,
dry runs, provenance, the adapter card and the CLI. Every run is 1-3 steps of batch 1 (a few seconds each)."""

from __future__ import annotations

import argparse
import json
import shutil
import threading
from pathlib import Path

import pytest

from medgemma.errors import InputError
from medgemma.train.card import adapter_card
from medgemma.train.config import TrainConfig

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from tiny_gemma import build_tiny_gemma  # noqa: E402

from medgemma.train import provenance  # noqa: E402
from medgemma.train import trainer as T  # noqa: E402
from medgemma.train.examples import Example  # noqa: E402
from medgemma.train.loss import completion_loss  # noqa: E402
from medgemma.train.methods import sft  # noqa: E402
from medgemma.train.model import load_model, load_tokenizer, lora_config  # noqa: E402
from medgemma.train.progress import read_log  # noqa: E402
from medgemma.train.records import to_records, tokenize_records  # noqa: E402

SYSTEM = {"role": "system", "content": "You are a medical education assistant."}
QA = [
    ("What is asthma?", "Asthma is a long-term lung condition that causes wheezing, cough and breathlessness."),
    ("What is paracetamol overdose?", "Paracetamol overdose can cause serious liver damage, even when a person "
                                      "feels well at first."),
    ("What is a vaccine?", "Vaccines train the immune system to recognise a germ without causing the disease."),
    ("What is pneumonia on a chest X-ray?", "On a chest X-ray, pneumonia often shows as consolidation, a white "
                                            "patch with air bronchograms."),
]
LEAKED_ID = "pubmedqa-999"


def examples(n: int = 8) -> list[Example]:
    return [Example(f"ex{i}", (SYSTEM, {"role": "user", "content": QA[i % 4][0]}), QA[i % 4][1],
                    {"category": "c", "source": "medquad" if i % 2 else "pubmedqa"}) for i in range(n)]


@pytest.fixture(autouse=True)
def small_eval_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leakage check reads a tiny evaluation set instead of loading every task (1.5 s)."""
    monkeypatch.setattr(provenance, "evaluation_reference", lambda data_dir=None: ({LEAKED_ID}, {"Is this leaked?"}))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gemma(tmp_path_factory.mktemp("tiny") / "gemma")


def cfg_for(tiny: Path, **kw: object) -> TrainConfig:
    base = dict(base_model=str(tiny), device="cpu", output_name="t", max_steps=2, per_device_batch_size=1,
                gradient_accumulation_steps=1, save_steps=1, logging_steps=1, eval_steps=1, val_fraction=0.25,
                learning_rate=1e-2, warmup_ratio=0.0, lora_r=4, lora_alpha=8, lora_dropout=0.0)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[T.TrainResult, list[dict]]:
    """One finished two-step run, shared by the tests that only read it."""
    seen: list[dict] = []
    adapters = tmp_path_factory.mktemp("adapters")
    mp = pytest.MonkeyPatch()
    mp.setattr(provenance, "evaluation_reference", lambda data_dir=None: ({LEAKED_ID}, set()))
    try:
        result = T.train(cfg_for(tiny), adapters_dir=adapters, examples=examples(), progress=seen.append)
    finally:
        mp.undo()
    return result, seen


# --- config --------------------------------------------------------------------------------------------------


def test_config_from_yaml_and_unknown_keys(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("lora_r: 8\ndata: [a.jsonl, b.jsonl]\ntarget_modules: [q_proj, v_proj]\nepochs: 2\n"
                    "target_loss: 0.5\nrecipe_args: {}\n")
    cfg = TrainConfig.from_yaml(good)
    assert (cfg.lora_r, cfg.data, cfg.target_modules, cfg.epochs, cfg.target_loss) == (
        8, ("a.jsonl", "b.jsonl"), ("q_proj", "v_proj"), 2.0, 0.5)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    bad = tmp_path / "bad.yaml"
    bad.write_text("lora_r: 8\nlearning_rat: 0.1\nbatch: 3\n")
    with pytest.raises(InputError, match="learning_rat") as err:
        TrainConfig.from_yaml(bad)
    assert "batch" in str(err.value)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("lora_r: eight\n")
    with pytest.raises(InputError, match="lora_r"):
        TrainConfig.from_yaml(wrong)


@pytest.mark.parametrize("change, word", [
    ({"quantization": "3bit"}, "quantization"), ({"lr_scheduler": "step"}, "lr_scheduler"),
    ({"output_name": "../x"}, "output_name"), ({"val_fraction": 1.0}, "val_fraction"),
    ({"max_steps": 0}, "max_steps"), ({"target_loss": -1.0}, "target_loss"),
    ({"data": ("a.jsonl",), "recipe": "medquad"}, "not both"),
])
def test_config_validation(change: dict, word: str) -> None:
    with pytest.raises(InputError, match=word):
        TrainConfig(**change)


# --- tokenization and the loss -------------------------------------------------------------------------------


def test_tokenize_truncates_the_prompt_from_the_left_and_keeps_the_answer(tiny: Path) -> None:
    tok = load_tokenizer(str(tiny), True)
    rec = to_records(examples(1))[0]
    assert rec["completion"].endswith("<end_of_turn>") and rec["prompt"].endswith("<start_of_turn>model\n")
    assert to_records(examples(1), end="<eos>")[0]["completion"].endswith("<eos>")
    (full,), info = tokenize_records(tok, [rec], 1024)
    assert info["truncated_prompts"] == 0 and full["input_ids"][0] == tok.bos_token_id
    n_answer = sum(full["completion_mask"])
    (cut,), info = tokenize_records(tok, [rec], n_answer + 5)
    assert info["truncated_prompts"] == 1 and len(cut["input_ids"]) == n_answer + 5
    assert cut["input_ids"][0] == tok.bos_token_id  # <bos> stays, the prompt's start goes
    assert cut["input_ids"][-n_answer:] == full["input_ids"][-n_answer:]  # the answer is whole
    assert cut["input_ids"][1:-n_answer] == full["input_ids"][-(n_answer + 4):-n_answer]
    rows, info = tokenize_records(tok, [rec], n_answer)  # the answer alone does not fit beside <bos>
    assert rows == [] and info["dropped_too_long"] == 1


def test_fast_loss_equals_the_plain_loss(tiny: Path, tmp_path: Path) -> None:
    from medgemma.backends.hf import plan_device

    cfg = cfg_for(tiny, per_device_batch_size=3, val_fraction=0.0)
    tok = load_tokenizer(str(tiny), True)
    rows, _ = tokenize_records(tok, to_records(examples(6)), 1024)
    plan = plan_device("cpu")
    trainer = sft.make_trainer(cfg, load_model(str(tiny), True, plan, cfg), tok, rows, [], plan, tmp_path / "ck",
                               peft_config=lora_config(cfg))
    batch = next(iter(trainer.get_train_dataloader()))
    assert (batch["attention_mask"] == 0).any()  # rows of different lengths: padding is in the batch
    model = trainer.model
    with torch.no_grad():  # LoRA B starts at zero; make the adapter count
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    model.train()
    plain = model(**batch).loss  # the model's own masked loss over full logits
    items = (batch["labels"][:, 1:] != -100).sum() * 2  # as under gradient accumulation
    losses = {}
    for fast in (True, False):  # ours, and TRL's fused LM head
        trainer.fast_loss = fast
        losses[fast] = (trainer.compute_loss(model, dict(batch)),
                        trainer.compute_loss(model, dict(batch), num_items_in_batch=items))
    assert abs(losses[True][0].item() - plain.item()) < 1e-5
    assert abs(losses[True][0].item() - losses[False][0].item()) < 1e-5
    assert abs(losses[True][1].item() - losses[False][1].item()) < 1e-5
    assert abs(losses[True][1].item() - plain.item() / 2) < 1e-5
    grads = []
    for loss_fn in (lambda: completion_loss(model, dict(batch))[0], lambda: model(**batch).loss):
        model.zero_grad()
        loss_fn().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad})
    assert max((grads[0][n] - grads[1][n]).abs().max().item() for n in grads[0]) < 1e-5


# --- a finished run ------------------------------------------------------------------------------------------


def test_two_step_run_saves_a_loadable_adapter(trained: tuple[T.TrainResult, list[dict]], tiny: Path) -> None:
    from safetensors.torch import load_file

    from medgemma.backends.hf import HFBackend

    result, seen = trained
    assert result.finished and result.steps == 2
    folder = result.folder
    for name in ("adapter_model.safetensors", "adapter_config.json", "provenance.json", "README.md",
                 "dataset_stats.json", "train_log.jsonl"):
        assert (folder / name).is_file(), name
    assert not list(folder.glob(".final-*"))  # the temporary folder is gone
    weights = load_file(str(folder / "adapter_model.safetensors"))
    assert weights and all("lora_" in k for k in weights)
    assert all(weights[k].abs().max() > 0 for k in weights if "lora_B" in k)  # moved from their zero init
    assert [i["step"] for i in seen][-1] == 2 and seen[-1]["max_steps"] == 2
    assert any(i["loss"] is not None for i in seen) and any(i["eval_loss"] is not None for i in seen)

    base = load_file(str(tiny / "model.safetensors"))
    backend = HFBackend(str(tiny), device="cpu", adapter_path=folder, adapter_name="t")
    try:
        messages = [SYSTEM, {"role": "user", "content": QA[0][0]}]
        tuned = backend.option_logprobs(messages, ["yes", "no"])
        q = backend.model.model.layers[0].self_attn.q_proj
        assert torch.equal(q.base_layer.weight, base["model.layers.0.self_attn.q_proj.weight"])  # base unchanged
    finally:
        backend.close()
    plain = HFBackend(str(tiny), device="cpu")
    try:
        assert plain.option_logprobs(messages, ["yes", "no"]) != tuned  # the adapter changes the model
    finally:
        plain.close()


def test_provenance_and_log(trained: tuple[T.TrainResult, list[dict]], tiny: Path) -> None:
    result, _ = trained
    prov = json.loads((result.folder / "provenance.json").read_text())
    for key in ("base_model", "data", "config", "dataset_stats", "versions", "git_commit", "started", "finished",
                "device", "results", "trainable_parameters", "total_parameters"):
        assert key in prov, key
    assert prov["base_model"]["path"] == str(tiny.resolve()) and len(prov["base_model"]["sha256"]) == 64
    assert set(prov["base_model"]["files"]) == {"model.safetensors"}
    assert prov["config"] == cfg_for(tiny).to_dict()
    assert prov["data"]["examples"] == {"train": 6, "val": 2} and prov["data"]["leakage"]["matches"] == 0
    assert {"torch", "transformers", "peft", "trl"} <= set(prov["versions"])
    from medgemma.train.model import cpu_computes_bf16

    expected = "bf16-mixed" if cpu_computes_bf16() else "fp32"  # precision 'auto': bf16 where the CPU has it
    assert prov["device"] == {"device": "cpu", "precision": expected, "quantization": "none"}
    res = prov["results"]
    assert res["steps"] == 2 and res["tokens_seen"] > 0
    assert res["train_loss"] > 0 and res["eval_loss"] > 0
    # r=4 on every q/k/v/o/gate/up/down of the 2-layer, 64-wide model: 4 * (in + out) each
    per_layer = 4 * ((64 + 64) + (64 + 32) + (64 + 32) + (64 + 64) + 3 * (64 + 128))
    assert prov["trainable_parameters"] == 2 * per_layer
    stats = json.loads((result.folder / "dataset_stats.json").read_text())
    assert stats["counts"]["train"] == 6
    card = (result.folder / "README.md").read_text()
    assert "not for clinical decisions" in card.lower() and "Gemma Terms of Use" in card
    log = read_log(result.folder / "train_log.jsonl")
    events = [r["event"] for r in log]
    assert events[0] == "start" and events[-1] == "end" and "eval" in events
    steps = [r for r in log if r["event"] == "log"]
    assert [r["step"] for r in steps] == [1, 2] and all("loss" in r and "eta" in r for r in steps)


def test_resume_continues_from_the_last_checkpoint(trained: tuple[T.TrainResult, list[dict]], tiny: Path,
                                                   tmp_path: Path) -> None:
    result, _ = trained
    adapters = tmp_path / "adapters"
    shutil.copytree(result.folder.parent, adapters)
    with pytest.raises(InputError, match="already holds the finished adapter"):
        T.train(cfg_for(tiny), adapters_dir=adapters, examples=examples())
    with pytest.raises(InputError, match="other settings"):
        T.train(cfg_for(tiny, max_steps=3, lora_r=8), adapters_dir=adapters, examples=examples())
    longer = T.train(cfg_for(tiny, max_steps=3), adapters_dir=adapters, examples=examples())
    assert longer.finished and longer.steps == 3 and longer.metrics["resumed_from"] == "checkpoint-2"
    log = read_log(longer.folder / "train_log.jsonl")
    starts = [r for r in log if r["event"] == "start"]
    assert [s["resumed_from_step"] for s in starts] == [None, 2]
    assert [r["step"] for r in log if r["event"] == "log"] == [1, 2, 3]  # step 3 only was trained again
    assert json.loads((longer.folder / "provenance.json").read_text())["results"]["steps"] == 3


# --- stopping early ------------------------------------------------------------------------------------------


def test_target_loss_stops_with_a_checkpoint(tiny: Path, tmp_path: Path) -> None:
    result = T.train(cfg_for(tiny, max_steps=3, target_loss=50.0, val_fraction=0.0), adapters_dir=tmp_path,
                     examples=examples())
    assert result.finished and result.steps == 1 and result.metrics["stopped_early"] == "target_loss"
    assert (result.folder / "checkpoints" / "checkpoint-1").is_dir()
    assert (result.folder / "adapter_model.safetensors").is_file()


def test_stop_signal_stops_and_keeps_a_checkpoint(tiny: Path, tmp_path: Path) -> None:
    stop = threading.Event()

    def progress(info: dict) -> None:
        if info["step"] >= 1:
            stop.set()

    result = T.train(cfg_for(tiny, max_steps=3, val_fraction=0.0), adapters_dir=tmp_path, examples=examples(),
                     progress=progress, stop=stop)
    assert not result.finished and result.steps == 1
    assert (result.folder / "checkpoints" / "checkpoint-1").is_dir()
    assert not (result.folder / "adapter_model.safetensors").exists()
    assert read_log(result.folder / "train_log.jsonl")[-1]["event"] == "stopped"


def test_resuming_at_the_last_step_finishes_without_training_more(tiny: Path, tmp_path: Path) -> None:
    """A run stopped at step 1 and resumed with max_steps=1 is finished as it is: no extra step is trained."""
    from safetensors.torch import load_file

    stop = threading.Event()
    T.train(cfg_for(tiny, max_steps=3, val_fraction=0.0), adapters_dir=tmp_path, examples=examples(),
            progress=lambda info: stop.set() if info["step"] >= 1 else None, stop=stop)
    done = T.train(cfg_for(tiny, max_steps=1, val_fraction=0.0), adapters_dir=tmp_path, examples=examples())
    assert done.finished and done.steps == 1 and done.metrics["resumed_from"] == "checkpoint-1"
    saved = load_file(str(done.folder / "adapter_model.safetensors"))
    ckpt = load_file(str(done.folder / "checkpoints" / "checkpoint-1" / "adapter_model.safetensors"))
    assert saved.keys() == ckpt.keys() and all(torch.equal(saved[k], ckpt[k]) for k in saved)
    assert [r["step"] for r in read_log(done.folder / "train_log.jsonl") if r["event"] == "log"] == [1]
    assert json.loads((done.folder / "provenance.json").read_text())["results"]["train_loss"] > 0


def test_a_checkpoint_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    """A kill while saving leaves a folder without trainer_state.json: resume uses the one before it."""
    ckpts = tmp_path / "checkpoints"
    for step, complete in ((2, True), (4, True), (6, False)):
        folder = ckpts / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "adapter_model.safetensors").write_bytes(b"x")
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    assert T.last_complete_checkpoint(ckpts) == str(ckpts / "checkpoint-4")
    assert not (ckpts / "checkpoint-6").exists()
    assert T.last_complete_checkpoint(tmp_path / "none") is None


# --- dry run, leakage, card, CLI -----------------------------------------------------------------------------


def test_dry_run_writes_nothing(tiny: Path, tmp_path: Path) -> None:
    adapters = tmp_path / "adapters"
    result = T.train(cfg_for(tiny), adapters_dir=adapters, examples=examples(), dry_run=True)
    assert not adapters.exists() and not result.finished and result.steps == 0
    m = result.metrics
    tok = m["tokens"]
    assert tok["prompt_tokens"] > 0 and tok["completion_tokens"] > 0
    assert tok["total_tokens"] == tok["prompt_tokens"] + tok["completion_tokens"]
    assert m["trainable_parameters"] == 2 * 4 * ((64 + 64) + (64 + 32) * 2 + (64 + 64) + 3 * (64 + 128))
    assert m["steps_planned"] == 2 and m["memory_gb_estimate"]["total"] > 0
    assert m["time_estimate"]["method"].startswith("measured") and m["time_estimate"]["total_seconds"] > 0


def test_leakage_is_refused_unless_allowed() -> None:
    leaky = examples(3) + [Example(LEAKED_ID, (SYSTEM, {"role": "user", "content": "Q?"}), "A.", {})]
    with pytest.raises(InputError, match=f"1 training example.*{LEAKED_ID}"):
        provenance.check_leakage(leaky, allow=False)
    assert provenance.check_leakage(leaky, allow=True)["matches"] == 1


def test_card_lists_licenses_and_evaluation() -> None:
    prov = {"adapter": "a", "base_model": {"id": "gemma-3-270m"}, "config": {"lora_r": 8},
            "data": {"recipe": {"name": "medquad", "args": {"limit": 10}}, "examples": {"train": 9, "val": 1}},
            "dataset_stats": {"sources": {"train": {"pubmedqa": 4, "medquad": 5}}},
            "results": {"train_loss": 1.25, "eval_loss": 1.5, "steps": 10},
            "evaluation": {"pubmedqa-gold": {"accuracy": 0.61}}}
    card = adapter_card(prov)
    for text in ("CC BY 4.0", "MIT", "Gemma Terms of Use", "not for clinical decisions", "pubmedqa-gold",
                 "0.61", "1.25", "Known limits"):
        assert text.lower() in card.lower(), text


def test_cli_flags_override_yaml_and_dry_run(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from medgemma.train.cli import add_train_parser, cmd_train, config_from_args

    ap = argparse.ArgumentParser()
    add_train_parser(ap.add_subparsers(dest="command"))
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text(f"base_model: {tiny}\nlora_r: 16\nmax_steps: 2\ndevice: cpu\n")
    args = ap.parse_args(["train", str(yaml_file), "--lora-r", "4", "--packing", "--target-modules", "q_proj",
                          "v_proj", "--recipe-arg", "limit=5", "--target-loss", "0.5", "--no-resume"])
    cfg = config_from_args(args)
    assert (cfg.lora_r, cfg.packing, cfg.target_modules, cfg.recipe_args, cfg.target_loss, cfg.max_steps) == (
        4, True, ("q_proj", "v_proj"), {"limit": 5}, 0.5, 2)
    assert args.resume is False and args.func is cmd_train

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"id": f"d{i}", "question": q, "answer": a}) + "\n"
                            for i, (q, a) in enumerate(QA * 2)))
    args = ap.parse_args(["train", str(yaml_file), "--data", str(data), "--lora-r", "4", "--dry-run",
                          "--adapters-dir", str(tmp_path / "adapters")])
    assert cmd_train(args) == 0
    out = capsys.readouterr().out
    assert "Dry run" in out and "trainable" in out and not (tmp_path / "adapters").exists()


def test_answers_end_with_the_marker_asked_for(tiny: Path) -> None:
    from medgemma.train.trainer import answer_end

    tok = load_tokenizer(str(tiny), True)
    for choice, token in (("eos", tok.eos_token_id), ("end_of_turn", tok.convert_tokens_to_ids("<end_of_turn>"))):
        rows, _ = tokenize_records(tok, to_records(examples(2), end=answer_end(tok, choice)), 1024)
        assert all(r["input_ids"][-1] == token and r["completion_mask"][-1] == 1 for r in rows)
    with pytest.raises(InputError):
        TrainConfig(answer_end="full stop")
