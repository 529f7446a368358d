"""Calls from the gateway to the services behind it: one aiohttp session per upstream.

aiohttp's client costs a fraction of httpx's CPU per call (bench/README.md), and the gateway
proxies every call of the public API. Each upstream has a session of its own, so one busy service
never takes another's connections. Its connector has no connection limit and so no pool wait: the
gateway's bulkhead (at most `upstream_max_in_flight` calls in flight) is the one bound on the
connections in use, so a call let through always gets a connection at once, and a connection lost
by a call that ended badly cannot starve later calls (it is simply gone). Idle connections are kept
alive for 4 s and then dropped, before the services' uvicorn would close them (5 s idle), so a call
never takes a connection the other end is closing.

Cookies are never stored: the sessions carry calls of many people (a cookie jar would hand one
person's cookies to the next)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict
from yarl import URL

KEEPALIVE_S = 4.0


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]  # as received, hop-by-hop ones included
    body: bytes  # decoded: any content-encoding is undone


class UpstreamFailed(Exception):
    """No answer from the upstream. `kind` for metrics: connect, timeout, error."""

    def __init__(self, kind: str, error: BaseException, *, timed_out: bool = False) -> None:
        super().__init__(f"{kind}: {type(error).__name__}")
        self.kind = kind
        self.error = type(error).__name__
        self.timed_out = timed_out


class UpstreamClients:
    """A session per upstream, made on first use (inside the running event loop) and kept."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def session(self, name: str) -> aiohttp.ClientSession:
        session = self._sessions.get(name)
        if session is None or session.closed:
            if name not in self.names:
                raise KeyError(name)
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=KEEPALIVE_S),
                cookie_jar=aiohttp.DummyCookieJar(),
                # The client's own content type, or none: never one made up for the bytes passed on.
                skip_auto_headers=("Content-Type",),
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._sessions[name] = session
        return session

    async def call(
        self,
        name: str,
        method: str,
        url: str,
        *,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        connect_s: float,
        read_s: float,
    ) -> Answer:
        """One call; raises UpstreamFailed when no answer came (refused, reset, timed out)."""
        timeout = aiohttp.ClientTimeout(total=None, connect=connect_s, sock_connect=connect_s, sock_read=read_s)
        try:
            async with self.session(name).request(
                method,
                # Already percent-encoded by the caller; passed on exactly as it is.
                URL(url, encoded=True),
                headers=CIMultiDict(headers),
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
                return Answer(response.status, list(response.raw_headers), content)
        except aiohttp.ConnectionTimeoutError as exc:
            raise UpstreamFailed("connect", exc, timed_out=True) from exc
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
            raise UpstreamFailed("timeout", exc, timed_out=True) from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamFailed("connect", exc) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamFailed("error", exc) from exc

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
