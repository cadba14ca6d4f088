"""Export as a child process, through the Export tab's functions: bad input refused before anything starts,
the report shown at the end, a reload sees the running job, Stop ends it and leaves no partial output.

The child is `tests/export_child.py`, the real CLI with the merge replaced by a small slow write, so no model
is loaded."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import gradio as gr
import pytest
from conftest import wait_for_job

from medgemma.config import AppConfig
from medgemma.errors import InputError
from medgemma.export import jobs as export_jobs
from medgemma.export.cli import read_progress
from medgemma.runtime import Runtime
from medgemma.ui import export as tab

CHILD = Path(__file__).resolve().parent / "export_child.py"
FORMATS = ["adapter", "merged"]


def child(seconds: float) -> tuple[str, ...]:
    return (sys.executable, str(CHILD), str(seconds))


def runtime(tmp_path: Path) -> Runtime:
    cfg = AppConfig(adapters_dir=tmp_path / "adapters", exports_dir=tmp_path / "exports")
    adapter = cfg.adapters_dir / "medic"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}", encoding="utf-8")
    (adapter / "adapter_model.safetensors").write_bytes(b"lora")
    return Runtime(cfg)  # the tab reads only its config


def wait(exports_dir: Path, until, seconds: float = 60) -> export_jobs.ExportJob:  # type: ignore[no-untyped-def]
    return wait_for_job(lambda: export_jobs.status(exports_dir), until, seconds)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []


def test_bad_input_is_refused_before_anything_starts(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    for name, match in (("missing", "medic"), ("../medic", "not allowed"), (str(tmp_path / "adapters" / "medic"),
                                                                            "not allowed"), ("", "Choose an adapter")):
        with pytest.raises(InputError, match=match):
            tab.start(rt, name, FORMATS, "float16", "f16", command=child(0))
    with pytest.raises(InputError, match="Unknown export format"):
        tab.start(rt, "medic", ["adapter", "zip"], "float16", "f16", command=child(0))
    with pytest.raises(InputError, match="precision"):
        tab.start(rt, "medic", FORMATS, "int3", "f16", command=child(0))
    assert not rt.cfg.exports_dir.exists()
    assert tab.stop_job(rt.cfg.exports_dir) == "No export is running."
    assert tab.poll(rt.cfg.exports_dir, "")[:3] == ("", "", "")


def test_an_export_started_from_the_tab_shows_its_report(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    exports = rt.cfg.exports_dir
    assert "Started" in tab.start(rt, "medic", FORMATS, "float16", "f16", command=child(0))
    job = wait(exports, lambda j: not j.running)
    assert job.out == exports / "medic" and job.progress["state"] == "finished", job.tail
    assert job.progress["done"] == job.progress["total"] == 2
    key, line, tail, rows, paths = tab.poll(exports, "")
    assert "finished: 2/2 steps" in line and "Export of medic" in tail
    assert ["merged", "passed", "True"] in rows  # the same table the tab showed before
    assert any(p.endswith("export_report.json") for p in paths) and any("merged" in p for p in paths)
    assert tab.poll(exports, key)[3:] == (gr.skip(),) * 2  # later polls do not send the files again


def test_a_reload_sees_the_running_export_and_stop_leaves_no_partial_output(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    exports = rt.cfg.exports_dir
    out = exports / "medic"
    tab.start(rt, "medic", FORMATS, "float16", "f16", command=child(30))
    job = wait(exports, lambda j: j.progress.get("step") == "merged")
    assert job.running and job.progress["done"] == 1
    with pytest.raises(InputError, match="already running"):
        tab.start(rt, "medic", FORMATS, "float16", "f16", command=child(0))
    key, line, *_ = tab.poll(exports, "")  # a new page sees the export under way
    assert "running: step 2/2, merged" in line
    assert tab.poll(exports, "")[:2] == (key, line)  # and so does another

    time.sleep(0.5)  # well inside the merge's folder swap
    assert tab.stop_job(exports).startswith("Stopping")
    job = wait(exports, lambda j: not j.running, 30)
    assert job.progress["state"] == "stopped" and read_progress(out)["done"] == 1, job.tail
    assert not (out / "merged").exists() and leftovers(out) == []  # the half-made merge is gone
    assert (out / "adapter" / "adapter_model.safetensors").is_file()  # the step before it stays
    _, line, _, rows, paths = tab.poll(exports, "")
    assert "stopped: 1/2 steps" in line and any(p.endswith("export_report.json") for p in paths)


def test_a_stopped_export_leaves_the_previous_output(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    exports = rt.cfg.exports_dir
    merged = exports / "medic" / "merged"
    tab.start(rt, "medic", FORMATS, "float16", "f16", command=child(0))
    assert wait(exports, lambda j: not j.running).progress["state"] == "finished"
    before = sorted(p.name for p in merged.iterdir())
    tab.start(rt, "medic", FORMATS, "float16", "f16", command=child(30))
    wait(exports, lambda j: j.progress.get("step") == "merged")
    time.sleep(0.5)
    tab.stop_job(exports)
    assert wait(exports, lambda j: not j.running, 30).progress["state"] == "stopped"
    assert sorted(p.name for p in merged.iterdir()) == before and "model.safetensors" in before
    assert leftovers(merged.parent) == []
