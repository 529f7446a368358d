"""Follows `identity.user-erased.v1` into the deny list.

A plain consumer without a group: every gateway replica reads the whole topic from the beginning at
start-up (erasures are few, and those older than the token lifetime are skipped as they are read),
then tails it. Nothing is committed; a restart reads again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from gateway_svc import metrics
from gateway_svc.denylist import ErasedUsers
from lx_contracts.identity import subject_hash

log = logging.getLogger(__name__)

_HEX64 = re.compile(r"[0-9a-f]{64}")


def parse_erasure(value: bytes | None) -> tuple[str, float] | None:
    """(the person's subject hash, erased at in epoch seconds) from a user-erased CloudEvent, or None if it is
    not one. The gateway keeps no keys: it reads the hash the event carries in the clear, or hashes an id
    carried in the clear by an event written before ids were sealed."""
    try:
        data = json.loads(value or b"")["data"]
        at = datetime.fromisoformat(str(data["at"]))
        if at.tzinfo is None:
            return None
        hashed = data.get("subject_hash")
        if isinstance(hashed, str) and _HEX64.fullmatch(hashed):
            return hashed, at.timestamp()
        return subject_hash(uuid.UUID(str(data["user_id"]))), at.timestamp()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class ErasureFeed:
    def __init__(
        self, *, bootstrap_servers: str, topic: str, erased: ErasedUsers, security: Mapping[str, Any] | None = None
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security = dict(security or {})
        self.topic = topic
        self.erased = erased
        self.caught_up = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Read until `stop` is set, reconnecting with backoff while the broker is away."""
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._follow(stop)
                backoff = 0.5
            except Exception as exc:
                log.warning("erasure feed interrupted; retrying", extra={"error": type(exc).__name__})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 10.0)

    async def _follow(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id="gateway-erasures",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=10_000,
            **self.security,
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer, stop)
            if partitions is None:
                return
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=500)
                for records in batch.values():
                    for record in records:
                        self._apply(record.value)
                if not self.caught_up.is_set() and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                    self.caught_up.set()
                    log.info("erasure feed caught up", extra={"erased_users": len(self.erased)})
                self.erased.prune()
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> set[int] | None:
        """The topic's partitions, waiting for the topic to exist (nothing erased yet: caught up)."""
        while not stop.is_set():
            partitions = consumer.partitions_for_topic(self.topic)
            if partitions:
                return set(partitions)
            self.caught_up.set()
            await consumer._client.force_metadata_update()  # noqa: SLF001 - the topic may have been created meanwhile
            if consumer.partitions_for_topic(self.topic):
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5.0)
        return None

    def _apply(self, value: bytes | None) -> None:
        parsed = parse_erasure(value)
        if parsed is None:
            log.warning("ignored a malformed user-erased event")
            return
        user_id, erased_at = parsed
        if self.erased.add(user_id, erased_at):
            metrics.ERASED_USERS_ADDED.inc()
