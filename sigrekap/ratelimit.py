"""A sliding-window rate limiter for the public pages, kept in process memory.

The app is served by one process (``flask run`` with threads), so one
limiter counts every request. Several worker processes would each count on
their own and together allow that many times the limit.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

#: Maximum number of clients kept. The least recently active are dropped
#: first, so a flood of addresses cannot grow the memory without bound.
MAX_CLIENTS = 10_000


class SlidingWindowLimiter:
    """Allow each key at most ``limit`` events in any ``window_seconds``."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError(
                f"invalid rate limit: {limit} per {window_seconds} seconds"
            )
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> int:
        """Record an event for ``key`` and return 0, or reject it.

        A rejected event is not recorded, and the return value is the number
        of whole seconds until the key may try again.
        """
        now = self._clock()
        with self._lock:
            events = self._events.pop(key, None) or deque()
            while events and events[0] <= now - self.window_seconds:
                events.popleft()
            wait = 0
            if len(events) >= self.limit:
                wait = max(1, math.ceil(events[0] + self.window_seconds - now))
            else:
                events.append(now)
            self._events[key] = events
            while len(self._events) > MAX_CLIENTS:
                self._events.popitem(last=False)
            return wait
