"""Transactional outbox: enqueue inside the caller's transaction; the relay publishes what committed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from datetime import datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from lx_contracts.envelope import CloudEvent, new_event
from lx_platform.metrics import (
    EVENTS_NOT_RECORDED_ERASED,
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    RELAY_FAILURES,
)
from lx_platform.sealing import SubjectErased, seal
from lx_platform.tracing import trace_headers

log = logging.getLogger(__name__)


async def enqueue(
    conn: asyncpg.Connection, *, topic: str, service: str, subject: str, data: BaseModel
) -> CloudEvent | None:
    """Record an event in the outbox; call inside the transaction that makes the state change.

    Personal fields are sealed with their person's key (`lx_platform.sealing`); an event naming a person who
    has been erased is not recorded at all (None): there is nobody left for it to be about."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the state change's transaction")
    try:
        sealed = await seal(conn, data, subject=subject)
    except SubjectErased:
        EVENTS_NOT_RECORDED_ERASED.labels(topic).inc()
        log.info("event about an erased person not recorded", extra={"topic": topic})
        return None
    event = new_event(topic=topic, service=service, subject=sealed.subject, data=sealed.data)
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, payload, headers) VALUES ($1, $2, $3, $4, $5)",
        event.id,
        topic,
        sealed.subject,
        event.model_dump(mode="json"),
        trace_headers(),
    )
    return event


class OutboxRelay:
    """Publishes committed outbox rows in order, marks them sent, keeps them for replay, then prunes.

    One relay per schema is active at a time (a session advisory lock); others stand by.
    """

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        schema: str,
        producer: AIOKafkaProducer,
        batch_size: int = 500,
        retention: timedelta = timedelta(days=7),
        idle_poll_s: float = 1.0,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.producer = producer
        self.batch_size = batch_size
        self.retention = retention
        self.idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._lock_key = zlib.crc32(f"outbox-relay:{schema}".encode())

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; survives broker and database outages by retrying."""
        backoff = 0.2
        while not stop.is_set():
            try:
                await self._run_as_leader(stop)
                backoff = 0.2
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox relay lost its database connection", extra={"error": repr(exc)})
                await _wait(stop, backoff)
                backoff = min(backoff * 2, 5.0)

    async def _run_as_leader(self, stop: asyncio.Event) -> None:
        async with self.pool.acquire() as listen_conn:
            while not await listen_conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                if await _wait(stop, 2.0):
                    return
            await listen_conn.add_listener(f"{self.schema}_outbox", self._on_notify)
            try:
                await self._loop(stop)
            finally:
                with contextlib.suppress(Exception):
                    await listen_conn.remove_listener(f"{self.schema}_outbox", self._on_notify)
                    await listen_conn.execute("SELECT pg_advisory_unlock($1)", self._lock_key)

    async def _loop(self, stop: asyncio.Event) -> None:
        last_prune = 0.0
        loop = asyncio.get_running_loop()
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            try:
                sent = await self.publish_batch()
                failures = 0
            except asyncpg.PostgresError:
                raise
            except Exception as exc:  # broker down or timing out: keep the rows, retry later
                failures += 1
                RELAY_FAILURES.inc()
                log.warning("outbox relay could not publish", extra={"error": repr(exc)})
                await _wait(stop, min(0.2 * 2**failures, 5.0))
                continue
            if sent == self.batch_size:
                continue
            if loop.time() - last_prune > 60:
                await self.prune()
                last_prune = loop.time()
            await self._observe_backlog()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self._wake, stop), timeout=self.idle_poll_s)

    async def publish_batch(self) -> int:
        """Publish one batch of unpublished rows and mark them, all or nothing."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, topic, key, payload, headers FROM outbox
                   WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self.batch_size,
            )
            if not rows:
                return 0
            futures = []
            for row in rows:
                futures.append(
                    await self.producer.send(
                        row["topic"],
                        value=json.dumps(row["payload"]).encode(),
                        key=row["key"].encode(),
                        headers=[(k, str(v).encode()) for k, v in (row["headers"] or {}).items()],
                    )
                )
            await asyncio.gather(*futures)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        for row in rows:
            EVENTS_PUBLISHED.labels(row["topic"]).inc()
        return len(rows)

    async def prune(self) -> int:
        result = await self.pool.execute("DELETE FROM outbox WHERE published_at < now() - $1::interval", self.retention)
        return int(result.split()[-1])

    async def _observe_backlog(self) -> None:
        row = await self.pool.fetchrow(
            """SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age
               FROM outbox WHERE published_at IS NULL"""
        )
        OUTBOX_BACKLOG.set(row["n"])
        OUTBOX_OLDEST_AGE.set(float(row["age"] or 0))


async def replay(pool: asyncpg.Pool, *, topic: str | None, since: datetime) -> int:
    """Mark retained rows unpublished again, so the relay re-sends them (after broker data loss)."""
    result = await pool.execute(
        """UPDATE outbox SET published_at = NULL
           WHERE published_at IS NOT NULL AND created_at >= $1 AND ($2::text IS NULL OR topic = $2)""",
        since,
        topic,
    )
    return int(result.split()[-1])


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds`; True if `stop` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
