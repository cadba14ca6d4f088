"""HTML for the citation panel and the safety banner. Everything from a passage is escaped."""

from __future__ import annotations

import html
from typing import Sequence
from urllib.parse import urlparse

from ..types import Passage, SentenceSupport, Verdict

BANNER_CLASS = {"answer": "ok", "educate": "personal", "urgent": "urgent", "emergency": "emergency",
                "refuse": "refused"}
BANNER_LABEL = {"emergency": "Emergency", "urgent": "See a clinician today", "educate": "Personal question",
                "refuse": "Request declined"}


def safety_banner(policy: str, verdict: Verdict | None = None) -> str:
    """The always-visible banner; it turns red for emergencies, orange for urgent and amber for personal questions."""
    kind = BANNER_CLASS.get(verdict.action, "ok") if verdict else "ok"
    extra = ""
    if verdict is not None and verdict.action in BANNER_LABEL:
        label = BANNER_LABEL[verdict.action]
        extra = f'<div class="mg-banner-note"><strong>{label}.</strong> {html.escape(verdict.message)}</div>'
    return (
        f'<div id="mg-safety-banner" class="mg-banner mg-{kind}" role="note">'
        f'<strong>Educational use only.</strong> {html.escape(policy)}{extra}</div>'
    )


def _safe_url(url: str) -> str:
    parsed = urlparse(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else ""


def sources_panel(passages: Sequence[Passage], cited: Sequence[int] = (),
                  support: Sequence[SentenceSupport] = ()) -> str:
    """One card per passage: number, title, source link, score and the quoted text; cited ones open. Above
    them, the sentences the answer check removed or marked, and why."""
    if not passages:
        return '<div class="mg-sources mg-empty">No sources were used for this answer.</div>'
    unbacked = [s for s in support if s.kind == "claim" and not s.supported]
    note = ""
    if unbacked:
        done = "marked" if all(s.kept for s in unbacked) else "removed"
        items = "".join(
            f"<li>{html.escape(s.sentence)}" + (f" <em>(no source says: {html.escape(', '.join(s.missing))})</em>"
                                                if s.missing else " <em>(too little of it is in any source)</em>")
            + "</li>" for s in unbacked)
        note = (f'<div class="mg-unsupported"><strong>{len(unbacked)} sentence{"s" * (len(unbacked) > 1)} '
                f'{done}</strong>: no passage below says {"them" if len(unbacked) > 1 else "it"}. Small models '
                f'often copy a sentence about something else and change a name or a number.<ul>{items}</ul></div>')
    cited_set = set(cited)
    cards = []
    for n, p in enumerate(passages, 1):
        url = _safe_url(p.url)
        source = html.escape(p.source or "source")
        link = f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{source}</a>' if url else source
        page = f" · page {p.page}" if p.page else ""
        reviewed = p.meta.get("reviewed", "")
        reviewed = f" · reviewed {html.escape(reviewed)}" if reviewed else ""
        state = " open" if n in cited_set else ""
        mark = '<span class="mg-cited">cited</span>' if n in cited_set else ""
        cards.append(
            f'<details class="mg-source" id="mg-source-{n}"{state}>'
            f'<summary><span class="mg-num">[{n}]</span> {html.escape(p.title or p.id)} {mark}</summary>'
            f'<div class="mg-meta">{link}{page}{reviewed} · similarity {p.score:.2f}</div>'
            f'<blockquote>{html.escape(p.text)}</blockquote></details>'
        )
    return '<div class="mg-sources">' + note + "".join(cards) + "</div>"


CSS = """
.mg-banner { padding: 10px 14px; border-radius: 8px; border: 1px solid #9ec5fe; background: #e7f1ff; color: #052c65; }
.mg-banner.mg-emergency { background: #f8d7da; border-color: #dc3545; color: #58151c; }
.mg-banner.mg-personal { background: #fff3cd; border-color: #ffc107; color: #664d03; }
.mg-banner.mg-urgent { background: #ffe5d0; border-color: #fd7e14; color: #5c2b00; }
.mg-banner.mg-refused { background: #e2e3e5; border-color: #6c757d; color: #2b2f32; }
.mg-banner-note { margin-top: 6px; }
.mg-unsupported { padding: 8px 12px; border-radius: 8px; border: 1px solid #ffc107; background: #fff8e1; color: #664d03; }
.mg-unsupported ul { margin: 4px 0 0 18px; }
.mg-sources { display: flex; flex-direction: column; gap: 8px; max-height: 560px; overflow-y: auto; }
.mg-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px; }
.mg-source summary { cursor: pointer; font-weight: 600; }
.mg-num { color: var(--color-accent); }
.mg-cited { font-size: 0.75em; background: #d1e7dd; color: #0a3622; border-radius: 4px; padding: 1px 5px; margin-left: 4px; }
.mg-meta { font-size: 0.85em; opacity: 0.8; margin: 4px 0; }
.mg-source blockquote { margin: 4px 0; font-size: 0.92em; }
.mg-empty { opacity: 0.7; font-style: italic; }
"""

# The embed layout lives in a narrow iframe: no page padding, a smaller sources list, a quiet footer.
EMBED_CSS = """
.gradio-container { padding: 6px !important; max-width: 100% !important; }
.gradio-container > .main { padding: 0 4px !important; }
#mg-banner .html-container, #mg-sources .html-container { padding: 0 !important; }
.row:has(#mg-question) { flex-wrap: wrap !important; }
.row:has(#mg-question) > .form { flex: 1 1 100% !important; min-width: 100% !important; }
#mg-ask, #mg-stop { flex: 1 1 40% !important; }
.mg-sources { max-height: 320px; }
.mg-embed-foot { font-size: 0.8em; opacity: 0.75; text-align: center; }
footer { display: none !important; }
"""
