"""Token buckets per client, in memory and bounded (one gateway replica's view; see ADRs 7 and 11).

Pure: no I/O, the clock is passed in. Memory is bounded two ways: a bucket that has refilled to
full carries no information and is dropped, and past `max_clients` buckets the least recently
used one is evicted, so a flood of distinct addresses cannot grow memory without limit (an
evicted client merely starts again with a full bucket)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# How many expired buckets one call may drop; keeps every call O(1) while the oldest expire.
_EXPIRE_PER_CALL = 4


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of spending one token, with what the RateLimit-* headers report."""

    allowed: bool
    limit: int  # the bucket's size: how many requests may be made at once
    remaining: int  # whole tokens left after this request
    retry_after_s: int  # 0 when allowed; else whole seconds until one token is back
    reset_s: int  # whole seconds until the bucket is full again

    def headers(self) -> dict[str, str]:
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out


class RateLimiter:
    """`burst` requests at once, refilling at `per_minute`; one bucket per key."""

    def __init__(
        self,
        *,
        per_minute: int,
        burst: int,
        max_clients: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1 or burst < 1 or max_clients < 1:
            raise ValueError("per_minute, burst and max_clients must be at least 1")
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self.full_after_s = self.capacity / self.rate
        # key -> [tokens, time of last update]; ordered from least to most recently used.
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> Decision:
        """Spend one token for `key` if there is one."""
        now = self.clock()
        self._expire(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [self.capacity, now]
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket[0] = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        allowed = bucket[0] >= 1
        if allowed:
            bucket[0] -= 1
        tokens = bucket[0]
        return Decision(
            allowed=allowed,
            limit=int(self.capacity),
            remaining=int(tokens),
            retry_after_s=0 if allowed else max(1, math.ceil((1 - tokens) / self.rate)),
            reset_s=math.ceil((self.capacity - tokens) / self.rate),
        )

    def _expire(self, now: float) -> None:
        # Least recently used first. Stopping at the first bucket not yet full is approximate (a later
        # one may be full already) but O(1); the size cap is what bounds memory.
        for _ in range(_EXPIRE_PER_CALL):
            if not self._buckets:
                return
            key, (tokens, last) = next(iter(self._buckets.items()))
            if tokens + (now - last) * self.rate < self.capacity:
                return
            del self._buckets[key]
