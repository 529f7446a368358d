"""A bound on the calls in flight to one upstream (a bulkhead). Pure: no I/O, no waiting.

Past the bound a call is refused at once instead of queueing: the caller gets 503 with
Retry-After straight away, the gateway holds no more work than it can finish, and the moment
load drops there is no queue left to drain. The upstream's connection pool is sized to the same
bound, so a call let through never waits for a pooled connection."""

from __future__ import annotations


class Bulkhead:
    def __init__(self, name: str, *, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.name = name
        self.limit = limit
        self.in_flight = 0

    def try_enter(self) -> bool:
        """Take a place if one is free; False (and nothing taken) when `limit` calls are in flight."""
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        if self.in_flight <= 0:
            raise RuntimeError(f"left the {self.name} bulkhead more often than entered")
        self.in_flight -= 1
