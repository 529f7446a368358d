"""Idempotent consumers against the real broker and Postgres: replay, duplicates, poison messages."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from lx_contracts.envelope import CloudEvent
from lx_devstack.stack import Stack
from lx_devstack.testkit import envelope, produce, read_all, wait_until
from lx_platform.consumer import EventConsumer
from lx_platform.db import create_pool

pytestmark = pytest.mark.integration


def consumed(topic: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("lx_events_consumed_total", {"topic": topic, "outcome": outcome}) or 0.0


@pytest.fixture
async def pool(scratch_schema: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    dsn, schema = scratch_schema
    p = await create_pool(dsn, schema=schema, application_name="test")
    await p.execute("CREATE TABLE tally (subject text PRIMARY KEY, n int NOT NULL)")
    yield p
    await p.close()


async def count_into_tally(conn: asyncpg.Connection, event: CloudEvent) -> None:
    """Deliberately not idempotent on its own: only the inbox makes a redelivery harmless."""
    if event.data.get("fail"):
        raise ValueError("this event always fails")
    await conn.execute(
        "INSERT INTO tally VALUES ($1, 1) ON CONFLICT (subject) DO UPDATE SET n = tally.n + 1", event.subject
    )


async def run_consumer(
    stack: Stack,
    pool: asyncpg.Pool,
    topic: str,
    *,
    group: str,
    until: Callable[[], Awaitable[bool]],
    name: str = "tally",
) -> None:
    broker = KafkaBroker(stack.bootstrap_servers, logger=logging.getLogger("faststream"), log_level=logging.DEBUG)
    consumer = EventConsumer(broker=broker, group_id=group, name=name, retry_backoff_s=0.01)
    consumer.on(topic)(count_into_tally)
    consumer.subscribe(pool)
    await broker.start()
    try:
        await wait_until(until, timeout_s=45, what=f"consumer {group} on {topic}")
    finally:
        await broker.stop()


async def tally(pool: asyncpg.Pool) -> dict[str, int]:
    return {r["subject"]: r["n"] for r in await pool.fetch("SELECT subject, n FROM tally")}


async def test_consuming_a_topic_three_times_leaves_the_same_state(stack: Stack, pool: asyncpg.Pool) -> None:
    topic = f"test.replay-{uuid.uuid4().hex[:8]}.v1"
    ids = [uuid.uuid4() for _ in range(60)]
    values = [envelope(topic, {"i": i}, event_id=eid, subject=f"s{i % 7}") for i, eid in enumerate(ids)]
    # At-least-once delivery: some events arrive twice even in one pass.
    values += values[:15]
    await produce(stack.bootstrap_servers, topic, values)
    expected: dict[str, int] = {}
    for i in range(len(ids)):
        expected[f"s{i % 7}"] = expected.get(f"s{i % 7}", 0) + 1

    states = []
    for run in range(3):
        before = consumed(topic, "handled") + consumed(topic, "duplicate")

        async def whole_topic_seen(before: float = before) -> bool:
            return consumed(topic, "handled") + consumed(topic, "duplicate") - before >= len(values)

        # A new group reads the topic from the start: a full replay into the same inbox.
        await run_consumer(stack, pool, topic, group=f"g{run}-{uuid.uuid4().hex[:6]}", until=whole_topic_seen)
        states.append(await tally(pool))

    assert states[0] == expected
    assert states[0] == states[1] == states[2]
    assert consumed(topic, "handled") == len(ids)


async def test_poison_messages_go_to_the_dlq_and_the_consumer_keeps_going(stack: Stack, pool: asyncpg.Pool) -> None:
    topic = f"test.poison-{uuid.uuid4().hex[:8]}.v1"
    values = [
        envelope(topic, {"i": 1}, subject="before"),
        b"this is not JSON {",
        envelope(topic, {"fail": True}, subject="failing"),
        envelope(topic, {"i": 2}, subject="after"),
    ]
    await produce(stack.bootstrap_servers, topic, values)

    async def after_handled() -> bool:
        return "after" in await tally(pool)

    await run_consumer(stack, pool, topic, group=f"g-{uuid.uuid4().hex[:6]}", until=after_handled)

    assert await tally(pool) == {"before": 1, "after": 1}
    dead = await read_all(stack.bootstrap_servers, topic + ".dlq", expect=2, timeout_s=15)
    by_value = {r.value: dict(r.headers) for r in dead}  # type: ignore[attr-defined]
    assert set(by_value) == {values[1], values[2]}
    assert by_value[values[1]]["dlq-attempts"] == b"1"
    assert by_value[values[2]]["dlq-attempts"] == b"5"
    assert b"ValueError" in by_value[values[2]]["dlq-error"]
    assert by_value[values[2]]["dlq-original-topic"] == topic.encode()
    assert consumed(topic, "dead_lettered") == 1
    assert consumed(topic, "malformed") == 1


async def test_events_with_unknown_fields_are_handled(stack: Stack, pool: asyncpg.Pool) -> None:
    topic = f"test.unknown-{uuid.uuid4().hex[:8]}.v1"
    value = envelope(topic, {"i": 1, "added_in_a_later_version": [1, 2]}, subject="tolerant")
    value = value[:-1] + b', "partitionkey": "extension attribute"}'
    await produce(stack.bootstrap_servers, topic, [value])

    async def handled() -> bool:
        return "tolerant" in await tally(pool)

    await run_consumer(stack, pool, topic, group=f"g-{uuid.uuid4().hex[:6]}", until=handled)
    assert await tally(pool) == {"tolerant": 1}


async def test_consumer_reports_its_own_lag_per_partition(stack: Stack, pool: asyncpg.Pool) -> None:
    topic = f"test.lag-{uuid.uuid4().hex[:8]}.v1"
    await produce(stack.bootstrap_servers, topic, [envelope(topic, {"i": i}, subject="lagging") for i in range(5)])
    broker = KafkaBroker(stack.bootstrap_servers, logger=logging.getLogger("faststream"), log_level=logging.DEBUG)
    consumer = EventConsumer(broker=broker, group_id=f"g-{uuid.uuid4().hex[:6]}", name="lag")
    consumer.on(topic)(count_into_tally)
    consumer.subscribe(pool)
    await broker.start()
    try:

        async def all_handled() -> bool:
            return (await tally(pool)).get("lagging") == 5

        await wait_until(all_handled, timeout_s=45, what="the five events")
        await consumer.report_lag()
        samples = [
            s
            for metric in REGISTRY.collect()
            if metric.name == "lx_consumer_lag"
            for s in metric.samples
            if s.labels.get("topic") == topic
        ]
        # The key sends all five to one partition; the consumer knows that partition's end and is at it.
        assert samples, "lag is reported for the partitions the consumer holds"
        assert all(s.value == 0 for s in samples)
    finally:
        await broker.stop()
