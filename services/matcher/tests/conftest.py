"""Fixtures for the matcher's tests: a fresh copy of its schema with its handlers, and event builders."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker

from lx_contracts import topics
from lx_contracts.envelope import CloudEvent
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, migrated_pool, register_and_sign_in, sign_in_admin
from lx_devstack.testkit import events_once_published, poll_until
from lx_platform.consumer import EventConsumer
from matcher_svc import handlers
from matcher_svc import repository as repo
from matcher_svc.app import MIGRATIONS
from matcher_svc.service import Tuning

PROBLEM = "application/problem+json"
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


async def matcher_pool(dsn: str, schema: str) -> asyncpg.Pool:
    pool = await migrated_pool(dsn, schema, MIGRATIONS, application_name="matcher-tests")
    async with pool.acquire() as c, c.transaction():
        await repo.seed_constituencies(c)
    return pool


@pytest.fixture
async def projection(stack: Stack, scratch_schema: tuple[str, str]) -> AsyncIterator[Projection]:
    dsn, schema = scratch_schema
    pool = await matcher_pool(dsn, schema)
    consumer = make_consumer(stack.bootstrap_servers, Tuning(proposals_per_request=0))
    consumer.pool = pool
    yield Projection(pool, consumer)
    await pool.close()


__all__ = ["CENTRAL", "GLASGOW", "T0", "WITHINGTON", "event", "offer", "person", "profile", "request_state", "topics"]


# -- through the gateway -------------------------------------------------------------------------


async def _fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "matcher"})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


class Gateway:
    """Drives the public API as clients do, and peeks (read only) at what the matcher has projected."""

    def __init__(self, stack: Stack, client: httpx.Client) -> None:
        self.stack = stack
        self.http = client
        self.dsn = stack.dsns["matcher"]

    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return asyncio.run(_fetch(self.dsn, query, *args))

    def wait_for(self, what: str, check: Callable[[], bool], timeout_s: float = 30) -> None:
        poll_until(check, timeout_s=timeout_s, what=what)

    def new_skill(self, admin: Person, name: str) -> str:
        slug = f"mt-{uuid.uuid4().hex[:10]}"
        r = self.http.post(
            "/api/v1/skills",
            headers=admin.auth,
            json={
                "slug": slug,
                "name": f"{name} {slug[-4:]}",
                "category": "creative",
                "description": f"{name}, added by the matcher's tests.",
            },
        )
        assert r.status_code == 201, r.text
        return slug

    def supporter(
        self,
        name: str,
        *,
        skills: dict[str, int],
        code: str | None = WITHINGTON,
        radius: int = 5,
        remote: bool = False,
        availability: list[dict[str, str]] | None = None,
        discoverable: bool = True,
    ) -> Person:
        who = register_and_sign_in(self.http, name=name, discoverable=discoverable)
        self.set_profile(who, skills=skills, code=code, radius=radius, remote=remote, availability=availability)
        return who

    def set_profile(
        self,
        who: Person,
        *,
        skills: dict[str, int],
        code: str | None = WITHINGTON,
        radius: int = 5,
        remote: bool = False,
        availability: list[dict[str, str]] | None = None,
    ) -> None:
        body = {
            "constituency_code": code,
            "travel_radius_km": radius,
            "remote_ok": remote,
            "max_hours_per_week": 8,
            "availability": availability or [],
            "skills": [{"slug": s, "level": lv, "note": ""} for s, lv in skills.items()],
        }
        r = self.http.put("/api/v1/me/profile", headers=who.auth, json=body)
        assert r.status_code == 200, r.text

    def wait_projected(self, *people: Person, candidates: bool = True) -> None:
        """Until the matcher holds each person's identity and profile (and, if so, as a candidate)."""
        ids = [uuid.UUID(p.id) for p in people]
        table = "candidates" if candidates else "profiles"

        def seen() -> bool:
            rows = self.sql(
                f"SELECT count(DISTINCT p.user_id) FROM people p JOIN {table} USING (user_id) "
                "WHERE p.user_id = ANY($1::uuid[])",
                ids,
            )
            return int(rows[0][0]) == len(ids)

        self.wait_for("the matcher to learn of these people", seen, timeout_s=60)

    def open_request(self, owner: Person, **body: Any) -> str:
        full: dict[str, Any] = {
            "title": "Help wanted",
            "description": "Details for helpers.",
            "constituency_code": WITHINGTON,
            "remote_ok": False,
            "urgency": "normal",
            **body,
        }
        answer: list[httpx.Response] = []

        def known() -> bool:
            # Requests learns new skills from the skills service's events.
            answer[:] = [self.http.post("/api/v1/requests", headers=owner.auth, json=full)]
            return answer[0].status_code != 422

        self.wait_for("requests to know the skill", known, timeout_s=60)
        assert answer[0].status_code == 201, answer[0].text
        request_id: str = answer[0].json()["id"]
        return request_id

    def wait_request(self, request_id: str, status: str = "open") -> None:
        self.wait_for(
            f"the matcher to see request {request_id} {status}",
            lambda: bool(
                self.sql("SELECT 1 FROM requests WHERE request_id = $1 AND status = $2", uuid.UUID(request_id), status)
            ),
        )

    def matches(self, who: Person | None, request_id: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/api/v1/requests/{request_id}/matches", headers=who.auth if who else {}, params=params)

    def match_ids(self, who: Person, request_id: str) -> list[str]:
        r = self.matches(who, request_id, limit=100)
        assert r.status_code == 200, r.text
        return [m["user_id"] for m in r.json()["items"]]

    def opportunities(self, who: Person | None, **params: Any) -> httpx.Response:
        return self.http.get("/api/v1/me/opportunities", headers=who.auth if who else {}, params=params)

    def stats(self, who: Person | None, code: str) -> httpx.Response:
        return self.http.get(f"/api/v1/stats/constituencies/{code}", headers=who.auth if who else {})

    def offer(self, who: Person, request_id: str) -> str:
        r = self.http.post(f"/api/v1/requests/{request_id}/offers", headers=who.auth, json={"message": "I can help"})
        assert r.status_code == 201, r.text
        offer_id: str = r.json()["id"]
        return offer_id

    def act(self, who: Person, request_id: str, offer_id: str, action: str) -> None:
        r = self.http.post(f"/api/v1/requests/{request_id}/offers/{offer_id}/{action}", headers=who.auth)
        assert r.status_code == 200, r.text

    def close(self, who: Person, request_id: str, outcome: str) -> None:
        r = self.http.post(f"/api/v1/requests/{request_id}/close", headers=who.auth, json={"outcome": outcome})
        assert r.status_code == 200, r.text

    def proposals(self, request_id: str, count: int = 1, timeout_s: float = 30) -> list[dict[str, Any]]:
        return events_once_published(
            self.stack.bootstrap_servers,
            topics.MATCH_PROPOSED.name,
            lambda e: e["subject"] == request_id,
            count=count,
            timeout_s=timeout_s,
        )


@pytest.fixture(scope="module")
def gw(stack: Stack, module_gateway: httpx.Client) -> Gateway:
    return Gateway(stack, module_gateway)


@pytest.fixture(scope="module")
def module_admin(stack: Stack, module_gateway: httpx.Client) -> Person:
    return sign_in_admin(stack, module_gateway)
