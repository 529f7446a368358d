"""A circuit breaker per upstream service. Pure: the clock is passed in, state changes are reported.

Closed: calls go through; `failure_threshold` failures in a row (connection refused or reset,
timeouts) open it. Open: calls are refused at once for `cooldown_s`. Then half-open: one trial
call goes through while the others are still refused; its success closes the breaker, its
failure opens it for another cool-down. Answers with an HTTP status are never failures here:
a service that answers is up, even when it answers 503 about something of its own."""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable


class State(enum.IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, State], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or cooldown_s <= 0:
            raise ValueError("failure_threshold must be at least 1 and cooldown_s positive")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.on_change = on_change
        self.state = State.CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    def _set(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            if self.on_change is not None:
                self.on_change(self.name, state)

    def allow(self) -> int:
        """0 if a call may go ahead now; else whole seconds to wait before the next trial."""
        if self.state is State.CLOSED:
            return 0
        now = self.clock()
        if self.state is State.OPEN:
            left = self._opened_at + self.cooldown_s - now
            if left > 0:
                return max(1, math.ceil(left))
            self._set(State.HALF_OPEN)
        if self._trial_in_flight:
            return 1
        self._trial_in_flight = True
        return 0

    def success(self) -> None:
        self.failures = 0
        self._trial_in_flight = False
        self._set(State.CLOSED)

    def failure(self) -> None:
        self.failures += 1
        self._trial_in_flight = False
        if self.state is State.HALF_OPEN or (self.state is State.CLOSED and self.failures >= self.failure_threshold):
            self._opened_at = self.clock()
            self._set(State.OPEN)

    def abandon(self) -> None:
        """A call ended without a verdict (the client went away): let the next one be the trial."""
        self._trial_in_flight = False
