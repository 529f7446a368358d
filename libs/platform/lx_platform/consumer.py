"""Idempotent event consumers on FastStream: inbox row and effect in one transaction, ack after commit,
five tries then `<topic>.dlq`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from lx_contracts.envelope import CloudEvent
from lx_contracts.topics import BY_NAME, dlq_of
from lx_platform.db import unavailable
from lx_platform.logging import event_id_var, redact, request_id_var
from lx_platform.metrics import CONSUMER_LAG, DLQ_MESSAGES, EVENTS_CONSUMED
from lx_platform.sealing import open_sealed

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]

MAX_ATTEMPTS = 5


def describe(exc: BaseException | None) -> str:
    """What went wrong, for a dead-letter header or a log line, without the values that caused it: a
    validation error lists its fields and reasons only (pydantic would quote the opened payload), and ids
    and emails in any other error's text are masked."""
    if isinstance(exc, ValidationError):
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        return redact(f"ValidationError({exc.title}: {reasons})")[:500]
    return redact(repr(exc))[:500]


def _can_go_without(topic: str, fields: tuple[str, ...]) -> bool:
    """Whether the topic's payload still makes sense with these fields null (each may be null in its contract,
    as a request's owner may: the request stays useful to the campaign)."""
    known = BY_NAME.get(topic)
    if known is None:
        return False
    model_fields = known.payload.model_fields
    return all(f in model_fields and type(None) in get_args(model_fields[f].annotation) for f in fields)


class EventConsumer:
    """Registers one Kafka subscriber (one consumer group) for a service's handlers."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        group_id: str,
        name: str | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        retry_backoff_s: float = 0.05,
    ) -> None:
        self.broker = broker
        self.group_id = group_id
        # The inbox key: stable across consumer groups, so a replay through a new group is still deduplicated.
        self.name = name or group_id
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.handlers: dict[str, Handler] = {}
        self.pool: asyncpg.Pool | None = None
        self._subscribed = False
        self._subscriber: Any = None

    def on(self, topic: str) -> Callable[[Handler], Handler]:
        """Decorator: handle events of `topic` (called with a connection inside the transaction)."""

        def register(fn: Handler) -> Handler:
            self.handlers[topic] = fn
            return fn

        return register

    def subscribe(self, pool: asyncpg.Pool | None = None) -> None:
        """Attach the subscriber to the broker once all handlers are registered, before the broker starts
        (also to describe it in AsyncAPI, before there is a pool); the pool may come later."""
        if pool is not None:
            self.pool = pool
        if self._subscribed or not self.handlers:
            return
        self._subscribed = True
        self._subscriber = self.broker.subscriber(
            *self.handlers,
            group_id=self.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            title=f"{self.group_id} consumer",
        )
        self._subscriber(self._on_message)

    async def report_lag(self) -> None:
        """Export lag per assigned partition. The consumer computes it itself: the dev broker's admin API
        cannot list group offsets."""
        consumer = getattr(self._subscriber, "consumer", None) if self._subscriber else None
        if consumer is None:
            return
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(max(0, highwater - position))

    async def _on_message(self, msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        headers = {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}
        rid_token = request_id_var.set(headers.get("x-request-id"))
        try:
            await self._process(msg, record, headers)
        except Exception:
            # Could not even dead-letter (broker or database down): rewind, so it is redelivered.
            log.exception("event left unacknowledged for redelivery", extra={"topic": record.topic})
            await msg.nack()
        finally:
            request_id_var.reset(rid_token)

    async def _process(self, msg: KafkaMessage, record: Any, headers: dict[str, str]) -> None:
        topic = record.topic
        try:
            event = CloudEvent.model_validate_json(record.value or b"")
        except ValidationError as exc:
            EVENTS_CONSUMED.labels(topic, "malformed").inc()
            await self._dead_letter(
                record, headers, error=f"malformed envelope: {exc.error_count()} errors", attempts=1
            )
            await msg.ack()
            return
        ev_token = event_id_var.set(str(event.id))
        try:
            last_error: Exception | None = None
            attempt = 0
            outage_wait = self.retry_backoff_s
            while attempt < self.max_attempts:
                attempt += 1
                try:
                    outcome = await self._handle_once(topic, event)
                    EVENTS_CONSUMED.labels(topic, outcome).inc()
                    await msg.ack()
                    return
                except Exception as exc:
                    if not unavailable(exc):
                        last_error = exc
                        EVENTS_CONSUMED.labels(topic, "retried").inc()
                        log.warning(
                            "event handler failed",
                            extra={"topic": topic, "attempt": attempt, "error": describe(exc)[:300]},
                        )
                        if attempt < self.max_attempts:
                            await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
                        continue
                    # The database is down or restarting: not the event's fault, so no try is spent and it
                    # is never dead-lettered for it. Wait (up to 5 s between tries) in order, as a stuck
                    # handler would; the lag shows it.
                    attempt -= 1
                    EVENTS_CONSUMED.labels(topic, "retried").inc()
                    log.warning(
                        "database unavailable; event will be retried", extra={"topic": topic, "error": repr(exc)[:300]}
                    )
                    await asyncio.sleep(outage_wait)
                    outage_wait = min(outage_wait * 2, 5.0)
            await self._dead_letter(record, headers, error=describe(last_error), attempts=self.max_attempts)
            EVENTS_CONSUMED.labels(topic, "dead_lettered").inc()
            await msg.ack()
        finally:
            event_id_var.reset(ev_token)

    async def _handle_once(self, topic: str, event: CloudEvent) -> str:
        assert self.pool is not None
        handler = self.handlers[topic]
        async with self.pool.acquire() as conn, conn.transaction():
            first_time = await conn.fetchval(
                """INSERT INTO inbox (event_id, consumer, topic) VALUES ($1, $2, $3)
                   ON CONFLICT DO NOTHING RETURNING true""",
                event.id,
                self.name,
                topic,
            )
            if not first_time:
                return "duplicate"
            opened = await open_sealed(conn, event.data, subject=event.subject)
            if opened.unreadable and not _can_go_without(topic, opened.unreadable):
                # Sealed with the key of someone since erased: nobody is left for it to be about.
                return "erased"
            data = opened.data | dict.fromkeys(opened.unreadable)
            event = event.model_copy(update={"data": data, "subject": opened.subject})
            await handler(conn, event)
        return "handled"

    async def _dead_letter(self, record: Any, headers: dict[str, str], *, error: str, attempts: int) -> None:
        dlq = dlq_of(record.topic)
        await self.broker.publish(
            record.value or b"",
            topic=dlq,
            key=record.key,
            headers={
                **headers,
                "dlq-error": error,
                "dlq-attempts": str(attempts),
                "dlq-consumer": self.group_id,
                "dlq-original-topic": record.topic,
                "dlq-original-partition": str(record.partition),
                "dlq-original-offset": str(record.offset),
            },
        )
        DLQ_MESSAGES.labels(dlq).inc()
        log.error("event sent to the dead-letter topic", extra={"topic": record.topic, "dlq": dlq, "error": error})
