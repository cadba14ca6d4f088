"""Who may do what in a public deployment: admin sign-in, per-visitor rate limits, one answer at a time per
visitor, and per-visitor upload folders.

Visitors are identified by a key: the Gradio session hash in the UI, the client address on the HTTP API.
Nothing here knows about Gradio or FastAPI.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shutil
import threading
import time
from collections import OrderedDict, deque
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

import anyio

from .config import AccessConfig
from .errors import InputError, MedGemmaError

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


ADMIN_ONLY = ("This is a public demo: training, export, model switching and index changes need an admin "
              "sign-in. Run the studio on your own machine to use them freely.")


class Access:
    """The access rules of one running app. Thread-safe."""

    def __init__(self, cfg: AccessConfig, uploads_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.uploads_dir = uploads_dir
        self._clock = clock
        self._lock = threading.Lock()
        self._admins: OrderedDict[str, None] = OrderedDict()
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()
        self._busy: set[str] = set()

    @property
    def public(self) -> bool:
        return self.cfg.public

    # --- admin -------------------------------------------------------------------------------------------
    def is_admin(self, visitor: str, username: str | None = None) -> bool:
        """Whether `visitor` may use admin features: always outside public mode."""
        if not self.cfg.public:
            return True
        if username and username in self.cfg.admin_users:
            return True
        with self._lock:
            return visitor in self._admins

    def sign_in(self, visitor: str, token: str) -> bool:
        """Admit `visitor` as admin if `token` matches the configured one (compared in constant time)."""
        if not self.cfg.admin_token or not token:
            return False
        if not hmac.compare_digest(token.encode(), self.cfg.admin_token.encode()):
            return False
        with self._lock:
            self._admins[visitor] = None
            _trim(self._admins)
        return True

    def sign_in_user(self, visitor: str, username: str | None) -> bool:
        """Admit `visitor` as admin if `username` (from a Hugging Face login) is one of the admin users."""
        if not username or username not in self.cfg.admin_users:
            return False
        with self._lock:
            self._admins[visitor] = None
            _trim(self._admins)
        return True

    def sign_out(self, visitor: str) -> None:
        with self._lock:
            self._admins.pop(visitor, None)

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
        name = hashlib.sha256(visitor.encode()).hexdigest()[:24]
        folder = self.uploads_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def check_upload(self, path: Path, allowed: tuple[str, ...]) -> None:
        """Raise InputError if `path` is not a regular file of an allowed type within the size limit."""
        if not path.is_file():
            raise InputError(f"{path.name}: the upload did not arrive; try again.")
        suffix = "".join(path.suffixes[-2:]).lower() if path.name.lower().endswith(".gz") else path.suffix.lower()
        if suffix not in allowed:
            raise InputError(f"{path.name}: {suffix or 'no extension'} files are not accepted here "
                             f"(accepted: {', '.join(allowed)}).")
        size = path.stat().st_size
        if size > self.cfg.upload_mb * 1024 * 1024:
            raise InputError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {self.cfg.upload_mb} MB.")

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
        return target


class ModelTurns:
    """Admits `concurrency` answers to the model at a time, in arrival order; the others wait in the event loop
    rather than in a worker thread, so a crowd of API callers cannot use up the threads the UI runs on."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._turns: anyio.Semaphore | None = None  # made on first use, inside the server's event loop

    async def acquire(self) -> None:
        if self._turns is None:
            self._turns = anyio.Semaphore(self.concurrency, fast_acquire=True)
        await self._turns.acquire()

    def release(self) -> None:
        assert self._turns is not None
        self._turns.release()

    @asynccontextmanager
    async def take(self, needed: bool = True) -> AsyncIterator[None]:
        """Hold a turn while the block runs; `needed=False` (a reply that never reaches the model) skips it."""
        if not needed:
            yield
            return
        await self.acquire()
        try:
            yield
        finally:
            self.release()


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
