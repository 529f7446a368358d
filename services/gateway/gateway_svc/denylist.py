"""Erased people whose access tokens may still be unexpired: refused at the gateway until they are.

Identity deletes an erased person's refresh tokens at once, but an access token is a signed JWT that
verifies on its own until it expires (at most the access-token lifetime after it was issued, and it
was issued before the erasure). So an erasure need be remembered only for that lifetime plus a margin
for clock skew, which keeps the list small: it holds the erasures of the last quarter of an hour.
People are named here by sha256 of their id (as the erasure event names them in the clear: its id field is
sealed with a key that is destroyed once the erasure completes, ADR 15). Plain Python, no I/O; the clock is
injected."""

from __future__ import annotations

import heapq
import time
import uuid
from collections.abc import Callable

from lx_contracts.identity import subject_hash


class ErasedUsers:
    """{subject hash: forget_at} with expiry by the erasure's own time, and a hard cap on entries."""

    def __init__(
        self,
        *,
        keep_s: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if keep_s <= 0 or max_entries < 1:
            raise ValueError("keep_s must be positive and max_entries at least 1")
        self.keep_s = keep_s
        self.max_entries = max_entries
        self._clock = clock
        self._until: dict[str, float] = {}
        # (forget_at, subject hash), soonest first; may hold stale pairs for ids re-added later (skipped on pop).
        self._expiry: list[tuple[float, str]] = []
        self.evicted = 0  # entries dropped for the cap before they expired

    def __len__(self) -> int:
        return len(self._until)

    def add(self, who: uuid.UUID | str, erased_at: float) -> bool:
        """Remember an erasure of a person (their id, or its subject hash) at a time in epoch seconds; False
        when it is already too old to matter."""
        user_id = subject_hash(who) if isinstance(who, uuid.UUID) else who
        now = self._clock()
        self._prune(now)
        forget_at = erased_at + self.keep_s
        if forget_at <= now:
            return False
        if self._until.get(user_id, 0.0) >= forget_at:
            return True
        self._until[user_id] = forget_at
        heapq.heappush(self._expiry, (forget_at, user_id))
        while len(self._until) > self.max_entries:
            if self._pop_soonest():
                self.evicted += 1
        if len(self._expiry) > 2 * len(self._until) + 64:  # stale pairs from re-adds: rebuild
            self._expiry = [(t, u) for u, t in self._until.items()]
            heapq.heapify(self._expiry)
        return True

    def __contains__(self, user_id: object) -> bool:
        if not self._until or not isinstance(user_id, uuid.UUID):
            return False
        forget_at = self._until.get(subject_hash(user_id))
        if forget_at is None:
            return False
        if forget_at <= self._clock():
            self._prune(self._clock())
            return False
        return True

    def prune(self) -> None:
        self._prune(self._clock())

    def _prune(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            self._pop_soonest()

    def _pop_soonest(self) -> bool:
        forget_at, user_id = heapq.heappop(self._expiry)
        if self._until.get(user_id) == forget_at:
            del self._until[user_id]
            return True
        return False
