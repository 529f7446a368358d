"""Access tokens the gateway has verified recently, so a person's next calls skip the signature check.

A signed-in person makes many calls with the same access token; checking its Ed25519 signature and
claims each time is the largest part of the gateway's own work on such a call. A token verified once
stays valid until its `exp` (nothing else can invalidate it: an erased person's tokens are refused by
the deny list, which is checked on every call after this), so the result is remembered, keyed by the
whole token, until then. Bounded: past `max_entries` the least recently used is forgotten and simply
verified again when it comes back. Invalid tokens are never remembered."""

from __future__ import annotations

import base64
import json
import time
from collections import OrderedDict
from collections.abc import Callable

from lx_platform.auth import Principal, TokenVerifier


def expires_at(token: str) -> float | None:
    """The `exp` claim of a token already verified (so well-formed), or None if it has none."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
    except (IndexError, ValueError, AttributeError):
        return None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class VerifiedTokens:
    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.verifier = verifier
        self.max_entries = max_entries
        self._clock = clock
        # token -> (principal, exp in epoch seconds); least recently used first.
        self._known: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._known)

    async def verify(self, token: str) -> Principal:
        """The token's principal; raises InvalidToken as TokenVerifier.verify does."""
        known = self._known.get(token)
        if known is not None:
            principal, exp = known
            if exp > self._clock():
                self._known.move_to_end(token)
                return principal
            del self._known[token]
        principal = await self.verifier.verify(token)  # raises InvalidToken, remembering nothing
        until = expires_at(token)
        if until is None:  # cannot happen (exp is required), but then it is not remembered
            return principal
        self._known[token] = (principal, until)
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)
        return principal
