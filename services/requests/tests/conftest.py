"""Fixtures for the requests service's tests: the people who use it, a client for its API, and
read-only looks at its schema and its topics to prove what was (and was not) written."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, make_organiser, register_and_sign_in, sign_in_admin
from lx_devstack.testkit import events_once_published, opened, read_all, wait_until

WITHINGTON = "E14001354"  # Manchester Withington
CENTRAL = "E14001352"  # Manchester Central
PROBLEM = "application/problem+json"


async def _fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "requests"})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


class RequestsApi:
    """Drives the requests API through the gateway and looks at what the service stored and published."""

    def __init__(self, stack: Stack, gateway: httpx.Client) -> None:
        self.stack = stack
        self.http = gateway
        self.dsn = stack.dsns["requests"]
        self._slugs: list[str] | None = None

    # -- the database, read only -------------------------------------------------------------
    def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return asyncio.run(_fetch(self.dsn, query, *args))

    def scalar(self, query: str, *args: Any) -> Any:
        rows = self.sql(query, *args)
        return rows[0][0] if rows else None

    def outbox_count(self, key: str) -> int:
        return int(self.scalar("SELECT count(*) FROM outbox WHERE key = $1", key))

    def wait_for(self, what: str, query: str, *args: Any, timeout_s: float = 30) -> None:
        async def check() -> bool:
            return bool(await _fetch(self.dsn, query, *args))

        asyncio.run(wait_until(check, timeout_s=timeout_s, what=what))

    def wait_known(self, person: Person) -> None:
        """Until the people projection has this person (identity's event has been consumed)."""
        self.wait_for(
            f"requests to learn of {person.display_name}",
            "SELECT 1 FROM people WHERE user_id = $1",
            uuid.UUID(person.id),
        )

    def skills(self) -> list[str]:
        """Three slugs the service accepts, graphic-design first (the skills service publishes its taxonomy)."""
        if self._slugs is None:
            self.wait_for(
                "the skill taxonomy to reach requests",
                "SELECT 1 FROM skills WHERE slug = 'graphic-design' AND (SELECT count(*) FROM skills) >= 3",
                timeout_s=60,
            )
            others = self.sql("SELECT slug FROM skills WHERE slug <> 'graphic-design' ORDER BY slug LIMIT 2")
            self._slugs = ["graphic-design", *(r["slug"] for r in others)]
        return self._slugs

    # -- topics ------------------------------------------------------------------------------
    def events(self, topic: str, request_id: str) -> list[dict[str, Any]]:
        """Every event on `topic` keyed by this request, in order."""
        records = asyncio.run(read_all(self.stack.bootstrap_servers, topic, timeout_s=15))
        mine = [json.loads(r.value) for r in records if r.key == request_id.encode()]  # type: ignore[attr-defined]
        return asyncio.run(opened(mine))

    def wait_events(self, topic: str, request_id: str, count: int, timeout_s: float = 30) -> list[dict[str, Any]]:
        """The events about this request on `topic` once at least `count` have been published."""
        return events_once_published(
            self.stack.bootstrap_servers, topic, lambda e: e["subject"] == request_id, count=count, timeout_s=timeout_s
        )

    # -- the API -----------------------------------------------------------------------------
    def body(self, **overrides: Any) -> dict[str, Any]:
        slugs = self.skills()
        body: dict[str, Any] = {
            "title": "Design a leaflet for the Withington canvass",
            "description": "A5 double-sided; copy and photos are ready.",
            "constituency_code": WITHINGTON,
            "remote_ok": True,
            "skills": [
                {"slug": slugs[0], "min_level": 3, "people": 1},
                {"slug": slugs[1], "min_level": 1, "people": 2},
            ],
            "starts_at": "2026-05-02T10:00:00+01:00",
            "ends_at": "2026-05-09T18:00:00Z",
            "urgency": "normal",
        }
        body.update(overrides)
        return body

    def create(self, owner: Person, **overrides: Any) -> dict[str, Any]:
        r = self.http.post("/api/v1/requests", headers=owner.auth, json=self.body(**overrides))
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    def get(self, request_id: str, who: Person | None = None) -> httpx.Response:
        return self.http.get(f"/api/v1/requests/{request_id}", headers=who.auth if who else {})

    def offer(self, who: Person, request_id: str, **body: Any) -> httpx.Response:
        return self.http.post(
            f"/api/v1/requests/{request_id}/offers", headers=who.auth, json={"message": "I can help", **body}
        )

    def offer_ok(self, who: Person, request_id: str, **body: Any) -> dict[str, Any]:
        r = self.offer(who, request_id, **body)
        assert r.status_code == 201, r.text
        made: dict[str, Any] = r.json()
        return made

    def act(self, who: Person | None, request_id: str, offer_id: str, action: str) -> httpx.Response:
        return self.http.post(
            f"/api/v1/requests/{request_id}/offers/{offer_id}/{action}", headers=who.auth if who else {}
        )


@dataclass
class Cast:
    """Everyone the authorisation rules tell apart."""

    owner: Person
    supporter: Person
    organiser: Person  # of Manchester Withington, where the requests are
    other_organiser: Person  # of Manchester Central
    admin: Person


@pytest.fixture(scope="module")
def cast(stack: Stack, module_gateway: httpx.Client) -> Cast:
    admin = sign_in_admin(stack, module_gateway)
    return Cast(
        owner=register_and_sign_in(module_gateway, name="Olive Owner"),
        supporter=register_and_sign_in(module_gateway, name="Sam Supporter"),
        organiser=make_organiser(module_gateway, admin, WITHINGTON),
        other_organiser=make_organiser(module_gateway, admin, CENTRAL),
        admin=admin,
    )


@pytest.fixture
def api(stack: Stack, gateway: httpx.Client) -> RequestsApi:
    return RequestsApi(stack, gateway)
