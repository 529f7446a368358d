"""Fixtures for the matcher's tests: a fresh copy of its schema with its handlers, and event builders."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from lx_contracts import topics
from lx_contracts.envelope import CloudEvent
from lx_devstack.stack import Stack
from lx_platform.consumer import EventConsumer
from lx_platform.db import create_pool
from lx_platform.migrations import apply_migrations
from matcher_svc import handlers
from matcher_svc import repository as repo
from matcher_svc.app import MIGRATIONS
from matcher_svc.service import Tuning

WITHINGTON = "E14001354"  # Manchester Withington
CENTRAL = "E14001352"  # Manchester Central, about 9 km from Withington
GLASGOW = "S14000084"  # Glasgow East, about 300 km away
T0 = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)


def event(topic: str, data: dict[str, Any], *, at: datetime, subject: str = "s") -> CloudEvent:
    return CloudEvent(id=uuid.uuid4(), source="/services/test", type=topic, time=at, subject=subject, data=data)


def person(
    user_id: uuid.UUID, name: str = "Sam", *, discoverable: bool = True, invited: bool = False
) -> dict[str, Any]:
    return {
        "user_id": str(user_id),
        "display_name": name,
        "roles": ["supporter"],
        "consents": {"discoverable": discoverable, "contact_by_x": False},
        "invited": invited,
    }


def profile(
    user_id: uuid.UUID,
    *,
    code: str | None = WITHINGTON,
    radius: int = 10,
    remote: bool = False,
    skills: dict[str, int] | None = None,
    availability: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "user_id": str(user_id),
        "constituency_code": code,
        "travel_radius_km": radius,
        "remote_ok": remote,
        "max_hours_per_week": 10,
        "availability": availability or [],
        "skills": [{"slug": s, "level": lv} for s, lv in (skills or {"graphic-design": 4}).items()],
    }


def request_state(
    request_id: uuid.UUID,
    *,
    owner: uuid.UUID,
    code: str = WITHINGTON,
    remote: bool = False,
    skills: list[tuple[str, int, int]] | None = None,
    status: str = "open",
    accepted: int = 0,
    created_at: datetime = T0,
) -> dict[str, Any]:
    needs = skills or [("graphic-design", 3, 1)]
    return {
        "request_id": str(request_id),
        "title": "Design a leaflet",
        "constituency_code": code,
        "remote_ok": remote,
        "skills": [{"slug": s, "min_level": m, "people": p} for s, m, p in needs],
        "starts_at": None,
        "ends_at": None,
        "urgency": "normal",
        "status": status,
        "source": "web",
        "created_by": str(owner),
        "created_at": created_at.isoformat(),
        "people_needed": sum(p for _, _, p in needs),
        "people_accepted": accepted,
    }


def offer(
    offer_id: uuid.UUID, request_id: uuid.UUID, user_id: uuid.UUID, *, at: datetime, **more: Any
) -> dict[str, Any]:
    return {
        "offer_id": str(offer_id),
        "request_id": str(request_id),
        "user_id": str(user_id),
        "skill": None,
        "at": at.isoformat(),
        **more,
    }


@dataclass
class Projection:
    """The matcher's handlers over a scratch schema, fed through the platform's real inbox."""

    pool: asyncpg.Pool
    consumer: EventConsumer

    async def feed(self, *events: CloudEvent) -> None:
        for e in events:
            await self.consumer._handle_once(e.type, e)  # noqa: SLF001 - the inbox path, without a broker

    async def rows(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await self.pool.fetch(query, *args)

    async def value(self, query: str, *args: Any) -> Any:
        return await self.pool.fetchval(query, *args)


def make_consumer(
    stack_bootstrap: str, tuning: Tuning, *, group: str = "matcher", name: str = "matcher"
) -> EventConsumer:
    broker = KafkaBroker(stack_bootstrap, logger=logging.getLogger("faststream"), log_level=logging.DEBUG)
    consumer = EventConsumer(broker=broker, group_id=group, name=name, retry_backoff_s=0.01)
    handlers.register(consumer, tuning)
    return consumer


async def migrated_pool(dsn: str, schema: str) -> asyncpg.Pool:
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, schema=schema, directory=MIGRATIONS)
    finally:
        await conn.close()
    pool = await create_pool(dsn, schema=schema, application_name="matcher-tests")
    async with pool.acquire() as c, c.transaction():
        await repo.seed_constituencies(c)
    return pool


@pytest.fixture
async def projection(stack: Stack, scratch_schema: tuple[str, str]) -> AsyncIterator[Projection]:
    dsn, schema = scratch_schema
    pool = await migrated_pool(dsn, schema)
    consumer = make_consumer(stack.bootstrap_servers, Tuning(proposals_per_request=0))
    consumer.pool = pool
    yield Projection(pool, consumer)
    await pool.close()


__all__ = ["CENTRAL", "GLASGOW", "T0", "WITHINGTON", "event", "offer", "person", "profile", "request_state", "topics"]
