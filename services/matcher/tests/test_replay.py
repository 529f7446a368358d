"""Replay: the projections rebuilt from the start of every topic the matcher consumes, into a fresh
copy of its schema through a new consumer group, equal the live ones; rebuilt again after wiping the
projections and the inbox, they are the same again."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import register_and_sign_in, sign_in_admin
from lx_devstack.testkit import wait_until
from matcher_svc import repository as repo
from matcher_svc.service import Tuning

from .conftest import Gateway, make_consumer, matcher_pool

pytestmark = pytest.mark.integration


async def snapshot(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    state = {}
    for table in repo.PROJECTION_TABLES:
        rows = await conn.fetch(f"SELECT * FROM {table}")
        state[table] = sorted((tuple(str(v) for v in r.values()) for r in rows), key=repr)
    return state


async def live_snapshot(stack: Stack) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(stack.dsns["matcher"], server_settings={"search_path": "matcher"})
    # The same JSON decoding the service's (and the scratch) pool uses.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        return await snapshot(conn)
    finally:
        await conn.close()


@pytest.fixture
def history(stack: Stack) -> None:
    """A supporter, a request, an offer accepted and the request completed, all seen by the live matcher."""
    with httpx.Client(base_url=stack.gateway_url, timeout=15.0) as client:
        some_history(stack, client)


def some_history(stack: Stack, client: httpx.Client) -> None:
    gw = Gateway(stack, client)
    admin = sign_in_admin(stack, client)
    skill = gw.new_skill(admin, "Replay testing")
    helper = gw.supporter("Rita Replay", skills={skill: 3})
    owner = register_and_sign_in(client, name="Reg Owner")
    gw.wait_projected(helper)
    rid = gw.open_request(owner, skills=[{"slug": skill, "min_level": 1, "people": 1}])
    gw.act(owner, rid, gw.offer(helper, rid), "accept")
    gw.close(owner, rid, "completed")
    gw.wait_request(rid, "completed")


async def rebuild(stack: Stack, pool: asyncpg.Pool) -> None:
    consumer = make_consumer(
        stack.bootstrap_servers, Tuning(proposals_per_request=0), group=f"replay-{uuid.uuid4().hex[:8]}"
    )
    consumer.subscribe(pool)
    await consumer.broker.start()
    try:
        seen: list[dict[str, list[tuple[Any, ...]]]] = []

        async def caught_up() -> bool:
            seen[:] = [await snapshot(pool), await live_snapshot(stack)]
            return seen[0] == seen[1]

        try:
            await wait_until(caught_up, timeout_s=60, what="the replayed projections to equal the live ones")
        except AssertionError as exc:
            replayed, live = seen
            differ = {
                t: (sorted(set(replayed[t]) - set(live[t]))[:3], sorted(set(live[t]) - set(replayed[t]))[:3])
                for t in live
                if replayed[t] != live[t]
            }
            raise AssertionError(f"replayed vs live differ: {differ}") from exc
    finally:
        await consumer.broker.stop()


async def test_replaying_every_topic_into_fresh_projections_rebuilds_the_same_state(
    stack: Stack, history: None, scratch_schema: tuple[str, str]
) -> None:
    live = await live_snapshot(stack)
    assert live["requests"] and live["candidates"] and live["stat_requests"] and live["offers"]

    dsn, schema = scratch_schema
    pool = await matcher_pool(dsn, schema)
    try:
        await rebuild(stack, pool)
        # Wipe the projections and the inbox, and do it all again through yet another group.
        await pool.execute(f"TRUNCATE {', '.join(repo.PROJECTION_TABLES)}, proposals, proposal_runs, inbox")
        assert (await snapshot(pool))["people"] == []
        await rebuild(stack, pool)
        assert await snapshot(pool) == await live_snapshot(stack)
    finally:
        await pool.close()
