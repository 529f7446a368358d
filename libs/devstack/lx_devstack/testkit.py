"""Helpers for tests: reading and writing the real broker, waiting for conditions with deadlines."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


def envelope(topic: str, data: dict[str, object], *, event_id: uuid.UUID | None = None, subject: str = "s1") -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(event_id or uuid.uuid4()),
            "source": "/services/test",
            "type": topic,
            "time": datetime.now(UTC).isoformat(),
            "subject": subject,
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


async def produce(bootstrap: str, topic: str, values: list[bytes], *, key: bytes = b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, *, expect: int | None = None, timeout_s: float = 30.0) -> list[object]:
    """Read a topic from the beginning: until `expect` records arrived, or (without `expect`) up to
    what it held when the call began; either way no longer than the deadline."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[object] = []
    try:
        deadline = time.monotonic() + timeout_s
        partitions: set[int] = set()
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()  # noqa: SLF001 - topic created meanwhile
                await asyncio.sleep(0.05)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return records
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps) if expect is None else {}

        async def done() -> bool:
            if expect is not None:
                return len(records) >= expect
            for tp, end in ends.items():
                if await consumer.position(tp) < end:
                    return False
            return True

        while not await done() and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 30.0, what: str = "condition", interval_s: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def poll_until(
    check: Callable[[], bool], *, timeout_s: float = 30.0, what: str = "condition", interval_s: float = 0.05
) -> None:
    """`wait_until` for blocking checks (sync HTTP clients, browser pages): true before the deadline, or fail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a free loopback port, in a thread of its own, until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    async def started() -> bool:
        assert thread.is_alive(), "the test server stopped while starting"
        return bool(server.started)

    try:
        await wait_until(started, timeout_s=10, what="the test server to start", interval_s=0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10.0)
        sock.close()


# Where tests open sealed event fields: the key vault of the stack under test (set by the `stack` fixture).
_key_vault_dsn: str | None = None


def use_key_vault(dsn: str | None) -> None:
    """Let `opened` and `events_once_published` open sealed fields with the keys in this database."""
    global _key_vault_dsn
    _key_vault_dsn = dsn


async def opened(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with their sealed personal fields opened (as a consumer sees them); fields whose key has been
    destroyed are left sealed. Without a key vault the events are returned as they are."""
    from lx_platform.sealing import SubjectKey, is_sealed, kid_of

    kids = {kid_of(v) for e in events for v in (e.get("data") or {}).values() if is_sealed(v)}
    if not kids or _key_vault_dsn is None:
        return events
    import asyncpg

    conn = await asyncpg.connect(_key_vault_dsn)
    try:
        rows = await conn.fetch(
            "SELECT user_id, kid, key FROM keyvault.subject_keys WHERE kid = ANY($1::uuid[])", list(kids)
        )
    finally:
        await conn.close()
    keys = {r["kid"]: SubjectKey(r["user_id"], r["kid"], bytes(r["key"])) for r in rows}
    result = []
    for event in events:
        data = dict(event.get("data") or {})
        subject = event.get("subject")
        for field, value in data.items():
            key = keys.get(kid_of(value)) if is_sealed(value) else None
            if key is not None:
                data[field] = key.open(field, value)
                if subject == str(key.kid):
                    subject = str(key.user_id)
        result.append({**event, "data": data, "subject": subject})
    return result


def events_once_published(
    bootstrap: str,
    topic: str,
    match: Callable[[dict[str, Any]], bool],
    *,
    count: int = 1,
    timeout_s: float = 30.0,
) -> list[dict[str, Any]]:
    """The CloudEvents on `topic` that `match` (with their sealed fields opened), once at least `count` of
    them have been published (the relay publishes within moments of the commit, not at it)."""
    found: list[dict[str, Any]] = []

    async def enough() -> bool:
        records = await read_all(bootstrap, topic, timeout_s=timeout_s)
        events = await opened(events_in(records))
        found[:] = [e for e in events if match(e)]
        return len(found) >= count

    asyncio.run(wait_until(enough, timeout_s=timeout_s, what=f"{count} matching events on {topic}"))
    return found


def events_in(records: list[object]) -> list[dict[str, Any]]:
    """The records' CloudEvents as they are on the wire, leaving out records that are not events at all."""
    return [e for e in map(event_of, records) if e is not None]


def event_of(record: object) -> dict[str, Any] | None:
    """A record's CloudEvent, or None for one that is not an event at all: tests share topics, and some of
    them put malformed records there on purpose."""
    try:
        event = json.loads(record.value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return event if isinstance(event, dict) else None
