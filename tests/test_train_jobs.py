"""Training jobs as child processes: names stay inside adapters/, output and state are read back from files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from medgemma.errors import InputError
from medgemma.train import jobs
from medgemma.train.config import TrainConfig


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 100])
def test_job_names_cannot_leave_the_adapters_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError):
        jobs.job_folder(tmp_path, name)


def test_a_failing_job_reports_its_error_and_stops(tmp_path: Path) -> None:
    cfg = TrainConfig(output_name="broken", data=(str(tmp_path / "missing.jsonl"),), max_steps=1)
    folder = jobs.start(cfg, tmp_path)
    assert (folder / jobs.CONFIG).is_file() and (folder / jobs.JOB).is_file()
    deadline = time.monotonic() + 120
    while jobs.is_running(folder) and time.monotonic() < deadline:
        time.sleep(0.5)
    st = jobs.status(tmp_path, "broken")
    assert not st.running and not st.finished
    assert "missing.jsonl" in st.tail  # the child's error is what the tab shows
    assert jobs.list_jobs(tmp_path) == ["broken"]
    assert jobs.stop(tmp_path, "broken") is False  # nothing to stop


def test_a_killed_job_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """The Training tab's path: a child process trains, is stopped mid-run, and a second start resumes it."""
    import json
    import os
    import signal

    from tiny_gemma import build_tiny_gemma

    tiny = build_tiny_gemma(tmp_path / "tiny")
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"question": f"What does test item {i} say about asthma?",
                                        "answer": f"Item {i}: asthma causes wheezing and cough."}) + "\n"
                            for i in range(12)))
    cfg = TrainConfig(base_model=str(tiny), device="cpu", output_name="tiny-run", data=(str(data),),
                      max_steps=400, per_device_batch_size=1, gradient_accumulation_steps=1, save_steps=2,
                      logging_steps=1, eval_steps=1000, val_fraction=0.0, lora_r=4, lora_alpha=8,
                      allow_leakage=True)
    adapters = tmp_path / "adapters"
    folder = jobs.start(cfg, adapters)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not any(
            (r.get("step") or 0) >= 3 for r in jobs.status(adapters, "tiny-run").log):
        assert jobs.is_running(folder), jobs.status(adapters, "tiny-run").tail
        time.sleep(0.5)
    pid = json.loads((folder / jobs.JOB).read_text())["pid"]
    os.killpg(os.getpgid(pid), signal.SIGKILL)  # a crash: no chance to save anything more
    while jobs.is_running(folder):
        time.sleep(0.2)
    # A kill during a save leaves a checkpoint without trainer_state.json: only complete ones count.
    saved = sorted(int(p.name.split("-")[-1]) for p in (folder / "checkpoints").glob("checkpoint-*")
                   if (p / "trainer_state.json").is_file())
    assert saved and saved[-1] >= 2
    jobs.start(TrainConfig(**{**cfg.to_dict(), "max_steps": saved[-1] + 2, "data": (str(data),),
                              "target_modules": tuple(cfg.target_modules)}), adapters)
    deadline = time.monotonic() + 180
    while jobs.is_running(folder) and time.monotonic() < deadline:
        time.sleep(0.5)
    st = jobs.status(adapters, "tiny-run")
    assert st.finished, st.tail
    starts = [r for r in st.log if r.get("event") == "start"]
    assert starts[-1]["resumed_from_step"] == saved[-1]  # continued from the last checkpoint, not from zero
