"""The sliding-window rate limiter, driven by a fake clock."""

from __future__ import annotations

import pytest

from sigrekap import ratelimit
from sigrekap.ratelimit import SlidingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_allows_then_rejects_with_wait():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 60, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [0, 0, 0]
    clock.now += 10
    assert limiter.hit("a") == 50
    # Rejected events are not counted, so waiting still frees a slot on time.
    clock.now += 49.5
    assert limiter.hit("a") == 1
    clock.now += 0.5
    assert limiter.hit("a") == 0


def test_window_slides_event_by_event():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(2, 60, clock=clock)
    assert limiter.hit("a") == 0
    clock.now += 30
    assert limiter.hit("a") == 0
    clock.now += 30
    # The first event is now 60 s old and out of the window; the second is not.
    assert limiter.hit("a") == 0
    assert limiter.hit("a") == 30


def test_keys_are_counted_apart():
    limiter = SlidingWindowLimiter(1, 60, clock=FakeClock())
    assert limiter.hit("a") == 0
    assert limiter.hit("b") == 0
    assert limiter.hit("a") > 0


def test_oldest_clients_are_forgotten(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_CLIENTS", 2)
    limiter = SlidingWindowLimiter(1, 60, clock=FakeClock())
    for key in ("a", "b", "c"):
        assert limiter.hit(key) == 0
    # "a" was seen least recently, so it was dropped and starts afresh.
    assert limiter.hit("a") == 0
    assert limiter.hit("c") > 0


@pytest.mark.parametrize("limit, window", [(0, 60), (5, 0), (-1, 10)])
def test_invalid_limits_are_rejected(limit, window):
    with pytest.raises(ValueError, match="invalid rate limit"):
        SlidingWindowLimiter(limit, window)
