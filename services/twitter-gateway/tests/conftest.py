"""Fixtures for the twitter gateway's integration tests: the whole stack with the fake X, the gateway's
loops made fast, and helpers that sign in with X the way a browser would (authorize → consent → callback)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testkit import envelope, events_in, opened, produce, read_all, wait_until

PROBLEM = "application/problem+json"
SERVICE = "twitter-gateway"

# Loops fast enough for tests: poll every second, check deletions every second, retry sends after a second.
FAST_LOOPS = {
    "TWITTER_POLL_INTERVAL_OVERRIDE_S": "1",
    "TWITTER_LOOP_TICK_S": "0.2",
    "TWITTER_DELETION_CHECK_INTERVAL_S": "1",
    "TWITTER_DELETION_RECHECK_AFTER_S": "0",
    "TWITTER_SENDER_BACKOFF_BASE_S": "1",
    "TWITTER_SENDER_BACKOFF_CAP_S": "2",
    "TWITTER_X_BACKOFF_BASE_S": "0.05",
    "TWITTER_X_BACKOFF_CAP_S": "0.2",
}


@pytest.fixture(scope="session")
def fake_x_url(stack: Stack, fake_x: str) -> Iterator[str]:
    """The fake X the stack's twitter gateway talks to, with the gateway restarted with fast loops."""
    stack.config.extra_env.update(FAST_LOOPS)
    stack.stop_service(SERVICE)
    stack.start_service(SERVICE)
    try:
        yield fake_x.rstrip("/")
    finally:
        for name in FAST_LOOPS:
            stack.config.extra_env.pop(name, None)


async def _fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "twitter"})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


@dataclass
class XWorld:
    """The stack, its gateway and the fake X, with the steps a person or a test takes."""

    stack: Stack
    gateway: httpx.Client
    fake: httpx.Client

    # -- the twitter schema, read only ---------------------------------------------------------
    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return asyncio.run(_fetch(self.stack.dsns[SERVICE], query, *args))

    def scalar(self, query: str, *args: Any) -> Any:
        rows = self.sql(query, *args)
        return rows[0][0] if rows else None

    def wait_for(self, what: str, query: str, *args: Any, timeout_s: float = 30) -> list[asyncpg.Record]:
        found: list[asyncpg.Record] = []

        async def check() -> bool:
            found[:] = await _fetch(self.stack.dsns[SERVICE], query, *args)
            return bool(found)

        asyncio.run(wait_until(check, timeout_s=timeout_s, what=what))
        return found

    # -- events ------------------------------------------------------------------------------
    def events(self, topic: str) -> list[dict[str, Any]]:
        records = asyncio.run(read_all(self.stack.bootstrap_servers, topic, timeout_s=15))
        return asyncio.run(opened(events_in(records)))

    def wait_events(self, topic: str, subject: str, *, count: int = 1, timeout_s: float = 30) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        async def check() -> bool:
            records = await read_all(self.stack.bootstrap_servers, topic, timeout_s=timeout_s)
            events = await opened(events_in(records))
            found[:] = [e for e in events if e["subject"] == subject]
            return len(found) >= count

        asyncio.run(wait_until(check, timeout_s=timeout_s, what=f"{count} events on {topic} about {subject}"))
        return found

    def publish(self, topic: str, data: dict[str, Any], *, event_id: uuid.UUID | None = None) -> uuid.UUID:
        event_id = event_id or uuid.uuid4()
        asyncio.run(
            produce(self.stack.bootstrap_servers, topic, [envelope(topic, data, event_id=event_id)], key=b"test")
        )
        return event_id

    # -- the fake X ----------------------------------------------------------------------------
    def tweet(self, text: str, *, username: str = "withington_mum", **extra: Any) -> str:
        r = self.fake.post("/_fake/tweets", json={"text": text, "username": username, **extra})
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["id"])

    def x_user(self, username: str) -> str:
        r = self.fake.post("/_fake/users", json={"username": username})
        assert r.status_code in (200, 201), r.text
        return str(r.json()["data"]["id"])

    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self.fake.get("/_fake/calls").json()
        return calls

    def outbox(self) -> dict[str, list[dict[str, Any]]]:
        box: dict[str, list[dict[str, Any]]] = self.fake.get("/_fake/outbox").json()
        return box

    # -- signing in with X, as a browser does ----------------------------------------------------
    def consent(
        self,
        username: str,
        *,
        mode: str = "login",
        auth: dict[str, str] | None = None,
        decision: str = "allow",
        redirect_uri: str | None = None,
    ) -> dict[str, str]:
        """authorize → X's consent page → allow: the query X sends the browser back with (state, code)."""
        params = {"mode": mode} | ({"redirect_uri": redirect_uri} if redirect_uri else {})
        r = self.gateway.get("/api/v1/auth/x/authorize", params=params, headers=auth or {})
        assert r.status_code == 302, r.text
        location = r.headers["location"]
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert params["code_challenge_method"] == "S256"
        assert set(params["scope"].split()) == {"tweet.read", "users.read", "dm.write", "offline.access"}
        page = self.fake.get("/i/oauth2/authorize", params=params)
        assert page.status_code == 200, page.text
        back = self.fake.post("/i/oauth2/authorize", data={**params, "username": username, "decision": decision})
        assert back.status_code == 302, back.text
        return {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}

    def callback(self, query: dict[str, str]) -> httpx.Response:
        return self.gateway.get("/api/v1/auth/x/callback", params=query)

    def login(self, username: str) -> dict[str, Any]:
        r = self.callback(self.consent(username))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture(scope="module")
def x(stack: Stack, fake_x_url: str) -> Iterator[XWorld]:
    with (
        httpx.Client(base_url=stack.gateway_url, timeout=20.0) as gateway,
        httpx.Client(base_url=fake_x_url, timeout=20.0) as fake,
    ):
        world = XWorld(stack, gateway, fake)
        # The skills service's taxonomy has reached the gateway (it reads tweets with it).
        world.wait_for(
            "the taxonomy to reach the gateway", "SELECT 1 FROM skills WHERE slug = 'graphic-design'", timeout_s=60
        )
        yield world


def handle() -> str:
    """A fresh X username (at most 15 characters)."""
    return "u" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def admin_auth(stack: Stack, x: XWorld) -> dict[str, str]:
    from lx_devstack.testing import sign_in_admin

    return sign_in_admin(stack, x.gateway).auth
