"""The line for the model: first come first served, places that move, giving up a place, the async door."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from medgemma.access import Busy, Cancelled, Turns, waiting_text


def _wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_first_come_first_served_and_places_move() -> None:
    turns = Turns(concurrency=1, limit=10)
    first = turns.join()
    assert list(turns.places(first)) == []  # a free slot: starts at once, no place to report
    order: list[int] = []
    seen: dict[int, list[int]] = {}

    def visitor(i: int) -> None:
        t = turns.join()
        seen[i] = list(turns.places(t))
        order.append(i)
        turns.leave(t)

    threads = []
    for i in range(4):  # they join one after another
        threads.append(threading.Thread(target=visitor, args=(i,)))
        threads[-1].start()
        _wait_for(lambda: turns.waiting == i + 2)
    assert turns.wait_estimate() > 0
    turns.leave(first)
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3]  # nobody overtaken
    assert seen[3][0] == 3 and seen[3] == sorted(set(seen[3]), reverse=True)  # its place only counted down
    assert turns.waiting == 0


def test_full_line_is_busy_with_a_retry_time_and_stop_gives_the_place_up() -> None:
    turns = Turns(concurrency=1, limit=2)
    running, queued = turns.join(), turns.join()
    assert list(turns.places(running)) == []
    with pytest.raises(Busy) as busy:
        turns.join()
    assert busy.value.retry_after >= 5
    with pytest.raises(Cancelled):
        list(turns.places(queued, stop=lambda: True))
    assert turns.waiting == 1  # the stopped visitor's place is free again
    turns.leave(queued)  # leaving twice does nothing
    turns.leave(running)
    turns.leave(running)
    assert turns.waiting == 0
    assert turns.wait_estimate() == 0.0


def test_async_places_hold_no_thread_and_release_on_cancel() -> None:
    turns = Turns(concurrency=1, limit=5)

    async def main() -> list[int]:
        holder = turns.join()
        async for _ in turns.places_async(holder):
            pass
        waiter = turns.join()
        places: list[int] = []

        async def wait() -> None:
            async for ahead in turns.places_async(waiter):
                places.append(ahead)

        with anyio.move_on_after(0.3):  # the waiter is cancelled while the holder keeps its turn
            await wait()
        turns.leave(waiter)
        assert turns.waiting == 1
        release = await turns.acquire(needed=False)
        release()
        turns.leave(holder)
        release = await turns.acquire()
        assert turns.waiting == 1
        release()
        return places

    assert anyio.run(main) == [0]
    assert turns.waiting == 0


def test_waiting_text_names_the_place_and_time() -> None:
    assert "3 questions" in waiting_text(3, 20) and "20 s" in waiting_text(3, 20)
    assert "1 question is" in waiting_text(1, 4)
    assert "next" in waiting_text(0, 2)
    assert "min" in waiting_text(5, 300)


@pytest.mark.parametrize("env, found, expected", [
    ({}, True, 12),  # llama-server built: its slots
    ({}, False, 1),  # no llama-server: the in-process engine, one sequence at a time
    ({"MEDGEMMA_GGUF_ENGINE": "inprocess"}, True, 1),
    ({"MEDGEMMA_BACKEND": "hf"}, True, 1),
    ({"MEDGEMMA_BACKEND": "openai"}, True, 4),
    ({"MEDGEMMA_CHAT_CONCURRENCY": "7"}, True, 7),  # said outright: kept
    ({"MEDGEMMA_CHAT_CONCURRENCY": "7", "MEDGEMMA_GGUF_ENGINE": "inprocess"}, True, 7),
])
def test_the_line_is_as_wide_as_the_engine_decodes(monkeypatch, tmp_path, env, found, expected) -> None:
    """More turns than the engine decodes together would show waiting visitors as answered: the default
    follows the engine, and an explicit setting wins."""
    from medgemma.backends import llama_server
    from medgemma.config import AppConfig

    binary = tmp_path / "llama-server"
    monkeypatch.setattr(llama_server, "find_llama_server", lambda: binary if found else None)
    cfg = AppConfig.from_env(env)
    assert cfg.access.chat_concurrency == expected
