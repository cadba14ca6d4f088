"""The statistics of bench/load_bench.py on hand-made records (no app, no network)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pytest

PATH = Path(__file__).resolve().parents[1] / "bench" / "load_bench.py"
spec = importlib.util.spec_from_file_location("load_bench", PATH)
assert spec is not None and spec.loader is not None
lb = importlib.util.module_from_spec(spec)
sys.modules["load_bench"] = lb  # dataclasses look their module up there
spec.loader.exec_module(lb)


def rec(client: int, start: float, ttft: float | None, end: float, kind: str = "answer", ok: bool = True,
        error_type: str = "", pieces: int = 10, chars: int = 50, phase: str = "load") -> Any:
    return lb.Record("openai", phase, client, "q", kind, start=start, end=end, ttft=ttft, kind=kind, ok=ok,
                     error_type=error_type, pieces=pieces, generated_chars=chars)


def test_percentile_interpolates_between_ranks() -> None:
    assert lb.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert lb.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert lb.percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert lb.percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert lb.percentile([5.0], 95) == 5.0
    assert lb.percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    assert math.isnan(lb.percentile([], 50))


def test_summary_separates_model_answers_from_gated_replies_and_errors() -> None:
    records = [
        rec(0, 0.0, 2.0, 4.0),
        rec(1, 0.0, 6.0, 8.0),
        rec(1, 8.0, 0.1, 8.1, kind="emergency", pieces=0, chars=0),
        rec(0, 4.0, None, 5.0, ok=False, error_type="HTTP 503 backend_error"),
        rec(0, 6.0, 3.0, 12.0),  # started before the 10 s deadline, finished 2 s after it
    ]
    base = [rec(0, 0.0, 1.0, 2.0, phase="baseline"), rec(0, 2.0, 1.0, 4.0, phase="baseline")]
    s = lb.summarize(records, 10.0, 2, base)
    assert (s["requests"], s["completed"], s["answers"], s["emergency"], s["refused"]) == (5, 4, 3, 1, 0)
    assert s["errors"] == {"HTTP 503 backend_error": 1}
    assert s["drain_s"] == pytest.approx(2.0)
    assert s["model"]["ttft"]["p50"] == 3.0 and s["model"]["ttft"]["max"] == 6.0
    assert s["gated"]["total"]["n"] == 1
    assert s["baseline"] == {"n": 2, "ttft_p50": 1.0, "total_p50": 2.0}
    assert s["ratio_ttft_p50"] == pytest.approx(3.0)
    assert s["answers_per_min"] == pytest.approx(3 / 12 * 60)  # over the run and its drain
    assert s["pieces_per_s"] == pytest.approx(30 / 12)


def test_fairness_reports_each_clients_median_and_starved_clients() -> None:
    records = [rec(0, 0, 1.0, 1), rec(0, 1, 3.0, 4), rec(1, 0, 10.0, 11),
               rec(2, 0, 0.1, 0.2, kind="refused")]
    f = lb.fairness(records, 3)
    assert (f["median_ttft_min"], f["median_ttft_max"]) == (2.0, 10.0)
    assert (f["requests_min"], f["requests_max"]) == (1, 2)
    assert f["starved"] == [2]  # client 2 got no model answer
    assert f["overtaken"] == 0


def test_fairness_counts_answers_overtaken_by_later_requests() -> None:
    early, late = rec(0, 0.0, 20.0, 25.0), rec(1, 5.0, 2.0, 10.0)  # asked 5 s later, first token 13 s sooner
    assert lb.fairness([early, late], 2)["overtaken"] == 1
    close = rec(1, 0.5, 2.0, 3.0)  # within the slack: simultaneous arrivals may go in any order
    assert lb.fairness([early, close], 2)["overtaken"] == 0


def test_question_list_mixes_kinds() -> None:
    kinds = [k for _, k in lb.QUESTIONS]
    assert len(lb.QUESTIONS) == 20 and kinds.count("emergency") == 2 and kinds.count("refused") == 1
    assert [lb.kind_of(a) for a in ("answer", "educate", "emergency", "refuse", None)] == \
        ["answer", "answer", "emergency", "refused", "answer"]
