"""Access rules: admin sign-in, per-visitor rate limits, one answer at a time, bounded memory of visitors."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from medgemma import access as access_mod
from medgemma.access import Access, AccessDenied, RateLimited
from medgemma.config import AccessConfig
from medgemma.errors import InputError, MedGemmaError


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path, clock: Clock | None = None, **cfg: object) -> Access:
    return Access(AccessConfig(**cfg), tmp_path / "uploads", clock=clock or Clock())  # type: ignore[arg-type]


# ---- private mode ------------------------------------------------------------------------------------------


def test_private_mode_everyone_is_admin_and_unlimited(tmp_path: Path) -> None:
    acc = make(tmp_path, messages_per_minute=1)
    assert not acc.public
    assert acc.is_admin("anyone") and acc.is_admin("")
    acc.require_admin("anyone")
    for _ in range(50):
        acc.check_rate("anyone")


# ---- admin sign-in -----------------------------------------------------------------------------------------


def test_public_mode_needs_sign_in_with_the_right_token(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True, admin_token="s3cret-s3cret-s3cret")
    assert not acc.is_admin("v1")
    for n, wrong in enumerate(("", "S3CRET", "s3cret ", "s3cre", "s3cret\x00", "x" * 10_000, "é")):
        assert acc.sign_in(f"w{n}", wrong) is False
        assert not acc.is_admin(f"w{n}")
    assert acc.sign_in("v1", "s3cret-s3cret-s3cret") is True
    assert acc.is_admin("v1") and not acc.is_admin("v2") and not acc.is_admin("w1")  # per visitor
    acc.sign_out("v1")
    assert not acc.is_admin("v1")
    acc.sign_out("never-signed-in")  # harmless


def test_no_configured_token_admits_nobody(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True, admin_token="")
    for token in ("", " ", "admin", "None"):
        assert acc.sign_in("v", token) is False
    assert not acc.is_admin("v")


def test_admin_users_by_username(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True, admin_users=("alice", "bob"))
    assert acc.is_admin("session-1", "alice") and acc.is_admin("session-2", "bob")
    assert not acc.is_admin("session-3", "mallory")
    assert not acc.is_admin("session-4", None) and not acc.is_admin("session-5", "")
    assert not acc.is_admin("session-6", "Alice")  # exact names only


def test_require_admin_raises_access_denied_with_a_message(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True, admin_token="t-long-enough-token")
    with pytest.raises(AccessDenied) as info:
        acc.require_admin("v")
    assert isinstance(info.value, MedGemmaError)
    assert str(info.value).strip() and "admin" in str(info.value)
    acc.sign_in("v", "t-long-enough-token")
    acc.require_admin("v")
    with pytest.raises(AccessDenied):
        acc.require_admin("other")


# ---- rate limits -------------------------------------------------------------------------------------------


def test_rate_limit_allows_the_quota_then_refuses_until_the_window_passes(tmp_path: Path) -> None:
    clock = Clock()
    acc = make(tmp_path, clock, public=True, messages_per_minute=3)
    for _ in range(3):
        acc.check_rate("v")
        clock.now += 1
    with pytest.raises(RateLimited) as info:
        acc.check_rate("v")
    assert 0 < info.value.retry_after <= 60
    assert str(info.value).strip()
    assert info.value.retry_after == pytest.approx(60 - 3)  # the first question leaves the window first
    clock.now += info.value.retry_after - 0.5
    with pytest.raises(RateLimited):  # refused questions are not counted, but the window has not moved yet
        acc.check_rate("v")
    clock.now += 0.5
    acc.check_rate("v")  # the oldest question has left the 60 s window
    with pytest.raises(RateLimited):
        acc.check_rate("v")


def test_rate_limit_is_back_in_full_after_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    acc = make(tmp_path, clock, public=True, messages_per_minute=2)
    acc.check_rate("v")
    acc.check_rate("v")
    with pytest.raises(RateLimited):
        acc.check_rate("v")
    clock.now += 60
    acc.check_rate("v")
    acc.check_rate("v")


def test_refused_questions_do_not_extend_the_wait(tmp_path: Path) -> None:
    clock = Clock()
    acc = make(tmp_path, clock, public=True, messages_per_minute=1)
    acc.check_rate("v")
    waits = []
    for _ in range(5):
        clock.now += 10
        with pytest.raises(RateLimited) as info:
            acc.check_rate("v")
        waits.append(info.value.retry_after)
    assert waits == sorted(waits, reverse=True) and waits[-1] == pytest.approx(10)


def test_visitors_are_limited_independently(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True, messages_per_minute=1)
    acc.check_rate("a")
    with pytest.raises(RateLimited):
        acc.check_rate("a")
    acc.check_rate("b")
    acc.check_rate("")
    with pytest.raises(RateLimited):
        acc.check_rate("b")


def test_admins_are_rate_limited_like_everyone_in_public_mode(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True, admin_token="t-long-enough-token", messages_per_minute=1)
    acc.sign_in("v", "t-long-enough-token")
    acc.check_rate("v")
    with pytest.raises(RateLimited):
        acc.check_rate("v")


def test_rate_limit_counts_exactly_under_concurrency(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True, messages_per_minute=10)
    allowed, refused = [], []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        for _ in range(5):
            try:
                acc.check_rate("v")
                allowed.append(1)
            except RateLimited:
                refused.append(1)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 10 and len(refused) == 30


# ---- one answer at a time ----------------------------------------------------------------------------------


def test_one_at_a_time_refuses_a_second_entry_for_the_same_visitor(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True)
    with acc.one_at_a_time("v"):
        with pytest.raises(RateLimited) as info:
            with acc.one_at_a_time("v"):
                pass
        assert info.value.retry_after > 0 and str(info.value).strip()
        with acc.one_at_a_time("other"):  # other visitors are not held up
            pass
    with acc.one_at_a_time("v"):  # released
        pass


def test_one_at_a_time_releases_after_an_exception(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True)
    with pytest.raises(ValueError):
        with acc.one_at_a_time("v"):
            raise ValueError("generation failed")
    with pytest.raises(GeneratorExit):
        with acc.one_at_a_time("v"):
            raise GeneratorExit  # a streaming reply closed by a disconnecting client
    with acc.one_at_a_time("v"):
        pass


def test_private_mode_allows_parallel_answers_for_one_visitor(tmp_path: Path) -> None:
    acc = make(tmp_path)
    with acc.one_at_a_time("v"), acc.one_at_a_time("v"):
        pass


def test_one_at_a_time_lets_exactly_one_concurrent_entry_in(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True)
    inside, refused = [], []
    barrier = threading.Barrier(6)
    release = threading.Event()

    def enter() -> None:
        barrier.wait()
        try:
            with acc.one_at_a_time("v"):
                inside.append(1)
                release.wait(5)
        except RateLimited:
            refused.append(1)
            if len(refused) == 5:
                release.set()

    threads = [threading.Thread(target=enter) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(inside) == 1 and len(refused) == 5


# ---- bounded memory ----------------------------------------------------------------------------------------


def test_visitor_memory_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_mod, "MAX_VISITORS", 5)
    acc = make(tmp_path, public=True, admin_token="t-long-enough-token", messages_per_minute=1)
    for n in range(50):
        acc.check_rate(f"visitor-{n}")
        acc.sign_in(f"visitor-{n}", "t-long-enough-token")
    assert len(acc._recent) <= 5 and len(acc._admins) <= 5
    assert acc.is_admin("visitor-49") and not acc.is_admin("visitor-0")  # the oldest are forgotten first
    with pytest.raises(RateLimited):
        acc.check_rate("visitor-49")  # recent visitors are still limited


def test_busy_set_empties_when_answers_end(tmp_path: Path) -> None:
    acc = make(tmp_path, public=True)
    for n in range(100):
        with acc.one_at_a_time(f"v{n}"):
            pass
    assert not acc._busy


# ---- configuration -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [{"messages_per_minute": 0}, {"messages_per_minute": -1}, {"upload_mb": 0},
                                 {"upload_mb": 5000}, {"chat_concurrency": 0}, {"queue_size": 0}])
def test_access_config_refuses_out_of_range_values(bad: dict[str, int]) -> None:
    with pytest.raises(InputError) as info:
        AccessConfig(**bad)  # type: ignore[arg-type]
    assert next(iter(bad)) in str(info.value)


def test_upload_folders_differ_per_visitor_and_stay_inside(tmp_path: Path) -> None:
    acc = make(tmp_path)
    a, b = acc.upload_folder("a"), acc.upload_folder("b")
    assert a != b and a.is_dir() and b.is_dir()
    assert a.parent == b.parent == acc.uploads_dir
    assert acc.upload_folder("a") == a  # stable
