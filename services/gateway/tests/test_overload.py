"""The gateway under more calls than an upstream takes at once, against a real slow upstream on
loopback: calls past the in-flight bound are answered 503 at once (the gateway's own congestion,
never blamed on the upstream), and once the load drops the gateway answers again straight away."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from gateway_svc.settings import UpstreamTimeout
from lx_devstack.testkit import wait_until

pytestmark = pytest.mark.integration

NO_RATE_LIMIT = {"rate_limit_per_minute": 10**6, "rate_limit_burst": 10**6}


def counted(name: str, **labels: str) -> float:
    """A counter of the gateway's own metrics (one registry per process: tests compare before and after)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def client(app: Any) -> httpx.AsyncClient:
    # No connection limit on this side: every call reaches the gateway's handler at once.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_calls_past_the_in_flight_bound_are_answered_busy_at_once_and_never_open_the_breaker(
    upstream: Any, make_gateway: Any
) -> None:
    url, state = upstream
    app = make_gateway(
        url,
        upstream_max_in_flight=3,
        upstream_timeouts={"skills": UpstreamTimeout(connect=0.2, read=5.0)},
        breaker_failure_threshold=1,
        **NO_RATE_LIMIT,
    )
    state.delay_s = 0.6
    busy_before = counted("lx_gateway_upstream_busy_total", upstream="skills")
    timeouts_before = counted("lx_gateway_upstream_failures_total", upstream="skills", kind="timeout")

    async def timed(path: str) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        answer = await c.get(path)
        return answer, time.monotonic() - started

    async with client(app) as c:
        results = await asyncio.gather(*(timed("/api/v1/skills") for _ in range(30)), timed("/api/v1/requests"))
        skills, other = results[:-1], results[-1][0]
        assert Counter(r.status_code for r, _ in skills) == {200: 3, 503: 27}
        busy = [(r, took) for r, took in skills if r.status_code == 503]
        assert all(took < 0.5 for _, took in busy), "refused at once, not after waiting for a connection"
        assert all(r.headers["content-type"] == "application/problem+json" for r, _ in busy)
        assert all(r.headers["retry-after"] == "1" for r, _ in busy)
        assert "busy" in busy[0][0].json()["detail"]
        assert other.status_code == 200, "one upstream's calls never wait on another's"
    assert len(state.seen) == 4
    assert app.state.breakers["skills"].state.name == "CLOSED", "the gateway's congestion is not the upstream's failure"
    assert counted("lx_gateway_upstream_busy_total", upstream="skills") - busy_before == 27
    assert counted("lx_gateway_upstream_failures_total", upstream="skills", kind="timeout") == timeouts_before


async def test_after_an_overload_the_gateway_answers_again_as_soon_as_the_upstream_does(
    upstream: Any, make_gateway: Any
) -> None:
    url, state = upstream
    app = make_gateway(
        url,
        upstream_max_in_flight=4,
        # Slower than the read timeout during the waves: calls time out, their connections close
        # and new ones are opened for the next calls, as in an overload of the whole machine.
        upstream_timeouts={"skills": UpstreamTimeout(connect=0.25, read=0.25)},
        # The breaker stays out of the way during the waves: every call of them reaches the pool.
        breaker_failure_threshold=10_000,
        **NO_RATE_LIMIT,
    )
    state.delay_s = 0.3
    async with client(app) as c:

        async def started_at(offset_s: float) -> httpx.Response:
            await asyncio.sleep(offset_s)  # open loop: calls start on schedule, whatever the answers take
            return await c.get("/api/v1/skills")

        for _ in range(3):  # waves of 500 calls a second, far more than the upstream takes
            answers = await asyncio.gather(*(started_at(n * 0.002) for n in range(300)))
            assert {a.status_code for a in answers} <= {200, 503, 504}
        state.delay_s = 0.0
        started = time.monotonic()

        async def answers_again() -> bool:
            return (await c.get("/api/v1/skills")).status_code == 200

        await wait_until(answers_again, timeout_s=5, what="the gateway to answer once the upstream is quick again")
        assert time.monotonic() - started < 1.0, "at once after the load"
        # And it keeps answering: nothing of the overload is left behind in the gateway.
        calm = await asyncio.gather(*(c.get("/api/v1/skills") for _ in range(4)))
        assert [a.status_code for a in calm] == [200] * 4


async def test_a_slow_upload_holds_no_place_of_the_upstreams(upstream: Any, make_gateway: Any) -> None:
    url, state = upstream
    app = make_gateway(url, upstream_max_in_flight=1, **NO_RATE_LIMIT)
    uploading = asyncio.Event()

    async def slow_body() -> Any:
        yield b"first part,"
        uploading.set()
        await asyncio.sleep(1.0)  # the client being slow, not the test waiting
        yield b"second part"

    async with client(app) as c:
        upload = asyncio.create_task(c.post("/api/v1/skills", content=slow_body()))
        await asyncio.wait_for(uploading.wait(), timeout=5)
        assert (await c.get("/api/v1/skills")).status_code == 200, "the upload is not in flight to the upstream yet"
        assert (await upload).status_code == 200
    assert len(state.seen) == 2


async def test_connections_held_by_no_call_of_the_gateway_never_block_its_calls(
    upstream: Any, make_gateway: Any
) -> None:
    url, state = upstream
    app = make_gateway(
        url,
        upstream_max_in_flight=2,
        upstream_timeouts={"skills": UpstreamTimeout(connect=0.2, read=5.0)},
        breaker_failure_threshold=1,
        **NO_RATE_LIMIT,
    )
    session = app.state.upstream_clients.session("skills")
    state.delay_s = 3.0

    async def held() -> int:
        async with session.get(url + "/held") as answer:
            return answer.status

    # As many connections of the upstream's session as the bound taken by calls that are not the
    # gateway's: as if lost by calls that ended without giving them back. The session has no pool
    # limit of its own (the bulkhead is the bound), so the gateway's calls never wait for them.
    holders = [asyncio.create_task(held()) for _ in range(2)]

    async def both_taken() -> bool:
        return len(state.seen) == 2

    await wait_until(both_taken, timeout_s=5, what="the session's connections to be taken")
    state.delay_s = 0.0
    async with client(app) as c:
        started = time.monotonic()
        answers = await asyncio.gather(c.get("/api/v1/skills"), c.get("/api/v1/skills"))
        assert [a.status_code for a in answers] == [200, 200]
        assert time.monotonic() - started < 1.0
    assert app.state.breakers["skills"].state.name == "CLOSED"
    assert [await h for h in holders] == [200, 200], "the other calls still finish"
