"""The outbox relay publishes every committed event, survives SIGKILL mid-batch, and can replay."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from lx_devstack.stack import Stack
from lx_devstack.testkit import read_all, wait_until
from lx_platform.db import create_pool
from lx_platform.kafka import make_producer
from lx_platform.outbox import OutboxRelay, enqueue, replay

pytestmark = pytest.mark.integration


class Ping(BaseModel):
    n: int


@dataclass
class Outbox:
    dsn: str
    schema: str
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    bootstrap: str

    def relay(self, **options: object) -> OutboxRelay:
        return OutboxRelay(pool=self.pool, schema=self.schema, producer=self.producer, **options)  # type: ignore[arg-type]

    async def commit_events(self, topic: str, count: int, per_tx: int = 1000) -> set[str]:
        ids: set[str] = set()
        async with self.pool.acquire() as conn:
            for start in range(0, count, per_tx):
                async with conn.transaction():
                    for n in range(start, min(start + per_tx, count)):
                        event = await enqueue(
                            conn, topic=topic, service="test", subject=f"agg-{n % 50}", data=Ping(n=n)
                        )
                        ids.add(str(event.id))
        return ids

    async def count(self, where: str) -> int:
        return int(await self.pool.fetchval(f"SELECT count(*) FROM outbox WHERE {where}"))


@pytest.fixture
async def outbox(stack: Stack, scratch_schema: tuple[str, str]) -> AsyncIterator[Outbox]:
    dsn, schema = scratch_schema
    pool = await create_pool(dsn, schema=schema, application_name="test")
    producer = make_producer(stack.bootstrap_servers, client_id="test", idempotent=False)
    await producer.start()
    try:
        yield Outbox(dsn, schema, pool, producer, stack.bootstrap_servers)
    finally:
        await producer.stop()
        await pool.close()


def new_topic(name: str) -> str:
    return f"test.{name}-{uuid.uuid4().hex[:8]}.v1"


def _relay_process(o: Outbox) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lx_platform.relay_cli", "run", "--dsn", o.dsn, "--schema", o.schema,
         "--bootstrap", o.bootstrap, "--batch-size", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def test_relay_killed_mid_batch_publishes_every_committed_event_after_restart(outbox: Outbox) -> None:
    topic = new_topic("relay-kill")
    ids = await outbox.commit_events(topic, 20_000)

    async def some_published() -> bool:
        return await outbox.count("published_at IS NOT NULL") > 0

    async def all_published() -> bool:
        return await outbox.count("published_at IS NULL") == 0

    relay = _relay_process(outbox)
    try:
        await wait_until(some_published, timeout_s=30, what="the relay to publish something")
    finally:
        os.kill(relay.pid, signal.SIGKILL)
        relay.wait(10)
    at_kill = await outbox.count("published_at IS NOT NULL")
    assert 0 < at_kill < len(ids), f"the relay must be killed mid-way (published {at_kill} of {len(ids)})"

    relay = _relay_process(outbox)
    try:
        await wait_until(all_published, timeout_s=60, what="every row published")
    finally:
        relay.terminate()
        relay.wait(10)

    records = await read_all(outbox.bootstrap, topic, expect=len(ids), timeout_s=60)
    seen = [json.loads(r.value)["id"] for r in records]  # type: ignore[attr-defined]
    missing = ids - set(seen)
    print(
        f"committed={len(ids)} published_before_kill={at_kill} received={len(seen)} "
        f"duplicates={len(seen) - len(set(seen))} lost={len(missing)}"
    )
    assert not missing, f"{len(missing)} committed events were never published"


async def test_uncommitted_events_are_never_published(outbox: Outbox) -> None:
    topic = new_topic("relay-rollback")
    with pytest.raises(RuntimeError):
        async with outbox.pool.acquire() as conn, conn.transaction():
            await enqueue(conn, topic=topic, service="test", subject="a", data=Ping(n=1))
            raise RuntimeError("the state change failed")
    kept = await outbox.commit_events(topic, 3)
    assert await outbox.relay().publish_batch() == 3
    records = await read_all(outbox.bootstrap, topic, expect=4, timeout_s=3)
    assert {json.loads(r.value)["id"] for r in records} == kept  # type: ignore[attr-defined]


async def test_enqueue_outside_a_transaction_is_refused(outbox: Outbox) -> None:
    async with outbox.pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside"):
            await enqueue(conn, topic="test.x.v1", service="test", subject="a", data=Ping(n=1))


async def test_replay_republishes_retained_events_in_order(outbox: Outbox) -> None:
    topic = new_topic("relay-replay")
    ids = await outbox.commit_events(topic, 10)
    relay = outbox.relay()
    assert await relay.publish_batch() == 10
    assert await replay(outbox.pool, topic=topic, since=datetime.now(UTC) - timedelta(hours=1)) == 10
    assert await relay.publish_batch() == 10
    records = await read_all(outbox.bootstrap, topic, expect=20, timeout_s=10)
    ns = [json.loads(r.value)["data"]["n"] for r in records if r.key == b"agg-1"]  # type: ignore[attr-defined]
    assert ns == [1, 1], "both copies of the event for agg-1 arrive"
    assert {json.loads(r.value)["id"] for r in records} == ids  # type: ignore[attr-defined]


async def test_published_rows_are_pruned_after_the_retention_window(outbox: Outbox) -> None:
    await outbox.commit_events(new_topic("prune"), 5)
    relay = outbox.relay(retention=timedelta(hours=1))
    await relay.publish_batch()
    await outbox.pool.execute(
        "UPDATE outbox SET published_at = now() - interval '2 hours' WHERE id IN "
        "(SELECT id FROM outbox ORDER BY id LIMIT 2)"
    )
    assert await relay.prune() == 2
    assert await outbox.count("true") == 3


async def test_relay_wakes_on_notify_without_waiting_for_the_poll(outbox: Outbox) -> None:
    stop = asyncio.Event()
    # A poll interval far longer than the deadline below: only NOTIFY can wake it in time.
    task = asyncio.create_task(outbox.relay(idle_poll_s=120).run(stop))

    async def nothing_pending() -> bool:
        return await outbox.count("published_at IS NULL") == 0

    try:
        await outbox.commit_events(new_topic("notify"), 1)
        await wait_until(nothing_pending, timeout_s=3, what="the first event")
        await outbox.commit_events(new_topic("notify"), 1)
        await wait_until(nothing_pending, timeout_s=3, what="the relay to wake on NOTIFY")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
