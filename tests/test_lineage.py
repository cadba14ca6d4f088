"""Lineage: one record joining an adapter's provenance, its evaluation runs and its exports, written by the CLI,
shown in the model cards, and refused when a link is missing (an export of an earlier training)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medgemma import lineage
from medgemma.__main__ import main
from medgemma.errors import InputError
from medgemma.export.card import model_card
from medgemma.files import sha256_file
from medgemma.train.card import adapter_card

NAME = "tutor-270m"
BASE_SHA = "b" * 64
DATA_SHA = "d" * 64


def provenance() -> dict[str, Any]:
    return {"format": 1, "adapter": NAME,
            "base_model": {"id": "gemma-3-270m", "sha256": BASE_SHA, "license": "Gemma Terms of Use"},
            "data": {"files": [{"path": "medquad_train.jsonl", "sha256": DATA_SHA, "examples": 120}],
                     "recipe": {"name": "grounded", "args": {"k": 3}}, "examples": {"train": 108, "val": 12}},
            "config": {"learning_rate": 0.0002, "epochs": 1, "lora_r": 8, "seed": 0},
            "git_commit": "1" * 40, "started": "2026-01-01T10:00:00Z", "finished": "2026-01-01T11:00:00Z",
            "results": {"train_loss": 1.5}}


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    adapters, runs, exports = tmp_path / "adapters", tmp_path / "runs", tmp_path / "exports"
    adapter = adapters / NAME
    write_json(adapter / "provenance.json", provenance())
    (adapter / "adapter_model.safetensors").write_bytes(b"weights of the first training")
    sha = sha256_file(adapter / "adapter_model.safetensors")

    def run(folder: str, adapter_name: str, started: str, accuracy: float) -> None:
        write_json(runs / folder / "config.json", {"spec": {"task": "pubmedqa-rag"}, "items": 100, "started": started,
                                                   "backend": {"adapter": adapter_name},
                                                   "versions": {"git_commit": "2" * 40}})
        write_json(runs / folder / "metrics.json", {"accuracy": accuracy, "n": 100, "note": "text is not a figure"})

    run("pubmedqa-rag-hf-tutor", NAME, "2026-01-02T09:00:00Z", 0.61)
    run("pubmedqa-rag-hf-tutor-old", NAME, "2025-12-01T09:00:00Z", 0.12)  # an earlier training of the same name
    run("pubmedqa-rag-hf-other", "other-adapter", "2026-01-02T09:00:00Z", 0.99)
    write_json(exports / NAME / "export_report.json", {
        "adapter": str(adapter), "adapter_sha256": sha, "formats": ["gguf"], "git_commit": "3" * 40,
        "checks": {"gguf": {"passed": True, "top1_agreement": 1.0, "max_abs_logit_diff": 0.01, "logits": [1, 2]}}})
    for key, folder in (("ADAPTERS_DIR", adapters), ("RUNS_DIR", runs), ("EXPORTS_DIR", exports)):
        monkeypatch.setenv(f"MEDGEMMA_{key}", str(folder))
    return {"adapter": adapter, "runs": runs, "exports": exports, "export": exports / NAME}


def test_the_record_joins_training_evaluation_and_export(studio: dict[str, Path]) -> None:
    record = lineage.build(studio["adapter"], studio["runs"], studio["exports"])
    assert record["subject"]["kind"] == "adapter"
    assert record["base_model"]["sha256"] == BASE_SHA
    assert record["data"]["files"][0]["sha256"] == DATA_SHA and "MedQuAD" in record["data"]["files"][0]["license"]
    assert record["data"]["recipe"]["name"] == "grounded" and record["training_config"]["lora_r"] == 8
    assert record["training"]["git_commit"] == "1" * 40
    assert [r["run"] for r in record["evaluations"]] == ["pubmedqa-rag-hf-tutor"]
    assert record["evaluations"][0]["figures"] == {"accuracy": 0.61, "n": 100}
    assert record["evaluations"][0]["git_commit"] == "2" * 40
    [export] = record["exports"]
    assert export["git_commit"] == "3" * 40 and export["checks"]["gguf"] == {
        "passed": True, "top1_agreement": 1.0, "max_abs_logit_diff": 0.01}
    assert record["stale_exports"] == []


def test_the_cli_prints_and_writes_it(studio: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", NAME]) == 0
    shown = capsys.readouterr().out
    assert BASE_SHA in shown and DATA_SHA in shown and "pubmedqa-rag-hf-tutor" in shown and "3" * 40 in shown
    written = json.loads((studio["adapter"] / "lineage.json").read_text())
    assert written == json.loads(json.dumps(lineage.build(studio["adapter"], studio["runs"], studio["exports"])))
    assert not list(studio["adapter"].glob("*.part*")) and not list(studio["adapter"].glob(".*"))
    assert main(["lineage", str(studio["export"])]) == 0
    assert json.loads((studio["export"] / "lineage.json").read_text())["subject"]["kind"] == "export"


def test_an_export_of_an_earlier_training_is_refused(studio: dict[str, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (studio["adapter"] / "adapter_model.safetensors").write_bytes(b"weights of a second training")
    with pytest.raises(InputError, match="earlier training.*export it again"):
        lineage.build(studio["export"], studio["runs"], studio["exports"])
    assert main(["lineage", str(studio["export"])]) == 2
    assert "earlier training" in capsys.readouterr().err
    assert not (studio["export"] / "lineage.json").exists()  # nothing written
    record = lineage.build(studio["adapter"], studio["runs"], studio["exports"])
    assert record["exports"] == [] and record["stale_exports"] == [str(studio["export"])]
    assert any("export again" in line for line in lineage.lines(record))


def test_missing_links_are_named(studio: dict[str, Path], tmp_path: Path) -> None:
    report = json.loads((studio["export"] / "export_report.json").read_text())
    write_json(studio["export"] / "export_report.json", {**report, "adapter_sha256": None})
    with pytest.raises(InputError, match="does not record its adapter's hash"):
        lineage.build(studio["export"], studio["runs"], studio["exports"])
    write_json(studio["export"] / "export_report.json", {**report, "adapter": str(tmp_path / "gone" / "nothing")})
    with pytest.raises(InputError, match="no provenance.json"):
        lineage.build(studio["export"], studio["runs"], studio["exports"])
    (studio["adapter"] / "provenance.json").unlink()
    with pytest.raises(InputError, match="neither provenance.json"):
        lineage.build(studio["adapter"], studio["runs"], studio["exports"])
    assert main(["lineage", "no-such-adapter"]) == 2


def test_the_cards_carry_the_lineage(studio: dict[str, Path]) -> None:
    card = adapter_card(provenance())
    assert "## Lineage" in card and BASE_SHA in card and DATA_SHA in card and "1" * 40 in card
    record = lineage.build(studio["adapter"], studio["runs"], None)
    exported = model_card(provenance(), "gguf", lineage=record)
    assert "## Lineage" in exported and "pubmedqa-rag-hf-tutor" in exported and "accuracy 0.61" in exported
    assert "0.12" not in exported  # the earlier training's run is not shown
    assert "## Lineage" in model_card(provenance(), "merged")  # from the provenance alone


def test_cards_take_their_fixed_sections_from_the_governance_template(tmp_path: Path) -> None:
    from medgemma.train.card import TEMPLATE, template_section

    assert TEMPLATE.is_file() and TEMPLATE.parent.name == "governance"
    cards = [adapter_card(provenance()), *(model_card(provenance(), kind) for kind in ("adapter", "merged", "gguf"))]
    for title in ("Intended use", "Out of scope", "Known limits"):
        section = template_section(title)
        assert section and all(line in card for card in cards for line in section if line.strip())
    broken = tmp_path / "template.md"
    broken.write_text("# Template\n\n## Intended use\n\n- learning\n")
    assert template_section("Intended use", broken) == ["- learning"]
    with pytest.raises(InputError, match="no '## Known limits' section"):
        template_section("Known limits", broken)
    with pytest.raises(InputError, match="cannot be read"):
        template_section("Intended use", tmp_path / "missing.md")
