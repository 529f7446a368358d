"""Erasure and export across every service: a person with data everywhere downloads it, erases their
account, and every service confirms; moments later no service's tables hold their id, email or name,
not even in the outbox rows that carried the erasure's own events (each service deletes those once
they are published)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from lx_devstack.services import SERVICES
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in, sign_in_admin
from lx_devstack.testkit import wait_until

pytestmark = pytest.mark.e2e

WITHINGTON = "E14001354"
SECTIONS = ["identity", "skills", "requests", "matcher", "twitter"]


async def _skill_known(stack: Stack) -> bool:
    conn = await asyncpg.connect(stack.dsns["requests"])
    try:
        return bool(await conn.fetchval("SELECT 1 FROM requests.skills WHERE slug = 'graphic-design'"))
    finally:
        await conn.close()


def open_request(gateway: httpx.Client, owner: Person, title: str) -> str:
    r = gateway.post(
        "/api/v1/requests",
        headers=owner.auth,
        json={
            "title": title,
            "description": "A4 double-sided, our usual colours.",
            "constituency_code": WITHINGTON,
            "remote_ok": True,
            "skills": [{"slug": "graphic-design", "min_level": 2, "people": 2}],
            "urgency": "high",
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def offer(gateway: httpx.Client, person: Person, request_id: str) -> str:
    r = gateway.post(
        f"/api/v1/requests/{request_id}/offers",
        headers=person.auth,
        json={"message": "Happy to help on Saturday", "skill": "graphic-design"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def rows_mentioning(stack: Stack, needle: str) -> list[tuple[str, str, str]]:
    """(schema, table, row text) of every row of every service's schema containing `needle`."""
    found = []
    for spec in SERVICES:
        if not spec.schema:
            continue
        conn = await asyncpg.connect(stack.dsns[spec.name])
        try:
            tables = await conn.fetch(
                """SELECT table_name FROM information_schema.tables
                   WHERE table_schema = $1 AND table_type = 'BASE TABLE'""",
                spec.schema,
            )
            for t in tables:
                rows = await conn.fetch(
                    f'SELECT t::text AS row FROM "{spec.schema}"."{t["table_name"]}" t '
                    "WHERE strpos(lower(t::text), lower($1)) > 0",
                    needle,
                )
                found += [(spec.schema, t["table_name"], r["row"]) for r in rows]
        finally:
            await conn.close()
    return found


def test_a_person_with_data_everywhere_exports_it_then_is_erased_everywhere(
    stack: Stack, gateway: httpx.Client
) -> None:
    admin = sign_in_admin(stack, gateway)
    tag = uuid.uuid4().hex[:8]
    person = register_and_sign_in(gateway, name=f"Vera Vanish {tag}")
    owner = register_and_sign_in(gateway, name=f"Olive Owner {tag}")
    helper = register_and_sign_in(gateway, name=f"Hal Helper {tag}")

    r = gateway.put(
        "/api/v1/me/profile",
        headers=person.auth,
        json={
            "constituency_code": WITHINGTON,
            "travel_radius_km": 5,
            "remote_ok": True,
            "max_hours_per_week": 6,
            "availability": [{"day": "sat", "start": "10:00", "end": "16:00"}],
            "skills": [{"slug": "graphic-design", "level": 4, "note": f"Posters {tag}"}],
        },
    )
    assert r.status_code == 200, r.text
    asyncio.run(wait_until(lambda: _skill_known(stack), timeout_s=60, what="requests to know graphic design"))
    own_request = open_request(gateway, person, f"Leaflets for Withington {tag}")
    others_request = open_request(gateway, owner, f"Posters for the count {tag}")
    my_offer = offer(gateway, person, others_request)
    offer(gateway, helper, own_request)  # someone else's offer on my request

    # -- export: every section, all of mine, none of the others' personal data --------------------------
    exported: dict[str, Any] = {}
    last: list[str] = [""]

    async def exportable() -> bool:
        r = gateway.get("/api/v1/me/export", headers=person.auth)
        if r.status_code == 200:
            assert r.headers["content-disposition"] == 'attachment; filename="labour-exchange-export.json"'
            exported.update(r.json())
            return True
        assert r.status_code == 503, r.text
        last[0] = r.json()["detail"]
        return False

    try:
        asyncio.run(wait_until(exportable, timeout_s=60, what="every service to give its export section"))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last answer: {last[0]}") from None
    assert [k for k in exported if k in SECTIONS] == SECTIONS
    assert exported["user_id"] == person.id and exported["generated_at"]
    assert exported["identity"]["account"]["email"] == person.email
    text = json.dumps(exported)
    for mine in (own_request, others_request, my_offer, f"Posters {tag}"):
        assert mine in text, mine
    for theirs in (owner.display_name, helper.display_name, owner.email, helper.email):
        assert theirs not in text, f"another person's data in the export: {theirs}"
    assert gateway.get("/api/v1/me/export").status_code == 401

    # -- erasure ---------------------------------------------------------------------------------------
    r = gateway.delete("/api/v1/me", headers=person.auth)
    assert r.status_code == 202, r.text
    status: dict[str, Any] = {}

    async def completed() -> bool:
        answer = gateway.get(f"/api/v1/admin/erasures/{person.id}", headers=admin.auth)
        assert answer.status_code == 200, answer.text
        status.update(answer.json())
        return bool(status["status"] == "completed")

    try:
        asyncio.run(wait_until(completed, timeout_s=90, what="every service to confirm the erasure"))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still pending: {status.get('pending')}") from None
    assert status["pending"] == [] and sorted(status["confirmed"]) == ["matcher", "requests", "skills", "twitter"]

    # Soon nothing anywhere names them: events the erasure itself published leave the outboxes once sent.
    needles = (person.id, person.email, person.display_name, f"Posters {tag}")
    left: list[tuple[str, str, str, str]] = []

    async def nothing_left() -> bool:
        left[:] = [(needle, *found) for needle in needles for found in await rows_mentioning(stack, needle)]
        return not left

    try:
        asyncio.run(wait_until(nothing_left, timeout_s=30, what="no table to name the erased person"))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still held: {left[:5]}") from None

    # The others carry on: the request they own still stands, my offer on it is gone, and
    # the request I owned stays, anonymous, for the campaign.
    assert gateway.get("/api/v1/me", headers=owner.auth).status_code == 200
    mine_now = gateway.get(f"/api/v1/requests/{own_request}", headers=helper.auth)
    assert mine_now.status_code == 200, mine_now.text
    assert person.id not in mine_now.text
