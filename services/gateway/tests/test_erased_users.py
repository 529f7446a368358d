"""Erased people's tokens: the deny list's rules with a clock the test moves (unit), a gateway built
in-process refusing them on every route while others pass, and the feed reading the real broker."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway_svc.denylist import ErasedUsers
from gateway_svc.erasures import ErasureFeed, parse_erasure
from lx_contracts.identity import subject_hash
from lx_contracts.topics import USER_ERASED
from lx_devstack.stack import Stack
from lx_devstack.testkit import envelope, produce, wait_until

PROBLEM = "application/problem+json"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.unit
def test_an_erasure_is_remembered_for_the_token_lifetime_then_forgotten() -> None:
    clock = Clock()
    erased = ErasedUsers(keep_s=960, clock=clock)
    someone, other = uuid.uuid4(), uuid.uuid4()
    assert erased.add(someone, clock.now - 10)
    assert someone in erased and other not in erased and len(erased) == 1
    clock.now += 949
    assert someone in erased
    clock.now += 1  # 960 s after the erasure
    assert someone not in erased
    assert len(erased) == 0, "an expired entry is dropped, not kept"


@pytest.mark.unit
def test_erasures_older_than_the_lifetime_are_never_stored() -> None:
    clock = Clock()
    erased = ErasedUsers(keep_s=960, clock=clock)
    assert not erased.add(uuid.uuid4(), clock.now - 961)
    assert len(erased) == 0
    assert erased.add(uuid.uuid4(), clock.now - 959)
    assert len(erased) == 1


@pytest.mark.unit
def test_memory_is_bounded_by_expiry_and_by_the_cap() -> None:
    clock = Clock()
    erased = ErasedUsers(keep_s=100, max_entries=50, clock=clock)
    ids = [uuid.uuid4() for _ in range(80)]
    for i, user_id in enumerate(ids):
        erased.add(user_id, clock.now + i * 0.001)
    assert len(erased) == 50 and erased.evicted == 30
    # Past the cap the ones nearest to expiry go first; the newest stay.
    assert ids[0] not in erased and ids[-1] in erased and ids[30] in erased
    # Adding prunes what has expired, so a steady trickle never grows the list.
    clock.now += 100
    for _ in range(1000):
        clock.now += 10
        erased.add(uuid.uuid4(), clock.now)
        assert len(erased) <= 11
    erased.prune()
    assert len(erased) == 10


@pytest.mark.unit
def test_a_later_erasure_time_extends_and_an_earlier_one_does_not_shorten() -> None:
    clock = Clock()
    erased = ErasedUsers(keep_s=100, clock=clock)
    user_id = uuid.uuid4()
    erased.add(user_id, clock.now)
    erased.add(user_id, clock.now - 50)
    clock.now += 99
    assert user_id in erased
    erased.add(user_id, clock.now)
    clock.now += 99
    assert user_id in erased and len(erased) == 1
    assert "not-a-uuid" not in erased and str(user_id) not in erased


@pytest.mark.unit
def test_erasure_events_are_parsed_strictly() -> None:
    user_id = uuid.uuid4()
    at = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    hashed = subject_hash(user_id)
    # Written before ids were sealed: the id in the clear, hashed here.
    good = envelope(USER_ERASED.name, {"user_id": str(user_id), "at": at.isoformat()})
    assert parse_erasure(good) == (hashed, at.timestamp())
    # Sealed id (unreadable here) and the hash in the clear.
    sealed = envelope(USER_ERASED.name, {"user_id": "lx1.AAAA", "subject_hash": hashed, "at": at.isoformat()})
    assert parse_erasure(sealed) == (hashed, at.timestamp())
    for bad in (
        b"",
        b"not json",
        b"[]",
        envelope(USER_ERASED.name, {"user_id": "nope", "at": at.isoformat()}),
        envelope(USER_ERASED.name, {"user_id": str(user_id), "at": "2026-11-27T13:00:00"}),  # no zone
        envelope(USER_ERASED.name, {"user_id": str(user_id)}),
        envelope(USER_ERASED.name, {"user_id": "lx1.AAAA", "subject_hash": "short", "at": at.isoformat()}),
        json.dumps({"data": None}).encode(),
    ):
        assert parse_erasure(bad) is None, bad


# -- in-process gateway ---------------------------------------------------------------------------


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)), base_url="http://gw")


@pytest.mark.integration
async def test_an_erased_persons_valid_token_is_refused_on_every_route_and_others_pass(
    upstream: Any, make_gateway: Any, issuer: Any
) -> None:
    url, state = upstream
    app = make_gateway(url)
    erased_id, other_id = uuid.uuid4(), uuid.uuid4()
    erased_token, other_token = issuer.token(erased_id), issuer.token(other_id)
    routes = [
        ("GET", "/api/v1/me"),
        ("DELETE", "/api/v1/me"),
        ("GET", "/api/v1/me/export"),
        ("GET", "/api/v1/me/profile"),
        ("POST", "/api/v1/requests"),
        ("GET", "/api/v1/me/opportunities"),
        ("GET", "/api/v1/me/x"),
        ("GET", "/api/v1/skills"),
        ("GET", "/me/account"),  # a web page
    ]
    async with client(app) as c:
        for method, path in routes:
            r = await c.request(method, path, headers={"Authorization": f"Bearer {erased_token}"})
            assert r.status_code == 200, (path, r.text)  # not yet erased
        seen_before = len(state.seen)
        app.state.erased_users.add(erased_id, time.time())
        for method, path in routes:
            r = await c.request(method, path, headers={"Authorization": f"Bearer {erased_token}"})
            assert r.status_code == 401, (path, r.text)
            assert r.headers["content-type"] == PROBLEM
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["detail"] == "The access token is invalid or expired."
            ok = await c.request(method, path, headers={"Authorization": f"Bearer {other_token}"})
            assert ok.status_code == 200, (path, ok.text)
        assert len(state.seen) == seen_before + len(routes), "no erased request reached an upstream"
        # Without a token the same routes are public as before.
        assert (await c.get("/api/v1/skills")).status_code == 200
        metrics = (await c.get("/metrics")).text
        assert "lx_gateway_erased_users 1.0" in metrics
        assert f"lx_gateway_erased_token_refused_total {float(len(routes))}" in metrics


# -- the feed against the real broker -----------------------------------------------------------------


@pytest.mark.integration
async def test_the_feed_reads_past_erasures_at_start_then_follows_new_ones(stack: Stack) -> None:
    now = datetime.now(UTC)
    recent, old, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def event(user_id: uuid.UUID, at: datetime) -> bytes:
        return envelope(USER_ERASED.name, {"user_id": str(user_id), "at": at.isoformat()}, subject=str(user_id))

    await produce(
        stack.bootstrap_servers,
        USER_ERASED.name,
        [event(recent, now - timedelta(minutes=5)), event(old, now - timedelta(hours=2)), b"{not an event"],
        key=str(recent).encode(),
    )
    erased = ErasedUsers(keep_s=960)
    feed = ErasureFeed(bootstrap_servers=stack.bootstrap_servers, topic=USER_ERASED.name, erased=erased)
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    try:
        await asyncio.wait_for(feed.caught_up.wait(), timeout=20)
        assert recent in erased, "published before the start, read at the start"
        assert old not in erased, "too old for any of its tokens to be unexpired"
        await produce(
            stack.bootstrap_servers, USER_ERASED.name, [event(later, datetime.now(UTC))], key=str(later).encode()
        )

        async def followed() -> bool:
            return later in erased

        await wait_until(followed, timeout_s=20, what="a new erasure to reach the list")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
