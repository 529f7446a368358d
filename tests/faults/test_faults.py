"""Faults against the real servers, on a stack of this module's own (it stops the broker and Postgres, so it
never uses the shared session stack): the broker lost and restarted under load, each service killed with
SIGKILL, Postgres restarted, the matcher's consumer stuck on a lock. Each test prints what it sent and
what was accepted, lost and duplicated, and fails unless nothing was lost or duplicated."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from lx_devstack.ports import free_port, free_service_port_base
from lx_devstack.services import SERVICES
from lx_devstack.stack import Stack, StackConfig
from lx_devstack.testkit import wait_until

from .campaign import PROBLEM, TIMEOUT_S, Campaign, Tally

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of this module's own, built as the session's is (temporary folder, free ports, ephemeral)."""
    config = StackConfig(
        data_dir=tmp_path_factory.mktemp("fault-stack"),
        gateway_port=free_port(),
        service_port_base=free_service_port_base(),
        broker_port=free_port(),
        ephemeral=True,
        fake_x=True,
        # An upstream that is back is tried again after a second, not ten.
        # The watcher's opportunities must hold every request the tests open (the default ranks the best 200).
        extra_env={"GATEWAY_BREAKER_COOLDOWN_S": "1", "MATCHER_CANDIDATE_POOL": "5000"},
    )
    # Built directly (not from_env), so a DATABASE_URL or KAFKA_BOOTSTRAP_SERVERS in the environment is
    # never used: these tests stop the broker and Postgres, so they always start their own.
    s = Stack(config)
    s.start()
    s.started_at = datetime.now(UTC) - timedelta(minutes=1)  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
async def campaign(fault_stack: Stack) -> AsyncIterator[Campaign]:
    async with httpx.AsyncClient(base_url=fault_stack.gateway_url, timeout=TIMEOUT_S) as client:
        c = Campaign(fault_stack, client)
        await c.set_up()
        yield c


def _report(tally: Tally, lost: int, duplicated: int, what: str) -> None:
    assert lost == 0, f"{what}: {lost} accepted writes never reached the matcher"
    assert duplicated == 0, f"{what}: {duplicated} writes counted more than once"
    assert not tally.bad_refusals, f"{what}: refusals other than a quick 503 problem+json: {tally.bad_refusals[:5]}"


async def _replay_everything(stack: Stack, since: datetime) -> None:
    """The runbook's recovery after the broker lost its data: `lx-relay replay` for each service's outbox."""
    relay = Path(sys.executable).with_name("lx-relay")
    for spec in SERVICES:
        if not spec.schema:
            continue
        proc = await asyncio.create_subprocess_exec(
            str(relay),
            "replay",
            "--dsn",
            stack.dsns[spec.name],
            "--schema",
            spec.schema,
            "--since",
            since.isoformat(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, out.decode()
        print(f"lx-relay replay --schema {spec.schema}: {out.decode().strip().splitlines()[-1]}")


# -- 1. the broker stopped and restarted (empty) under load ----------------------------------------

UNITS = 300  # requests, each followed by an offer: 600 writes
DURATION_S = 20.0


async def test_broker_restarted_under_load_loses_nothing(fault_stack: Stack, campaign: Campaign) -> None:
    began = time.monotonic()
    open_before = await campaign.open_requests_counted()
    tally = Tally()
    load = asyncio.create_task(campaign.run(UNITS, DURATION_S, tally=tally))

    await wait_until(lambda: _true(tally.accepted >= UNITS * 2 // 3), timeout_s=60, what="a third of the writes")
    await asyncio.to_thread(fault_stack.stop_broker)
    down_at = tally.accepted
    # Down until writes have gone on being accepted without it: they commit in Postgres, events in the outbox.
    await wait_until(
        lambda: _true(tally.accepted >= down_at + 40), timeout_s=30, what="writes accepted while the broker is down"
    )
    during = tally.accepted - down_at
    await asyncio.to_thread(fault_stack.start_broker)
    await asyncio.wait_for(load, timeout=120)
    assert not tally.refused, f"writes refused while the broker was away: {dict(tally.refused)}"

    await _replay_everything(fault_stack, fault_stack.started_at)  # type: ignore[attr-defined]
    lost, duplicated = await campaign.check(tally, open_before=open_before, what="broker restarted")
    print(f"accepted while the broker was down: {during}; took {time.monotonic() - began:.1f} s")
    print(f"sent={tally.sent} accepted={tally.accepted} lost={lost} duplicated={duplicated}")
    _report(tally, lost, duplicated, "broker restarted")


async def _true(value: bool) -> bool:
    return value


# -- 2. each service killed with SIGKILL mid-work, then started again ------------------------------

KILL_ORDER = ["identity", "skills", "requests", "matcher", "twitter-gateway", "gateway", "web"]


async def test_each_service_killed_mid_work_loses_nothing(fault_stack: Stack, campaign: Campaign) -> None:
    began = time.monotonic()
    open_before = await campaign.open_requests_counted()
    total = Tally()
    for name in KILL_ORDER:
        t0 = time.monotonic()
        tally = Tally()
        load = asyncio.create_task(campaign.run(16, 3.0, concurrency=3, tally=tally))
        await wait_until(lambda t=tally: _true(len(t.requests) >= 3), timeout_s=20, what=f"work before {name} dies")
        pid = fault_stack.processes[name].pid
        await asyncio.to_thread(fault_stack.stop_service, name, signal.SIGKILL)
        if name != "gateway":
            # Everything not behind the killed service goes on answering through the gateway.
            other = "/api/v1/requests" if name == "skills" else "/api/v1/skills"
            r = await campaign.http.get(other)
            assert r.status_code == 200, f"{other} while {name} is down: {r.status_code} {r.text[:200]}"
        await asyncio.to_thread(fault_stack.start_service, name)
        assert fault_stack.processes[name].pid != pid
        await asyncio.wait_for(load, timeout=60)
        # Back: the same work is accepted again.
        after = await campaign.run(2, 0.1)
        assert not after.refused, f"writes refused after {name} came back: {dict(after.refused)}"
        tally.merge(after)
        if name not in ("requests", "gateway"):
            assert not tally.refused, f"writes refused while {name} was down: {dict(tally.refused)}"
        print(
            f"killed {name}: sent={tally.sent} accepted={tally.accepted} refused={dict(tally.refused)} "
            f"slowest refusal {tally.slowest_refusal_s:.2f} s, {time.monotonic() - t0:.1f} s in all"
        )
        total.merge(tally)
    web = httpx.get(fault_stack.url_of("web") + "/", timeout=5)
    assert web.status_code == 200
    lost, duplicated = await campaign.check(total, open_before=open_before, what="services killed")
    print(f"took {time.monotonic() - began:.1f} s")
    print(f"sent={total.sent} accepted={total.accepted} lost={lost} duplicated={duplicated}")
    assert total.slowest_refusal_s < TIMEOUT_S
    _report(total, lost, duplicated, "services killed")


# -- 3. Postgres restarted ------------------------------------------------------------------------


async def test_postgres_restarted_answers_503_then_recovers(fault_stack: Stack, campaign: Campaign) -> None:
    began = time.monotonic()
    open_before = await campaign.open_requests_counted()
    pids = {name: p.pid for name, p in fault_stack.processes.items()}
    assert fault_stack.postgres is not None
    tally = Tally()
    # Hold the matcher's consumer up on a lock first, so events are waiting for it when Postgres goes: its
    # handlers then meet the outage itself, not only the relays and the API.
    lock = await asyncpg.connect(fault_stack.postgres.project_admin_url)
    await lock.execute("BEGIN; LOCK TABLE matcher.requests IN ACCESS EXCLUSIVE MODE")
    load = asyncio.create_task(campaign.run(40, 8.0, concurrency=3, tally=tally))
    await wait_until(lambda: _true(len(tally.requests) >= 8), timeout_s=30, what="writes before Postgres stops")
    await asyncio.to_thread(fault_stack.stop_postgres)
    down = time.monotonic()
    lock.terminate()

    try:
        # Down until the workload has met the outage and a service reports it.
        async with httpx.AsyncClient(timeout=5) as client:

            async def outage_seen() -> bool:
                r = await client.get(fault_stack.url_of("matcher") + "/readyz")
                return r.status_code == 503 and sum(tally.refused.values()) >= 3

            await wait_until(outage_seen, timeout_s=20, what="the workload to meet the outage")
        # While it is down: a quick 503 problem+json, never a 500 or a hang.
        outage: list[str] = []
        owner = campaign.owners[0]
        for method, path in (("POST", "/api/v1/requests"), ("GET", "/api/v1/requests"), ("GET", "/api/v1/me")):
            t0 = time.monotonic()
            if method == "POST":
                r = await campaign._post_request(owner)  # noqa: SLF001 - the workload's own request body
            else:
                r = await campaign.http.get(path, headers=owner.auth)
            took = time.monotonic() - t0
            outage.append(f"{method} {path} → {r.status_code} in {took:.2f} s")
            assert r.status_code == 503, f"{method} {path} while Postgres is down: {r.status_code} {r.text[:300]}"
            assert r.headers["content-type"].startswith(PROBLEM)
            assert took < TIMEOUT_S
        print("while Postgres was down: " + "; ".join(outage))
    finally:
        await asyncio.to_thread(fault_stack.start_postgres)
    print(f"Postgres was down {time.monotonic() - down:.1f} s")
    await asyncio.wait_for(load, timeout=60)

    # The services reconnect on their own: no restarts.
    async def writes_accepted_again() -> bool:
        r = await campaign._post_request(owner)  # noqa: SLF001
        if r.status_code == 201:
            tally.sent += 1
            tally.requests.append(r.json()["id"])
            return True
        return False

    await wait_until(writes_accepted_again, timeout_s=30, what="writes to be accepted after Postgres is back")
    async with httpx.AsyncClient(timeout=5) as client:
        for spec in SERVICES:

            async def ready(url: str = fault_stack.url_of(spec.name) + "/readyz") -> bool:
                return (await client.get(url)).status_code == 200

            await wait_until(ready, timeout_s=30, what=f"{spec.name} ready again")
    assert {name: p.pid for name, p in fault_stack.processes.items()} == pids, "a service was restarted"
    assert not fault_stack.crashed()

    lost, duplicated = await campaign.check(tally, open_before=open_before, what="Postgres restarted")
    print(f"took {time.monotonic() - began:.1f} s")
    print(f"sent={tally.sent} accepted={tally.accepted} lost={lost} duplicated={duplicated}")
    _report(tally, lost, duplicated, "Postgres restarted")


# -- 4. a consumer stuck: the matcher's handler waits on a lock -----------------------------------

_LAG = re.compile(r'^lx_consumer_lag\{consumer="matcher",[^}]*\}\s+([0-9.e+]+)$', re.M)


async def _matcher_lag(stack: Stack) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.get(stack.url_of("matcher") + "/metrics")
    return sum(float(v) for v in _LAG.findall(r.text))


async def test_a_stuck_consumer_shows_lag_and_the_others_keep_going(fault_stack: Stack, campaign: Campaign) -> None:
    began = time.monotonic()
    open_before = await campaign.open_requests_counted()
    assert fault_stack.postgres is not None
    lock = await asyncpg.connect(fault_stack.postgres.project_admin_url)
    released = False
    try:
        tx = lock.transaction()
        await tx.start()
        # The matcher's handler for a new request writes this table: it waits until the lock goes.
        await lock.execute("LOCK TABLE matcher.requests IN ACCESS EXCLUSIVE MODE")
        tally = await campaign.run(30, 3.0, concurrency=3)
        assert not tally.refused, dict(tally.refused)

        # The others keep consuming and serving: a skill added now reaches the requests service.
        assert campaign.admin is not None
        slug = f"fault-{os.urandom(4).hex()}"
        r = await campaign.http.post(
            "/api/v1/skills",
            headers=campaign.admin.auth,
            json={"slug": slug, "name": f"Stewarding {slug[-4:]}", "category": "events", "description": "Stewards."},
        )
        assert r.status_code == 201, r.text
        extra: list[str] = []

        async def requests_learned_the_skill() -> bool:
            r = await campaign.http.post(
                "/api/v1/requests",
                headers=campaign.owners[1].auth,
                json={
                    "title": "Stewards for the rally",
                    "constituency_code": "E14001354",
                    "skills": [{"slug": slug, "min_level": 1, "people": 2}],
                },
            )
            if r.status_code == 201:
                extra.append(r.json()["id"])
            return r.status_code == 201

        await wait_until(requests_learned_the_skill, timeout_s=30, what="requests to consume the new skill")
        skills = await campaign.http.get("/api/v1/skills")
        assert skills.status_code == 200 and slug in [s["slug"] for s in skills.json()]

        lag: list[float] = []

        async def lag_visible() -> bool:
            lag[:] = [await _matcher_lag(fault_stack)]
            return lag[0] > 0

        await wait_until(lag_visible, timeout_s=40, what="the matcher's lag in /metrics")
        print(f"matcher lag while stuck: {lag[0]:.0f}")
        stuck = await asyncpg.connect(fault_stack.postgres.project_admin_url)
        try:
            waiting = await stuck.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'matcher' AND wait_event_type = 'Lock'"
            )
        finally:
            await stuck.close()
        assert waiting >= 1, "the matcher's consumer was not waiting on the lock"
        await tx.rollback()
        released = True
    finally:
        if not released:
            await lock.execute("ROLLBACK")
        await lock.close()

    async def lag_drained() -> bool:
        return await _matcher_lag(fault_stack) == 0

    await wait_until(lag_drained, timeout_s=45, what="the matcher's lag to drain")
    # The request for the new skill is counted too, though the watcher lacks its skill.
    lost, duplicated = await campaign.check(tally, open_before=open_before + len(extra), what="consumer stuck")
    print(f"took {time.monotonic() - began:.1f} s")
    print(f"sent={tally.sent} accepted={tally.accepted} lost={lost} duplicated={duplicated}")
    _report(tally, lost, duplicated, "consumer stuck")
