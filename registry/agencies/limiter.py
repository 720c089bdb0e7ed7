"""The per-key request limit of the agency API: a fixed one-minute window per API key hash.

Litestar's RateLimitMiddleware keeps every request's timestamp in a JSON list that it
decodes and re-encodes on each request (work that grows with the limit, 6,000 a minute
by default), behind one global lock, and it fixes the limit when the app is built; this
counter is O(1) per request, takes the limit from the settings, and sends Retry-After.
The window lives in the worker's memory: with N workers a key gets up to N times the limit.
"""

from __future__ import annotations

import math
import time

from registry.errors import TooManyRequests

WINDOW_SECONDS = 60.0
# Forget finished windows once this many keys are tracked, so unknown keys cannot grow memory forever.
PRUNE_AT = 10_000


class KeyLimiter:
    def __init__(self) -> None:
        self._windows: dict[bytes, tuple[float, int]] = {}

    def hit(self, key_hash: bytes, per_minute: int) -> None:
        """Count one request for this key; 429 with Retry-After once the minute's budget is spent."""
        now = time.monotonic()
        started, count = self._windows.get(key_hash, (now, 0))
        if now - started >= WINDOW_SECONDS:
            started, count = now, 0
        if count >= per_minute:
            retry_after = math.ceil(started + WINDOW_SECONDS - now)
            raise TooManyRequests(
                f"this API key is limited to {per_minute} requests a minute; retry after {retry_after} s",
                retry_after,
            )
        if len(self._windows) >= PRUNE_AT and key_hash not in self._windows:
            self._windows = {k: w for k, w in self._windows.items() if now - w[0] < WINDOW_SECONDS}
        self._windows[key_hash] = (started, count + 1)
