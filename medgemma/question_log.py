"""The teaching-review log of questions: off by default, so the app keeps no question text anywhere.

With `log_questions` on (MEDGEMMA_LOG_QUESTIONS=1) each question a door accepts (the web page and embed, the
Gradio API, `/v1/chat/completions`, the MCP `ask` and `triage` tools) is appended to
`logs_dir/questions-YYYY-MM-DD.jsonl` as `{"time", "door", "action", "category", "question"}`: no address, no
session, no answer. Files older than `log_keep_days` are deleted when a new day's file starts and at start-up.
See docs/governance/privacy.md. Search queries and texts sent for embedding are never kept.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from .types import Verdict

PREFIX = "questions-"


class QuestionLog:
    """Appends accepted questions to a dated JSONL file when enabled; does nothing otherwise. Thread-safe."""

    def __init__(self, folder: Path, enabled: bool = False, keep_days: int = 30) -> None:
        self.folder, self.enabled, self.keep_days = Path(folder), enabled, keep_days
        self._lock = threading.Lock()
        self._day = ""
        if enabled:
            self.prune()

    def record(self, door: str, question: str, verdict: Verdict) -> None:
        """Keep `question` (already checked) with the door it came through and its verdict, if enabled."""
        if not self.enabled:
            return
        now = time.gmtime()
        day = time.strftime("%Y-%m-%d", now)
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", now), "door": door, "action": verdict.action,
                           "category": verdict.category, "question": question}, ensure_ascii=False)
        with self._lock:
            if day != self._day:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._day = day
                self._prune_locked()
            with open(self.folder / f"{PREFIX}{day}.jsonl", "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def prune(self) -> int:
        """Delete the day files older than `keep_days`; returns how many went."""
        with self._lock:
            return self._prune_locked()

    def _prune_locked(self) -> int:
        if not self.folder.is_dir():
            return 0
        cutoff = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400 * self.keep_days))
        removed = 0
        for f in self.folder.glob(f"{PREFIX}*.jsonl"):
            if f.stem[len(PREFIX):] < cutoff:
                f.unlink(missing_ok=True)
                removed += 1
        return removed
