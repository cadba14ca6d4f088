"""The shared stop-string filter every streaming backend uses."""

from __future__ import annotations

from medgemma.backends.base import StopSignal, until_stop


def test_stop_split_across_pieces_is_never_emitted() -> None:
    pieces = ["The answer", " is here.<end", "_of_", "turn> junk"]
    out = list(until_stop(pieces, ["<end_of_turn>"]))
    assert "".join(out) == "The answer is here."
    assert all("<" not in p for p in out)


def test_held_back_prefix_is_released_when_it_was_text() -> None:
    assert "".join(until_stop(["a <end", " b"], ["<end_of_turn>"])) == "a <end b"
    assert "".join(until_stop(["a <end"], ["<end_of_turn>"])) == "a <end"


def test_stop_signal_ends_the_stream() -> None:
    signal = StopSignal()
    seen = []
    for piece in until_stop(["one ", "two ", "three "], [], signal):
        seen.append(piece)
        signal.set()
    assert seen == ["one "]
