"""Per-client token buckets, in memory (one gateway replica's view; see the ADR on rate limits)."""

from __future__ import annotations

import math
import time


class RateLimiter:
    def __init__(self, *, per_minute: int, burst: int, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._last_sweep = clock()

    def take(self, key: str) -> float:
        """Spend one token for `key`; 0 if allowed, else seconds until a token is available."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            allowed = 0.0
        else:
            self._buckets[key] = (tokens, now)
            allowed = (1 - tokens) / self.rate
        if now - self._last_sweep > 60:
            self._sweep(now)
        return allowed

    def retry_after(self, wait_s: float) -> int:
        return max(1, math.ceil(wait_s))

    def _sweep(self, now: float) -> None:
        # Buckets that have refilled completely carry no information; drop them.
        full_after = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        self._last_sweep = now
