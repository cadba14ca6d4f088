"""Who may do what in a public deployment: admin sign-in, per-visitor rate limits, one answer at a time per
visitor, and per-visitor upload folders.

Visitors are identified by a key the visitor cannot choose: `session:<hash>` for a Gradio session (a browser
tab), `addr:<address>` for a call without one (the HTTP API, Gradio's API endpoints). The two namespaces never
meet. Nothing here knows about Gradio or FastAPI.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import threading
import time
from collections import OrderedDict, deque
from contextlib import contextmanager
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator, Mapping, Sequence

import anyio

from .config import AccessConfig
from .errors import InputError, MedGemmaError
from .files import size_text

MAX_KEY_CHARS = 100  # an address longer than this is cut, so a key cannot grow memory
SIGN_IN_WINDOW_S = 600.0
SIGN_IN_FAILS_PER_VISITOR = 5  # failed admin sign-ins per visitor, and from everyone, per window
SIGN_IN_FAILS_TOTAL = 50
MAX_VISITORS = 10_000  # remembered visitors; the oldest are forgotten first
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
KEPT_SUFFIXES = (".jsonl.gz", ".json.gz", ".csv.gz", ".txt.gz", ".md.gz", ".jsonl", ".json", ".csv", ".txt", ".md",
                 ".pdf", ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".gz")


class AccessDenied(MedGemmaError):
    """The visitor is not allowed to do this in public mode."""


class RateLimited(MedGemmaError):
    """The visitor asked too often, or while an answer of theirs is still being written."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(RateLimited):
    """Every place in the line for the model is taken."""


def session_key(session_hash: str) -> str:
    """The key of a Gradio session."""
    return "session:" + session_hash[:MAX_KEY_CHARS]


def address_key(address: str) -> str:
    """The key of a caller without a session: their address."""
    return "addr:" + (address or "unknown")[:MAX_KEY_CHARS]


def client_address(peer: str | None, headers: Mapping[str, str], trusted_proxies: int) -> str:
    """The caller's address: the peer's, or with `trusted_proxies` proxies in front, the X-Forwarded-For entry
    the outermost trusted proxy appended. Entries before it are the client's own words and are never read."""
    peer = peer or "unknown"
    if trusted_proxies <= 0:
        return peer
    entries = [e.strip() for e in headers.get("x-forwarded-for", "").split(",") if e.strip()]
    if len(entries) < trusted_proxies:
        return peer  # not through the proxies: nothing in the header can be trusted
    return entries[-trusted_proxies] or peer


ADMIN_ONLY = ("This is a public demo: training, export, model switching and index changes need an admin "
              "sign-in. Run the studio on your own machine to use them freely.")


class Access:
    """The access rules of one running app. Thread-safe."""

    def __init__(self, cfg: AccessConfig, uploads_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.uploads_dir = uploads_dir
        self._clock = clock
        self._lock = threading.Lock()
        self._admins: OrderedDict[str, float] = OrderedDict()  # visitor -> when their sign-in ends
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()
        self._busy: set[str] = set()
        self._failed: OrderedDict[str, deque[float]] = OrderedDict()  # failed sign-ins, "" for everyone's
        self.turns = Turns(cfg.chat_concurrency, cfg.chat_concurrency + cfg.queue_size)

    @property
    def public(self) -> bool:
        return self.cfg.public

    # --- admin -------------------------------------------------------------------------------------------
    def is_admin(self, visitor: str, username: str | None = None) -> bool:
        """Whether `visitor` may use admin features: always outside public mode; else while signed in."""
        if not self.cfg.public:
            return True
        if username and username in self.cfg.admin_users:
            return True
        with self._lock:
            until = self._admins.get(visitor)
            if until is not None and self._clock() >= until:
                del self._admins[visitor]  # expired: a session hash seen in a log or a URL grants nothing later
                until = None
            return until is not None

    def sign_in(self, visitor: str, token: str) -> bool:
        """Admit `visitor` as admin if `token` matches the configured one (compared in constant time).

        Raises RateLimited after too many failed tries from this visitor, or from everyone, in ten minutes.
        """
        self._check_failures(visitor)
        if not self.cfg.admin_token or not token:
            return False
        if not hmac.compare_digest(token.encode(), self.cfg.admin_token.encode()):
            self._count_failure(visitor)
            return False
        self._admit(visitor)
        return True

    def sign_in_user(self, visitor: str, username: str | None) -> bool:
        """Admit `visitor` as admin if `username` (from a Hugging Face login) is one of the admin users."""
        if not username or username not in self.cfg.admin_users:
            return False
        self._admit(visitor)
        return True

    def sign_out(self, visitor: str) -> None:
        with self._lock:
            self._admins.pop(visitor, None)

    def _admit(self, visitor: str) -> None:
        with self._lock:
            self._admins[visitor] = self._clock() + 60.0 * self.cfg.admin_session_minutes
            _trim(self._admins)

    def _check_failures(self, visitor: str) -> None:
        now = self._clock()
        with self._lock:
            for who, most in ((visitor, SIGN_IN_FAILS_PER_VISITOR), ("", SIGN_IN_FAILS_TOTAL)):
                times = self._failed.get(who) or deque()
                while times and now - times[0] >= SIGN_IN_WINDOW_S:
                    times.popleft()
                if len(times) >= most:
                    wait = SIGN_IN_WINDOW_S - (now - times[0])
                    raise RateLimited(f"Too many wrong admin tokens; sign-in is closed for {wait / 60:.0f} min.",
                                      wait)

    def _count_failure(self, visitor: str) -> None:
        now = self._clock()
        with self._lock:
            for who in (visitor, ""):
                self._failed.setdefault(who, deque(maxlen=SIGN_IN_FAILS_TOTAL)).append(now)
                self._failed.move_to_end(who)
            _trim(self._failed)

    def require_admin(self, visitor: str, username: str | None = None) -> None:
        """Raise AccessDenied unless `visitor` may use admin features."""
        if not self.is_admin(visitor, username):
            raise AccessDenied(ADMIN_ONLY)

    # --- rate limits -------------------------------------------------------------------------------------
    def check_rate(self, visitor: str) -> None:
        """Count one question from `visitor`; raise RateLimited past `messages_per_minute` (public mode only).

        A sliding window of 60 seconds: a refused question is not counted.
        """
        if not self.cfg.public:
            return
        now = self._clock()
        with self._lock:
            times = self._recent.pop(visitor, None) or deque()
            while times and now - times[0] >= 60.0:
                times.popleft()
            self._recent[visitor] = times
            _trim(self._recent)
            if len(times) >= self.cfg.messages_per_minute:
                wait = 60.0 - (now - times[0])
                raise RateLimited(f"You have asked {len(times)} questions in the last minute, the most this "
                                  f"public demo allows. Please wait {wait:.0f} s.", wait)
            times.append(now)

    @contextmanager
    def one_at_a_time(self, visitor: str) -> Iterator[None]:
        """Hold while `visitor`'s answer is written; a second question from them meanwhile is refused (public
        mode only: on one's own machine, parallel requests from one address are a feature)."""
        if not self.cfg.public:
            yield
            return
        with self._lock:
            if visitor in self._busy:
                raise RateLimited("Your previous question is still being answered: wait for it or press Stop.",
                                  1.0)
            self._busy.add(visitor)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(visitor)

    # --- uploads -----------------------------------------------------------------------------------------
    def upload_folder(self, visitor: str) -> Path:
        """This visitor's own upload folder (named by a hash of their key, so keys never become paths)."""
        folder = self._folder_of(visitor)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def check_upload(self, path: Path, allowed: tuple[str, ...], larger: str = "") -> None:
        """Raise InputError if `path` is not a regular file of an allowed type within the upload limit;
        `larger` tells the visitor where a larger file can go instead."""
        self.check_uploads([path], allowed, larger)

    def check_uploads(self, paths: Sequence[Path], allowed: tuple[str, ...], larger: str = "") -> None:
        """`check_upload` for files sent together: each of an allowed type, all of them within the one limit."""
        for path in paths:
            if not path.is_file():
                raise InputError(f"{path.name}: the upload did not arrive; try again.")
            gz = path.name.lower().endswith(".gz")
            suffix = "".join(path.suffixes[-2:]).lower() if gz else path.suffix.lower()
            if suffix not in allowed:
                raise InputError(f"{path.name}: {suffix or 'no extension'} files are not accepted here "
                                 f"(accepted: {', '.join(allowed)}).")
        size = sum(path.stat().st_size for path in paths)
        if size > self.cfg.upload_bytes:
            what = f"{paths[0].name} is" if len(paths) == 1 else f"The {len(paths)} files add up to"
            raise InputError(f"{what} {size_text(size)}; the limit is {size_text(self.cfg.upload_bytes)}"
                             f"{' in all' if len(paths) > 1 else ''}. {larger}".rstrip())

    def keep_upload(self, visitor: str, path: Path, allowed: tuple[str, ...]) -> Path:
        """Check an uploaded file and copy it into the visitor's folder under a safe name; returns the copy."""
        self.check_upload(path, allowed)
        folder = self.upload_folder(visitor)
        target = (folder / safe_filename(path.name)).resolve()
        if target.parent != folder.resolve():  # cannot happen with safe_filename; checked because it matters
            raise InputError(f"{path.name}: not a valid file name.")
        tmp = target.with_name(f".{target.name}.part")
        shutil.copyfile(path, tmp)
        tmp.replace(target)
        self.prune_uploads(keep=target)
        return target

    def _folder_of(self, visitor: str) -> Path:
        return self.uploads_dir / hashlib.sha256(visitor.encode()).hexdigest()[:24]

    def delete_uploads(self, visitor: str) -> int:
        """Delete every file `visitor` uploaded (their folder goes too); returns how many files went."""
        folder = self._folder_of(visitor)
        if not folder.is_dir():
            return 0
        files = [f for f in folder.iterdir() if f.is_file()]
        shutil.rmtree(folder, ignore_errors=True)
        return len(files)

    def prune_uploads(self, keep: Path | None = None) -> int:
        """Delete uploads older than `upload_max_age_minutes`, then the oldest until all fit `uploads_total_mb`
        (public mode only). Returns how many files went. `keep` (the file just stored) stays."""
        if not self.cfg.public or not self.uploads_dir.is_dir():
            return 0
        now = time.time()
        files = []
        for f in self.uploads_dir.glob("*/*"):
            try:
                st = f.stat()
            except OSError:
                continue
            if f.is_file():
                files.append((st.st_mtime, st.st_size, f))
        files.sort()
        total = sum(size for _, size, _ in files)
        cap, max_age = self.cfg.uploads_total_mb * 1024 * 1024, 60.0 * self.cfg.upload_max_age_minutes
        removed = 0
        for mtime, size, f in files:
            if f == keep or (now - mtime < max_age and total <= cap):
                continue
            f.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed


class Ticket:
    """One place in the line for the model."""

    __slots__ = ("started", "done")

    def __init__(self) -> None:
        self.started: float | None = None
        self.done = False


class Turns:
    """The one line for the model, shared by every door (UI chat, embed, Gradio API, HTTP API, evaluation).

    First come, first served: at most `concurrency` answers run at once (the engine's parallel slots) and the
    rest wait in order. At most `limit` may be running or waiting; past that a new one is refused at once
    (`Busy`, with a retry time) rather than queued without end. A waiting visitor can be told their place and
    an estimate from recent answer times. Waiting in the async doors never holds a worker thread, so a
    crowd of API callers cannot use up the threads the UI runs on. Thread-safe.
    """

    POLL_S = 0.05

    def __init__(self, concurrency: int, limit: int) -> None:
        self.concurrency, self.limit = concurrency, limit
        self._cond = threading.Condition()
        self._line: deque[Ticket] = deque()
        self._running = 0
        self._answer_s = 10.0  # moving average of one answer's time, for the wait shown to visitors

    @property
    def waiting(self) -> int:
        """Answers running or waiting for the model now."""
        with self._cond:
            return self._running + len(self._line)

    def wait_estimate(self, ahead: int | None = None) -> float:
        """Seconds until an answer with `ahead` others before it in the line starts (default: a new one).
        With every slot busy, one frees about every `answer time / concurrency` seconds."""
        with self._cond:
            ahead = len(self._line) if ahead is None else ahead
            if ahead == 0 and self._running < self.concurrency:
                return 0.0
            return (ahead + 1) / self.concurrency * self._answer_s

    def join(self) -> Ticket:
        """A place at the end of the line, or `Busy` when the line is full."""
        with self._cond:
            if self._running + len(self._line) >= self.limit:
                wait = (len(self._line) + 1) / self.concurrency * self._answer_s
                raise Busy("The server is busy answering other questions; try again in a few seconds.",
                           max(5.0, wait))
            ticket = Ticket()
            self._line.append(ticket)
            return ticket

    def ahead(self, ticket: Ticket) -> int:
        """How many questions wait before `ticket`; 0 once it has started."""
        with self._cond:
            try:
                return self._line.index(ticket)
            except ValueError:
                return 0

    def _try_start(self, ticket: Ticket) -> bool:
        # Under the lock. Only the head of the line may start, so no one is overtaken.
        if ticket.started is not None:
            return True
        if ticket.done:
            raise Cancelled("This place in the line was given up.")
        if self._running < self.concurrency and self._line and self._line[0] is ticket:
            self._line.popleft()
            self._running += 1
            ticket.started = time.monotonic()
            self._cond.notify_all()
            return True
        return False

    def _step_locked(self, ticket: Ticket, stop: Callable[[], bool] | None) -> int | None:
        """Under the lock: None once `ticket` has started, else its place; `stop()` true gives the place up."""
        if self._try_start(ticket):
            return None
        if stop is not None and stop():
            self._leave_locked(ticket)
            raise Cancelled("Stopped while waiting for the model.")
        return self._line.index(ticket)

    def places(self, ticket: Ticket, stop: Callable[[], bool] | None = None) -> Iterator[int]:
        """Wait in this thread until `ticket` starts, yielding its place (questions ahead) each time it
        changes. `stop()` true gives up the place (`Cancelled`)."""
        last = -1
        with self._cond:
            while (now := self._step_locked(ticket, stop)) is not None:
                if now != last:
                    last = now
                    self._cond.release()
                    try:
                        yield now
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait(self.POLL_S)

    async def places_async(self, ticket: Ticket, stop: Callable[[], bool] | None = None) -> AsyncIterator[int]:
        """`places` for the event loop: polls, holding no thread while it waits."""
        last = -1
        while True:
            with self._cond:
                now = self._step_locked(ticket, stop)
            if now is None:
                return
            if now != last:
                last = now
                yield now
            await anyio.sleep(self.POLL_S)

    def leave(self, ticket: Ticket) -> None:
        """Give the place or the running turn back; calling it again does nothing."""
        with self._cond:
            self._leave_locked(ticket)

    def _leave_locked(self, ticket: Ticket) -> None:
        if ticket.done:
            return
        ticket.done = True
        if ticket.started is not None:
            self._running -= 1
            self._answer_s = 0.8 * self._answer_s + 0.2 * (time.monotonic() - ticket.started)
        else:
            self._line.remove(ticket)
        self._cond.notify_all()

    @contextmanager
    def turn(self, needed: bool = True, stop: Callable[[], bool] | None = None) -> Iterator[None]:
        """Hold a turn at the model while the block runs, waiting in this thread; `needed=False` (an
        emergency or a refusal, which never reach the model) skips the line. `stop()` true gives up waiting."""
        if not needed:
            yield
            return
        ticket = self.join()
        try:
            for _ in self.places(ticket, stop):
                pass
            yield
        finally:
            self.leave(ticket)

    async def acquire(self, needed: bool = True) -> Callable[[], None]:
        """Wait in the event loop for a turn; returns the function that gives it back."""
        if not needed:
            return lambda: None
        ticket = self.join()
        try:
            async for _ in self.places_async(ticket):
                pass
        except BaseException:
            self.leave(ticket)
            raise
        return lambda: self.leave(ticket)


def waiting_text(ahead: int, eta_s: float) -> str:
    """What a waiting visitor reads: their place in the line and about how long."""
    who = "1 question is" if ahead == 1 else f"{ahead} questions are"
    eta = f"about {max(1, round(eta_s))} s" if eta_s < 90 else f"about {round(eta_s / 60)} min"
    if ahead == 0:
        return f"Your question is next for the model ({eta})."
    return f"{who} ahead of yours in the line for the model ({eta})."


class Cancelled(MedGemmaError):
    """The visitor stopped before their answer reached the model."""


def safe_filename(name: str) -> str:
    """A file name that stays inside its folder: the last path part, odd characters replaced."""
    base = re.split(r"[\\/]", name)[-1]
    lower = base.lower()
    # The extension decides how a file is read, so it is kept whole however the stem is shortened or replaced.
    suffix = next((ext for ext in KEPT_SUFFIXES if lower.endswith(ext) and len(base) > len(ext)), "")
    stem = base[: len(base) - len(suffix)] if suffix else base
    stem = SAFE_NAME.sub("_", stem).strip("._")[:100] or "upload"
    return stem + suffix


def _trim(d: OrderedDict) -> None:  # type: ignore[type-arg]
    while len(d) > MAX_VISITORS:
        d.popitem(last=False)
