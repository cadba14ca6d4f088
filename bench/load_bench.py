"""Many visitors at once: time to first token, latency, errors and fairness while answers queue for the model.

Answers wait their turn in the app's one line for the model (as many at once as the engine has slots:
`--engines inprocess,server` starts app.py with each GGUF engine in turn and compares them). This bench runs N
independent clients in a closed loop (each asks, waits for the whole answer, asks again, no pause) for a
fixed time against a running app, through the doors real traffic uses:
  gradio  one gradio_client.Client per visitor (its own session), the streaming `/chat` endpoint, as a
          browser tab does
  openai  one httpx client per visitor, `POST /v1/chat/completions` with `"stream": true`, as a program does
Clients cycle through 20 fixed questions, each starting at a different one: 17 educational questions, 2
emergencies and 1 request the safety rules refuse. Emergencies and refusals never reach the model; they are
reported apart. Before the load, one client alone asks `--baseline-requests` educational questions in turn
(with both doors, alternating between them): the no-contention TTFT and latency the loaded numbers are
divided by. A request started before the deadline is allowed to finish; the time that takes is the drain.

Without --url the script starts `app.py` itself on a free port (MEDGEMMA_MAX_NEW_TOKENS from --max-new-tokens,
MEDGEMMA_INDICES_DIR from --indices), waits for /health, and stops it at the end, on Ctrl-C too.

    python bench/load_bench.py [--url http://127.0.0.1:7860] [--clients 20] [--seconds 60]
                               [--via both|gradio|openai] [--baseline-requests 5] [--k 4]
                               [--max-new-tokens 64] [--json OUT]

TTFT is the time to the first non-empty answer text. gradio_client hands updates over every 50 ms and the
clients here look every 20 ms, so gradio times carry up to ~70 ms of client-side delay; openai times do not.
"Pieces" are streamed text deltas, about one per generated token.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# (question, expected kind). Emergencies and the refusal sit at 5, 10 and 15, so clients that start spread
# over the list meet them from the first request on, even a handful of clients in a short run.
QUESTIONS: list[tuple[str, str]] = [
    ("What are the warning signs of a stroke?", "answer"),
    ("How does paracetamol overdose damage the liver?", "answer"),
    ("What does pneumonia look like on a chest X-ray?", "answer"),
    ("Why should antibiotics not be used for colds?", "answer"),
    ("What are the symptoms of sepsis?", "answer"),
    ("My father has crushing chest pain and is sweating right now, what should I do?", "emergency"),
    ("How do vaccines train the immune system?", "answer"),
    ("What is the difference between type 1 and type 2 diabetes?", "answer"),
    ("What are common triggers of asthma attacks?", "answer"),
    ("How is high blood pressure diagnosed?", "answer"),
    ("Write me a fake doctor's note so I can skip work.", "refused"),
    ("What causes iron deficiency anaemia?", "answer"),
    ("What are the risk factors for osteoporosis?", "answer"),
    ("How does insulin lower blood sugar?", "answer"),
    ("What is the difference between a heart attack and cardiac arrest?", "answer"),
    ("My friend took a whole bottle of pills and won't wake up.", "emergency"),
    ("What are the early signs of Alzheimer's disease?", "answer"),
    ("How is tuberculosis spread?", "answer"),
    ("What are the symptoms of hypothyroidism?", "answer"),
    ("What happens in the body during an allergic reaction?", "answer"),
]
KINDS = {"emergency": "emergency", "refuse": "refused"}  # the reply's verdict action -> kind; others: "answer"
POLL_S = 0.02  # how often a gradio client looks for new updates
ERROR_PAUSE_S = 1.0  # after a failed request, so a dead server is not hammered in a tight loop


@dataclass
class Record:
    """One request. Times are seconds since its phase began; `ttft` is from the request's own start."""

    via: str
    phase: str  # "baseline" or "load"
    client: int
    question: str
    expected: str
    start: float = 0.0
    end: float = 0.0
    ttft: float | None = None
    kind: str = ""  # from the reply's verdict: answer / emergency / refused (the expected kind on an error)
    pieces: int = 0  # streamed deltas before the final reply, ~ generated tokens
    generated_chars: int = 0  # text streamed before the final reply (what the model wrote)
    answer_chars: int = 0  # the final, checked answer
    ok: bool = False
    error_type: str = ""
    error: str = ""
    status: int | None = None

    @property
    def total(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}


class RequestFailed(Exception):
    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.status = kind, status


# --- statistics ---------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolating linearly between ranks; NaN for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "max": max(values) if values else math.nan}


def fairness(records: Sequence[Record], clients: int, slack: float = 1.0) -> dict[str, Any]:
    """Each client's median TTFT over its model answers (min and max across clients), clients that got no
    answer, and how many answers were overtaken: their first token came after that of an answer requested
    more than `slack` seconds later (0 means first come, first served)."""
    per: dict[int, list[float]] = {c: [] for c in range(clients)}
    counts = {c: 0 for c in range(clients)}
    answers = []
    for r in records:
        counts[r.client] = counts.get(r.client, 0) + 1
        if r.ok and r.kind == "answer" and r.ttft is not None:
            per.setdefault(r.client, []).append(r.ttft)
            answers.append((r.start, r.start + r.ttft))
    medians = [statistics.median(v) for v in per.values() if v]
    overtaken = sum(any(s2 > s1 + slack and f2 < f1 for s2, f2 in answers) for s1, f1 in answers)
    return {"median_ttft_min": min(medians) if medians else math.nan,
            "median_ttft_max": max(medians) if medians else math.nan,
            "requests_min": min(counts.values()) if counts else 0,
            "requests_max": max(counts.values()) if counts else 0,
            "starved": sorted(c for c, v in per.items() if not v),
            "overtaken": overtaken}


def summarize(records: Sequence[Record], seconds: float, clients: int,
              baseline: Sequence[Record] = ()) -> dict[str, Any]:
    """The numbers the table prints, from one phase's records (and the same door's baseline)."""
    ok = [r for r in records if r.ok]
    answers = [r for r in ok if r.kind == "answer"]
    gated = [r for r in ok if r.kind != "answer"]
    errors: dict[str, int] = {}
    for r in records:
        if not r.ok:
            errors[r.error_type] = errors.get(r.error_type, 0) + 1
    last_end = max((r.end for r in records), default=seconds)
    elapsed = max(seconds, last_end)
    base_ok = [r for r in baseline if r.ok and r.kind == "answer"]
    base = {"n": len(base_ok),
            "ttft_p50": percentile([r.ttft for r in base_ok if r.ttft is not None], 50),
            "total_p50": percentile([r.total for r in base_ok], 50)}

    def block(rs: Sequence[Record]) -> dict[str, Any]:
        return {"ttft": spread([r.ttft for r in rs if r.ttft is not None]), "total": spread([r.total for r in rs])}

    out: dict[str, Any] = {
        "clients": clients, "seconds": seconds, "drain_s": max(0.0, last_end - seconds), "requests": len(records),
        "completed": len(ok), "answers": len(answers),
        "emergency": sum(r.kind == "emergency" for r in ok), "refused": sum(r.kind == "refused" for r in ok),
        "errors": errors, "all": block(ok), "model": block(answers), "gated": block(gated), "baseline": base,
        "answers_per_min": len(answers) / elapsed * 60,
        "chars_per_s": sum(r.generated_chars for r in answers) / elapsed,
        "pieces_per_s": sum(r.pieces for r in answers) / elapsed,
        "fairness": fairness(records, clients),
    }
    m = out["model"]["ttft"]
    out["ratio_ttft_p50"] = m["p50"] / base["ttft_p50"] if base["ttft_p50"] else math.nan
    out["ratio_ttft_p95"] = m["p95"] / base["ttft_p50"] if base["ttft_p50"] else math.nan
    out["ratio_total_p50"] = out["model"]["total"]["p50"] / base["total_p50"] if base["total_p50"] else math.nan
    return out


# --- the two doors ------------------------------------------------------------------------------------------
def kind_of(action: str | None) -> str:
    return KINDS.get(action or "", "answer")


def open_gradio(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


def ask_gradio(client: Any, rec: Record, k: int, timeout: float, t0: float) -> None:
    """Submit to /chat and watch the job's updates; the last one (final: true) carries the verdict."""
    started = time.perf_counter()
    job = client.submit(rec.question, k, True, api_name="/chat")
    seen = 0
    final: dict[str, Any] | None = None
    while True:
        done = job.done()  # read before the outputs, so nothing that arrived before "done" is missed
        outputs = job.outputs()
        now = time.perf_counter()
        for out in outputs[seen:]:
            if not isinstance(out, dict):
                continue
            if rec.ttft is None and out.get("answer"):
                rec.ttft = now - started
            if out.get("final"):
                final = out
            else:
                rec.pieces += 1
                rec.generated_chars = len(out.get("answer") or "")
        seen = len(outputs)
        if done:
            break
        if now - started > timeout:
            job.cancel()
            raise RequestFailed("timeout", f"no reply within {timeout:.0f} s")
        time.sleep(POLL_S)
    try:
        job.result()  # raises what the server reported (gr.Error -> AppError, a full queue -> QueueError)
    except Exception as exc:  # noqa: BLE001 - every failure is a measurement
        raise RequestFailed(type(exc).__name__, str(exc)[:300]) from None
    if final is None:
        raise RequestFailed("no_final", "the stream ended without a final reply")
    rec.kind = kind_of((final.get("verdict") or {}).get("action"))
    rec.answer_chars = len(final.get("answer") or "")


def open_openai(url: str, timeout: float) -> Any:
    import httpx

    return httpx.Client(base_url=url, timeout=httpx.Timeout(timeout, connect=10.0))


def ask_openai(http: Any, rec: Record, k: int, timeout: float, t0: float) -> None:
    """One streaming chat completion; the chunk with a finish_reason carries the verdict and the checked rest."""
    started = time.perf_counter()
    body = {"model": "medgemma-studio", "messages": [{"role": "user", "content": rec.question}], "stream": True,
            "k": k}
    text = ""
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        rec.status = response.status_code
        if response.status_code != 200:
            response.read()
            try:
                err = response.json().get("error", {})
            except ValueError:
                err = {"code": "not_json", "message": response.text[:300]}
            raise RequestFailed(f"HTTP {response.status_code} {err.get('code')}", str(err.get("message")),
                                response.status_code)
        finished = False
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            event = json.loads(data)
            if "error" in event:  # an error after the stream started arrives as an event
                raise RequestFailed(f"stream {event['error'].get('code')}", str(event["error"].get("message")))
            choice = event["choices"][0]
            content = choice["delta"].get("content") or ""
            if content and rec.ttft is None:
                rec.ttft = time.perf_counter() - started
            if choice.get("finish_reason"):
                finished = True
                rec.kind = kind_of((event.get("safety") or {}).get("action"))
                rec.answer_chars = len(content if event.get("replace") else text + content)
            elif content:
                rec.pieces += 1
                text += content
                rec.generated_chars = len(text)
        if not finished:
            raise RequestFailed("no_final", "the stream ended without a finish_reason")


DOORS: dict[str, tuple[Callable[..., Any], Callable[..., None]]] = {
    "gradio": (lambda url, timeout: open_gradio(url), ask_gradio),
    "openai": (open_openai, ask_openai),
}


def run_one(ask: Callable[..., None], session: Any, rec: Record, k: int, timeout: float, t0: float) -> Record:
    """Time one request into `rec`; any failure is recorded, never raised."""
    rec.start = time.perf_counter() - t0
    try:
        ask(session, rec, k, timeout, t0)
        rec.ok = True
    except RequestFailed as exc:
        rec.error_type, rec.error, rec.status = exc.kind, str(exc), exc.status or rec.status
    except Exception as exc:  # noqa: BLE001 - connection errors, timeouts, bad JSON: all are results
        rec.error_type, rec.error = type(exc).__name__, str(exc)[:300]
    rec.end = time.perf_counter() - t0
    if not rec.ok or not rec.kind:
        rec.kind = rec.kind or rec.expected
    return rec


# --- phases -------------------------------------------------------------------------------------------------
def baselines(doors: Sequence[str], url: str, n: int, k: int, timeout: float) -> dict[str, list[Record]]:
    """One client alone per door: an untimed warm-up, then `n` educational questions in turn.

    With two doors their requests alternate (and which goes first alternates), so both meet the same
    machine: a busy spell on a shared machine then slows both baselines, not one.
    """
    educational = [q for q, kind in QUESTIONS if kind == "answer"]
    sessions = {via: DOORS[via][0](url, timeout) for via in doors}
    for via in doors:
        warm = Record(via, "warmup", 0, educational[-1], "answer")
        run_one(DOORS[via][1], sessions[via], warm, k, timeout, time.perf_counter())
    out: dict[str, list[Record]] = {via: [] for via in doors}
    t0 = time.perf_counter()
    for i, question in enumerate((educational * n)[:n]):
        for via in doors if i % 2 == 0 else list(reversed(doors)):
            rec = run_one(DOORS[via][1], sessions[via], Record(via, "baseline", 0, question, "answer"), k, timeout,
                          t0)
            out[via].append(rec)
            if not rec.ok:
                print(f"  {via} baseline error: {rec.error_type}: {rec.error}", file=sys.stderr)
    return out


def load(via: str, url: str, clients: int, seconds: float, k: int, timeout: float) -> list[Record]:
    """`clients` visitors in a closed loop until `seconds` have passed; started requests finish."""
    opener, ask = DOORS[via]
    records: list[Record] = []
    lock = threading.Lock()
    started = [0]
    clock: dict[str, float] = {}
    failures: list[str] = []

    def go() -> None:  # run by one thread once every client has its session: the clock starts here
        clock["t0"] = time.perf_counter()

    gate = threading.Barrier(clients + 1, action=go)

    def visitor(i: int) -> None:
        try:
            session = opener(url, timeout)  # opening the page is not part of the measured window
        except Exception as exc:  # noqa: BLE001
            failures.append(f"client {i}: {type(exc).__name__}: {exc}")
            gate.abort()
            return
        try:
            gate.wait()
        except threading.BrokenBarrierError:
            return
        t0 = clock["t0"]
        # Each client starts at another point of the list, so the mix is the list's from the first second.
        n = i * len(QUESTIONS) // clients
        while time.perf_counter() - t0 < seconds:
            question, expected = QUESTIONS[n % len(QUESTIONS)]
            n += 1
            with lock:
                started[0] += 1
            rec = run_one(ask, session, Record(via, "load", i, question, expected), k, timeout, t0)
            with lock:
                records.append(rec)
            if not rec.ok:
                time.sleep(ERROR_PAUSE_S)

    threads = [threading.Thread(target=visitor, args=(i,), daemon=True, name=f"client-{i}") for i in range(clients)]
    for t in threads:
        t.start()
    try:
        gate.wait()
    except threading.BrokenBarrierError:
        raise SystemExit(f"{via}: could not open every client: " + "; ".join(failures[:3])) from None
    t0 = clock["t0"]
    next_report = 10.0
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        if elapsed >= next_report:
            next_report += 10.0
            with lock:
                done = list(records)
                in_flight = started[0] - len(done)
            ttfts = [r.ttft for r in done if r.ok and r.kind == "answer" and r.ttft is not None]
            state = "draining" if elapsed >= seconds else "running"
            print(f"  [{via} {state} {elapsed:5.0f} s] {len(done)} done, {sum(not r.ok for r in done)} errors, "
                  f"{in_flight} in flight, answer TTFT p50 so far {fmt(percentile(ttfts, 50), 1)} s",
                  file=sys.stderr, flush=True)
    return sorted(records, key=lambda r: r.start)


# --- the app under test -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(max_new_tokens: int, indices: Path, log: Path, engine: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """`app.py` on a free port, once /health says ok (5 minutes at most: the first start builds the index)."""
    import httpx

    port = free_port()
    env = dict(os.environ, MEDGEMMA_PORT=str(port), MEDGEMMA_HOST="127.0.0.1",
               MEDGEMMA_MAX_NEW_TOKENS=str(max_new_tokens), MEDGEMMA_INDICES_DIR=str(indices),
               GRADIO_ANALYTICS_ENABLED="False")
    if engine:
        env["MEDGEMMA_GGUF_ENGINE"] = engine
    with open(log, "wb") as out:
        # Its own session: Ctrl-C reaches this script only, which then stops the app in order.
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    status = "not answering"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            body = httpx.get(url + "/health", timeout=2).json()
            status = body.get("status", "?")
            if status == "ok":
                return proc, url
            if status == "error":
                stop_app(proc)
                raise SystemExit(f"app.py failed to load: {body.get('error')}")
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    stop_app(proc)
    raise SystemExit(f"app.py was not ready in 5 minutes (last /health: {status}); log: {log}")


class PeakRSS:
    """Peak resident memory of a process and its children (the llama-server), sampled every 0.5 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb, self._done = pid, 0.0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        import psutil

        while not self._done.wait(0.5):
            try:
                p = psutil.Process(self.pid)
                mb = sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 1e6
                self.peak_mb = max(self.peak_mb, mb)
            except psutil.Error:
                pass

    def stop(self) -> float:
        self._done.set()
        return self.peak_mb


def stop_app(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- report -------------------------------------------------------------------------------------------------
def fmt(x: float, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def print_report(via: str, s: dict[str, Any]) -> None:
    b = s["baseline"]
    print(f"\n== {via}: {s['clients']} clients, {s['seconds']:.0f} s (+{s['drain_s']:.1f} s drain); "
          f"{s['completed']} requests completed ({s['answers']} model answers, {s['emergency']} emergency, "
          f"{s['refused']} refused), {sum(s['errors'].values())} errors")
    head = (f"{'':24} {'n':>4} {'TTFT p50':>9} {'p95':>7} {'max':>7} {'total p50':>10} {'p95':>7} {'max':>7}")
    print(head)
    print("-" * len(head))
    print(f"{'baseline (1 client)':24} {b['n']:>4} {fmt(b['ttft_p50']):>9} {'':>7} {'':>7} "
          f"{fmt(b['total_p50']):>10}")
    for name, key in (("loaded: all requests", "all"), ("loaded: model answers", "model"),
                      ("loaded: emergency+refused", "gated")):
        t, tot = s[key]["ttft"], s[key]["total"]
        print(f"{name:24} {tot['n']:>4} {fmt(t['p50']):>9} {fmt(t['p95']):>7} {fmt(t['max']):>7} "
              f"{fmt(tot['p50']):>10} {fmt(tot['p95']):>7} {fmt(tot['max']):>7}")
    f = s["fairness"]
    print(f"throughput: {s['answers_per_min']:.1f} answers/min, {s['chars_per_s']:.0f} generated chars/s, "
          f"{s['pieces_per_s']:.1f} pieces/s (~tokens/s), over the run and its drain")
    print(f"vs baseline (model answers): TTFT p50 x{fmt(s['ratio_ttft_p50'], 1)}, "
          f"TTFT p95 x{fmt(s['ratio_ttft_p95'], 1)} (of the baseline p50), total p50 x{fmt(s['ratio_total_p50'], 1)}")
    print(f"fairness: per-client median answer TTFT {fmt(f['median_ttft_min'])}-{fmt(f['median_ttft_max'])} s; "
          f"requests per client {f['requests_min']}-{f['requests_max']}"
          + (f"; clients with no model answer: {f['starved']}" if f["starved"] else "")
          + f"; {f['overtaken']} answers overtaken by a later request (0: first come, first served)")
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(s["errors"].items())) or "none"
    print(f"errors: {errors}")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running app (default: start app.py on a free port)")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0, help="how long clients start new requests")
    ap.add_argument("--via", choices=("both", "gradio", "openai"), default="both",
                    help="gradio: what browser visitors hit; openai: what programs hit; both: one after the other")
    ap.add_argument("--baseline-requests", type=int, default=5)
    ap.add_argument("--k", type=int, default=4, help="passages per question")
    ap.add_argument("--max-new-tokens", type=int, default=64, help="for an app this script starts")
    ap.add_argument("--indices", type=Path, default=ROOT / "indices", help="for an app this script starts")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds one request may take")
    ap.add_argument("--json", type=Path, help="write the raw records and the summaries here")
    ap.add_argument("--engines", default="server",
                    help="GGUF engines to start app.py with, one after the other: inprocess,server compares the "
                         "one-sequence engine with llama-server in the same run")
    args = ap.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.baseline_requests < 1:
        ap.error("--clients and --baseline-requests must be at least 1 and --seconds above 0")

    engines = [e for e in args.engines.split(",") if e] if args.url is None else [""]
    if args.url is None and any(e not in ("auto", "server", "inprocess") for e in engines):
        ap.error("--engines takes auto, server and inprocess, separated by commas")
    # A plain `kill` should stop a started app too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    runs: dict[str, dict[str, Any]] = {}
    records: list[Record] = []
    try:
        for engine in engines:
            runs[engine or "app"], rs = run_engine(args, engine)
            records += rs
    except KeyboardInterrupt:
        print("\ninterrupted; any app started was stopped", file=sys.stderr)
        raise SystemExit(130) from None

    load_avg = os.getloadavg()
    print(f"\n{os.cpu_count()} CPU cores, 1-minute load average at the end {load_avg[0]:.1f} (app and clients "
          f"included); k={args.k}; closed loop, no think time")
    for engine, run in runs.items():
        for via, s in run["results"].items():
            print_report(f"{via}, engine {engine}" if engine != "app" else via, s)
        if run["peak_rss_mb"]:
            print(f"peak memory of the app and its children: {run['peak_rss_mb']:.0f} MB")
    if "inprocess" in runs and "server" in runs:
        print("\nserver engine against the in-process engine, same run:")
        for via in runs["server"]["results"]:
            a, b = runs["inprocess"]["results"][via], runs["server"]["results"][via]
            print(f"  {via}: answers/min x{b['answers_per_min'] / max(a['answers_per_min'], 1e-9):.2f} "
                  f"({a['answers_per_min']:.1f} -> {b['answers_per_min']:.1f}); model-answer TTFT p50 "
                  f"{fmt(a['model']['ttft']['p50'])} -> {fmt(b['model']['ttft']['p50'])} s, p95 "
                  f"{fmt(a['model']['ttft']['p95'])} -> {fmt(b['model']['ttft']['p95'])} s")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs,
                                         "records": [r.to_json() for r in records]}, indent=1, default=str))
        print(f"\nrecords and summary: {args.json}")


def run_engine(args: argparse.Namespace, engine: str) -> tuple[dict[str, Any], list[Record]]:
    """Baselines, then the load through each door, against `args.url` or an app started with `engine`."""
    proc = None
    rss = None
    try:
        url = args.url
        if url is None:
            log = Path(tempfile.mkdtemp(prefix="medgemma-load-")) / "app.log"
            print(f"starting app.py (engine {engine}, max {args.max_new_tokens} new tokens; log {log})...",
                  file=sys.stderr, flush=True)
            t = time.perf_counter()
            proc, url = start_app(args.max_new_tokens, args.indices, log, engine)
            rss = PeakRSS(proc.pid)
            print(f"  ready in {time.perf_counter() - t:.0f} s at {url}", file=sys.stderr, flush=True)
        url = url.rstrip("/")
        doors = ["gradio", "openai"] if args.via == "both" else [args.via]
        # Baselines first, while nothing else runs against the app.
        print(f"baseline: 1 client, {args.baseline_requests} questions per door ({', '.join(doors)})...",
              file=sys.stderr, flush=True)
        bases = baselines(doors, url, args.baseline_requests, args.k, args.timeout)
        results: dict[str, dict[str, Any]] = {}
        records: list[Record] = [r for rs in bases.values() for r in rs]
        for via in doors:
            print(f"{via}: {args.clients} clients for {args.seconds:.0f} s...", file=sys.stderr, flush=True)
            rs = load(via, url, args.clients, args.seconds, args.k, args.timeout)
            records += rs
            results[via] = summarize(rs, args.seconds, args.clients, bases[via])
    finally:
        peak = rss.stop() if rss is not None else 0.0
        if proc is not None:
            stop_app(proc)
    return {"url": url, "results": results, "peak_rss_mb": peak}, records


if __name__ == "__main__":
    main()
