"""The web client's only way to the system: the public API on the gateway, over HTTP, like any client."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

# How long a refresh result is kept for other requests presenting the same (now used) refresh token.
# Refresh tokens rotate and a reused one revokes the whole family, so two pages loading at once must
# not both spend the same token: the second one gets the pair the first one received.
_REFRESH_SHARE_S = 30.0


@dataclass(frozen=True)
class Problem:
    status: int
    title: str
    detail: str
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiResult:
    status: int
    body: Any
    headers: httpx.Headers

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def problem(self) -> Problem:
        return problem_of(self.status, self.body)


def problem_of(status: int, body: Any) -> Problem:
    """An API error as the pages show it: a sentence, and a message per field (first one wins)."""
    if not isinstance(body, dict):
        body = {}
    errors: dict[str, str] = {}
    for item in body.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("field"), str) and isinstance(item.get("message"), str):
            errors.setdefault(item["field"], item["message"])
    title = body.get("title") if isinstance(body.get("title"), str) else "Something went wrong"
    detail = body.get("detail") if isinstance(body.get("detail"), str) else title
    return Problem(status=status, title=title, detail=detail, errors=errors)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class ApiUnavailable(Exception):
    """The API did not answer (down, or too slow)."""


class ApiClient:
    def __init__(self, *, base_url: str, timeout_s: float, proxy_key: str | None = None) -> None:
        # The key makes the gateway believe our X-Forwarded-For (the browser's address), so rate limits and
        # sign-in throttling see each visitor rather than this process.
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"X-LX-Proxy-Key": proxy_key} if proxy_key else None,
            timeout=httpx.Timeout(timeout_s, connect=3.0),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._refreshed: dict[str, tuple[float, TokenPair | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> ApiResult:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            answer = await self.http.request(method, path, json=json, params=params, headers=sent, content=content)
        except httpx.HTTPError as exc:
            log.warning("api call failed", extra={"path": path, "error": type(exc).__name__})
            raise ApiUnavailable(str(type(exc).__name__)) from exc
        body: Any = None
        if answer.content:
            try:
                body = answer.json()
            except ValueError:
                body = None
        return ApiResult(status=answer.status_code, body=body, headers=answer.headers)

    async def refresh(self, refresh_token: str, *, headers: dict[str, str]) -> TokenPair | None:
        """Exchange a refresh token for a new pair, once per token even when pages ask at the same time."""
        key = hashlib.sha256(refresh_token.encode()).hexdigest()
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            self._forget_old(now)
            if key in self._refreshed:
                return self._refreshed[key][1]
            try:
                result = await self.call(
                    "POST", "/api/v1/auth/refresh", json={"refresh_token": refresh_token}, headers=headers
                )
            except ApiUnavailable:
                self._locks.pop(key, None)
                raise
            pair = None
            if result.ok and isinstance(result.body, dict):
                pair = TokenPair(
                    access_token=str(result.body["access_token"]),
                    refresh_token=str(result.body["refresh_token"]),
                    expires_in=int(result.body.get("expires_in", 900)),
                )
            elif result.status >= 500 or result.status == 429:
                # Not the token's fault: keep the session and let the page say the service is busy.
                self._locks.pop(key, None)
                raise ApiUnavailable(f"refresh answered {result.status}")
            self._refreshed[key] = (now, pair)
            return pair

    def _forget_old(self, now: float) -> None:
        for k in [k for k, (at, _) in self._refreshed.items() if now - at > _REFRESH_SHARE_S]:
            del self._refreshed[k]
            lock = self._locks.get(k)
            if lock is not None and not lock.locked():
                del self._locks[k]
