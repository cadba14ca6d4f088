"""Plotly figures of evaluation runs, for the Evaluation tab and each run's `report.html`."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Sequence

import plotly.graph_objects as go

from ..files import atomic_write_text

Metrics = dict[str, Any]


def reliability_figure(metrics: Metrics, title: str = "Reliability diagram") -> go.Figure | None:
    """Accuracy against confidence per bin; a calibrated model follows the diagonal."""
    bins = (metrics.get("calibration") or {}).get("bins") or []
    if not bins:
        return None
    mids = [(b["lower"] + b["upper"]) / 2 for b in bins]
    fig = go.Figure()
    fig.add_bar(x=mids, y=[b["accuracy"] for b in bins], width=[b["upper"] - b["lower"] for b in bins],
                name="accuracy", customdata=[b["count"] for b in bins],
                hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata} items<extra></extra>")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration", line={"dash": "dash"})
    ece = metrics["calibration"].get("ece")
    label = f"{title} (ECE {ece:.3f})" if isinstance(ece, float) else title
    fig.update_layout(title=label, xaxis_title="confidence", yaxis_title="accuracy",
                      xaxis_range=[0, 1], yaxis_range=[0, 1], height=380)
    return fig


def confusion_figure(metrics: Metrics, title: str = "Confusion matrix") -> go.Figure | None:
    """Gold labels (rows) against predictions (columns); the last column holds unparsed or other answers."""
    matrix = metrics.get("confusion")
    labels = metrics.get("labels")
    if not matrix or not labels:
        return None
    cols = [*labels, "other"][: len(matrix[0])]
    fig = go.Figure(go.Heatmap(z=matrix, x=cols, y=labels, colorscale="Blues", text=matrix,
                               texttemplate="%{text}", hovertemplate="gold %{y}<br>predicted %{x}<br>%{z}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="gold", yaxis_autorange="reversed",
                      height=380)
    return fig


def category_figure(metrics: Metrics, title: str = "By category") -> go.Figure | None:
    """The headline score per category as bars, with item counts on hover."""
    by_cat = metrics.get("by_category") or {}
    if not by_cat:
        return None
    key = _category_key(by_cat)
    names = list(by_cat)
    fig = go.Figure(go.Bar(x=names, y=[by_cat[c].get(key) for c in names],
                           customdata=[by_cat[c].get("n") for c in names],
                           hovertemplate="%{x}<br>" + key + " %{y:.2f}<br>%{customdata} items<extra></extra>"))
    fig.update_layout(title=f"{title}: {key}", yaxis_range=[0, 1], height=380)
    return fig


def comparison_heatmap(runs: Sequence[tuple[str, Metrics]], title: str = "By category and configuration") -> go.Figure | None:
    """Categories (rows) × runs (columns), coloured by each run's per-category score."""
    runs = [(name, m) for name, m in runs if m.get("by_category")]
    if not runs:
        return None
    cats = sorted({c for _, m in runs for c in m["by_category"]})
    key = _category_key(runs[0][1]["by_category"])
    z = [[(m["by_category"].get(c) or {}).get(key) for _, m in runs] for c in cats]
    fig = go.Figure(go.Heatmap(z=z, x=[name for name, _ in runs], y=cats, zmin=0, zmax=1, colorscale="RdYlGn",
                               text=[[("" if v is None else f"{v:.2f}") for v in row] for row in z],
                               texttemplate="%{text}"))
    fig.update_layout(title=f"{title}: {key}", height=max(320, 28 * len(cats) + 160))
    return fig


def _category_key(by_cat: dict[str, dict[str, Any]]) -> str:
    first = next(iter(by_cat.values()))
    for key in ("accuracy", "f1", "attack_success"):
        if key in first:
            return key
    return next(k for k in first if k != "n")


def headline_rows(metrics: Metrics) -> list[list[Any]]:
    """Rows of (figure, value, 95% interval) for a table."""
    rows = []
    for name, fig in (metrics.get("headline") or {}).items():
        low, high = fig.get("ci95") or [None, None]
        interval = f"{low:.3f}–{high:.3f}" if isinstance(low, float) and isinstance(high, float) else ""
        value = fig.get("value")
        rows.append([name, round(value, 4) if isinstance(value, float) else value, interval])
    base = metrics.get("baselines")
    if base:
        rows.append([f"majority baseline ({base['majority']['label']})", round(base["majority"]["accuracy"], 4), ""])
        rows.append(["chance baseline", round(base["chance"], 4), ""])
    return rows


def write_report(path: Path, metrics: Metrics, records: Sequence[dict[str, Any]]) -> None:
    """One self-contained HTML page: the headline table, the plots and the failed cases."""
    figures = [f for f in (category_figure(metrics), reliability_figure(metrics), confusion_figure(metrics)) if f]
    parts = [f"<h1>{html.escape(str(metrics.get('task', 'evaluation')))}</h1>",
             "<p>Educational evaluation of a medical QA configuration; not evidence of clinical safety.</p>",
             _table(["figure", "value", "95% interval"], headline_rows(metrics))]
    for i, fig in enumerate(figures):
        # plotly.js is embedded once, so the page opens offline.
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    failed = [r for r in records if r.get("correct") is False][:50]
    if failed:
        parts.append("<h2>Failed cases (first 50)</h2>")
        parts.append(_table(["id", "question", "reference", "prediction"],
                            [[r["id"], r["question"][:300], r["reference"][:200], str(r.get("prediction"))[:300]]
                             for r in failed]))
    parts.append(f"<details><summary>configuration</summary><pre>{html.escape(json.dumps(metrics.get('config'), indent=2))}</pre></details>")
    atomic_write_text(path, "<!doctype html><meta charset='utf-8'><title>Evaluation report</title>"
                            "<body style='font-family:sans-serif;max-width:1100px;margin:auto'>" + "\n".join(parts))


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table border='1' cellpadding='4' style='border-collapse:collapse'><tr>{cells}</tr>{body}</table>"
