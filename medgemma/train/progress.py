"""Progress of a run: the JSON-lines log the UI tails, the stop signal, and the Trainer callback that feeds both.

`train_log.jsonl` gets one JSON line per event (start, log, eval, summary, stopped, error, end), flushed as it is
written, so the UI can tail it and a page reload loses nothing. transformers is imported only when the callback is
built.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

Progress = Callable[[dict[str, Any]], None]

LOG_NAME = "train_log.jsonl"


def stop_requested(stop: Any) -> bool:
    """True when a stop signal is set; accepts threading.Event (is_set()) and StopSignal (is_set property)."""
    if stop is None:
        return False
    flag = getattr(stop, "is_set", False)
    return bool(flag() if callable(flag) else flag)


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def append_log(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and flush it, so a reader tailing the file sees whole lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")
        fh.flush()


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a train_log.jsonl (a torn last line is skipped)."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def reporter(log_path: Path, progress: Progress | None, stop: Any, target_loss: float | None) -> Any:
    """The callback that reports progress, logs JSON lines and stops the run (on `stop`, or at `target_loss`)."""
    from transformers import TrainerCallback

    class Reporter(TrainerCallback):  # type: ignore[misc, valid-type]
        """Reports progress, logs JSON lines, and stops on the stop signal or when the loss reaches its target."""

        def __init__(self) -> None:
            self.t0 = time.monotonic()
            self.step0 = 0
            self.loss: float | None = None
            self.eval_loss: float | None = None
            self.stopped = ""  # "", "stop" (the caller) or "target_loss"

        def info(self, state: Any) -> dict[str, Any]:
            elapsed = time.monotonic() - self.t0
            done = state.global_step - self.step0
            left = max(state.max_steps - state.global_step, 0)
            eta = elapsed / done * left if done > 0 else None
            return {"step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch,
                    "loss": self.loss, "eval_loss": self.eval_loss, "elapsed": round(elapsed, 2),
                    "eta": None if eta is None else round(eta, 2), "tokens": state.num_input_tokens_seen}

        def report(self, state: Any) -> None:
            if progress is not None:
                progress(self.info(state))

        def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[override]
            self.t0 = time.monotonic()
            self.step0 = state.global_step
            append_log(log_path, {"event": "start", "time": now(), **self.info(state),
                                  "resumed_from_step": state.global_step or None})
            self.report(state)
            return control

        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[override]
            if state.global_step >= state.max_steps:
                control.should_log = True  # so the final loss is in the log, whatever logging_steps is
            self.report(state)  # first: the progress callable may be what sets the stop signal
            if not self.stopped and stop_requested(stop):
                self.stopped = "stop"
                control.should_training_stop = True
                control.should_save = True  # checkpoint first, so the same settings resume from here
                control.should_log = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[override]
            logs = dict(logs or {})
            if "train_loss" in logs and "loss" not in logs:  # the Trainer's closing summary
                event = "summary"
            elif any(k.startswith("eval_") for k in logs):
                event = "eval"
                self.eval_loss = logs.get("eval_loss", self.eval_loss)
            else:
                event = "log"
                self.loss = logs.get("loss", self.loss)
            record = {"event": event, "time": now(), **self.info(state),
                      **{k: v for k, v in logs.items() if isinstance(v, (int, float, str)) or v is None}}
            append_log(log_path, record)
            if (event == "log" and target_loss is not None and self.loss is not None and self.loss < target_loss
                    and not self.stopped and state.global_step < state.max_steps):
                self.stopped = "target_loss"
                control.should_training_stop = True
                control.should_save = True  # this log precedes the step's save decision, so it saves now
            self.report(state)
            return control

    return Reporter()
