"""The outbox relay publishes every committed event, survives SIGKILL mid-batch, and can replay."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import BaseModel

from lx_devstack.stack import Stack
from lx_devstack.testkit import read_all, wait_until
from lx_platform.db import create_pool
from lx_platform.kafka import make_producer
from lx_platform.outbox import OutboxRelay, enqueue, replay

pytestmark = pytest.mark.integration


class Ping(BaseModel):
    n: int


async def _commit_events(pool: asyncpg.Pool, topic: str, count: int, per_tx: int = 1000) -> set[str]:
    ids: set[str] = set()
    async with pool.acquire() as conn:
        for start in range(0, count, per_tx):
            async with conn.transaction():
                for n in range(start, min(start + per_tx, count)):
                    event = await enqueue(conn, topic=topic, service="test", subject=f"agg-{n % 50}", data=Ping(n=n))
                    ids.add(str(event.id))
    return ids


def _relay(dsn: str, schema: str, bootstrap: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lx_platform.relay_cli",
            "run",
            "--dsn",
            dsn,
            "--schema",
            schema,
            "--bootstrap",
            bootstrap,
            "--batch-size",
            "200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_relay_killed_mid_batch_publishes_every_committed_event_after_restart(
    stack: Stack, scratch_schema: tuple[str, str]
) -> None:
    dsn, schema = scratch_schema
    topic = f"test.relay-kill-{uuid.uuid4().hex[:8]}.v1"
    pool = await create_pool(dsn, schema=schema, application_name="test")
    try:
        ids = await _commit_events(pool, topic, 20_000)

        async def published() -> int:
            return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"))

        relay = _relay(dsn, schema, stack.bootstrap_servers)
        try:
            await wait_until(lambda: _gt(published(), 0), timeout_s=30, what="the relay to publish something")
        finally:
            os.kill(relay.pid, signal.SIGKILL)
            relay.wait(10)
        at_kill = await published()
        assert 0 < at_kill < len(ids), f"the relay must be killed mid-way (published {at_kill} of {len(ids)})"

        relay = _relay(dsn, schema, stack.bootstrap_servers)
        try:
            await wait_until(lambda: _eq(published(), len(ids)), timeout_s=60, what="every row published")
        finally:
            relay.terminate()
            relay.wait(10)

        records = await read_all(stack.bootstrap_servers, topic, expect=len(ids), timeout_s=60)
        seen = [json.loads(r.value)["id"] for r in records]  # type: ignore[attr-defined]
        missing = ids - set(seen)
        print(
            f"committed={len(ids)} published_before_kill={at_kill} received={len(seen)} "
            f"duplicates={len(seen) - len(set(seen))} lost={len(missing)}"
        )
        assert not missing, f"{len(missing)} committed events were never published"
    finally:
        await pool.close()


async def _gt(value: object, n: int) -> bool:
    return await value > n  # type: ignore[operator]


async def _eq(value: object, n: int) -> bool:
    return await value == n  # type: ignore[operator]


async def test_uncommitted_events_are_never_published(stack: Stack, scratch_schema: tuple[str, str]) -> None:
    dsn, schema = scratch_schema
    topic = f"test.relay-rollback-{uuid.uuid4().hex[:8]}.v1"
    pool = await create_pool(dsn, schema=schema, application_name="test")
    producer = make_producer(stack.bootstrap_servers, client_id="test", idempotent=False)
    await producer.start()
    try:
        with pytest.raises(RuntimeError):
            async with pool.acquire() as conn, conn.transaction():
                await enqueue(conn, topic=topic, service="test", subject="a", data=Ping(n=1))
                raise RuntimeError("the state change failed")
        kept = await _commit_events(pool, topic, 3)
        relay = OutboxRelay(pool=pool, schema=schema, producer=producer)
        assert await relay.publish_batch() == 3
        records = await read_all(stack.bootstrap_servers, topic, expect=4, timeout_s=3)
        assert {json.loads(r.value)["id"] for r in records} == kept  # type: ignore[attr-defined]
    finally:
        await producer.stop()
        await pool.close()


async def test_enqueue_outside_a_transaction_is_refused(stack: Stack, scratch_schema: tuple[str, str]) -> None:
    dsn, schema = scratch_schema
    pool = await create_pool(dsn, schema=schema, application_name="test")
    try:
        async with pool.acquire() as conn:
            with pytest.raises(RuntimeError, match="inside"):
                await enqueue(conn, topic="test.x.v1", service="test", subject="a", data=Ping(n=1))
    finally:
        await pool.close()


async def test_replay_republishes_retained_events_in_order(stack: Stack, scratch_schema: tuple[str, str]) -> None:
    dsn, schema = scratch_schema
    topic = f"test.relay-replay-{uuid.uuid4().hex[:8]}.v1"
    pool = await create_pool(dsn, schema=schema, application_name="test")
    producer = make_producer(stack.bootstrap_servers, client_id="test", idempotent=False)
    await producer.start()
    try:
        ids = await _commit_events(pool, topic, 10)
        relay = OutboxRelay(pool=pool, schema=schema, producer=producer)
        assert await relay.publish_batch() == 10
        assert await replay(pool, topic=topic, since=datetime.now(UTC) - timedelta(hours=1)) == 10
        assert await relay.publish_batch() == 10
        records = await read_all(stack.bootstrap_servers, topic, expect=20, timeout_s=10)
        ns = [json.loads(r.value)["data"]["n"] for r in records if r.key == b"agg-1"]  # type: ignore[attr-defined]
        assert ns == [1, 1], "both copies of the event for agg-1 arrive"
        assert {json.loads(r.value)["id"] for r in records} == ids  # type: ignore[attr-defined]
    finally:
        await producer.stop()
        await pool.close()


async def test_published_rows_are_pruned_after_the_retention_window(
    stack: Stack, scratch_schema: tuple[str, str]
) -> None:
    dsn, schema = scratch_schema
    pool = await create_pool(dsn, schema=schema, application_name="test")
    producer = make_producer(stack.bootstrap_servers, client_id="test", idempotent=False)
    await producer.start()
    try:
        await _commit_events(pool, f"test.prune-{uuid.uuid4().hex[:8]}.v1", 5)
        relay = OutboxRelay(pool=pool, schema=schema, producer=producer, retention=timedelta(hours=1))
        await relay.publish_batch()
        await pool.execute(
            "UPDATE outbox SET published_at = now() - interval '2 hours' WHERE id IN "
            "(SELECT id FROM outbox ORDER BY id LIMIT 2)"
        )
        assert await relay.prune() == 2
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 3
    finally:
        await producer.stop()
        await pool.close()


async def test_relay_wakes_on_notify_without_waiting_for_the_poll(
    stack: Stack, scratch_schema: tuple[str, str]
) -> None:
    dsn, schema = scratch_schema
    pool = await create_pool(dsn, schema=schema, application_name="test")
    producer = make_producer(stack.bootstrap_servers, client_id="test", idempotent=False)
    await producer.start()
    stop = asyncio.Event()
    # A poll interval far longer than the deadline below: only NOTIFY can wake it in time.
    relay = OutboxRelay(pool=pool, schema=schema, producer=producer, idle_poll_s=120)
    task = asyncio.create_task(relay.run(stop))
    try:
        await _commit_events(pool, f"test.notify-{uuid.uuid4().hex[:8]}.v1", 1)
        await wait_until(
            lambda: _eq(pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0),
            timeout_s=3,
            what="the first event",
        )
        await _commit_events(pool, f"test.notify-{uuid.uuid4().hex[:8]}.v1", 1)
        await wait_until(
            lambda: _eq(pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0),
            timeout_s=3,
            what="the relay to wake on NOTIFY",
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await producer.stop()
        await pool.close()
