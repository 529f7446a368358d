"""Erasure and export across every service: a person with data everywhere (profile, requests, offers, a
linked X account, even a dead-lettered event) downloads it, erases their account, and every service
confirms; moments later no service's tables hold their id, email, name or X account, not even in the outbox
rows that carried the erasure's own events; no message any topic retains (dead-letter topics included)
holds them in a form anyone can read; and no log line names them."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from lx_contracts import topics
from lx_devstack.services import SERVICES
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in, sign_in_admin
from lx_devstack.testkit import event_of, events_in, opened, produce, read_all, wait_until

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


def link_x(gateway: httpx.Client, fake_x: str, person: Person, username: str) -> None:
    """Link an X account as the browser does: authorize, the fake X's consent page, allow, callback."""
    r = gateway.get("/api/v1/auth/x/authorize", params={"mode": "link"}, headers=person.auth)
    assert r.status_code == 302, r.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    with httpx.Client(base_url=fake_x, timeout=15.0) as x:
        back = x.post("/i/oauth2/authorize", data={**params, "username": username, "decision": "allow"})
        assert back.status_code == 302, back.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    linked = gateway.get("/api/v1/auth/x/callback", params=query)
    assert linked.status_code == 200, linked.text
    assert linked.json() == {"x_account": {"handle": username}}


async def dead_letter_a_real_event(stack: Stack, person: Person) -> str:
    """Put one of the person's own (sealed) events back on its topic with a required field missing, so that
    the matcher dead-letters it: a dead-letter copy about them, with the error that made it."""
    topic = topics.PROFILE_UPDATED.name
    records = await read_all(stack.bootstrap_servers, topic, timeout_s=15)
    wire = events_in(records)
    mine = [w for w, o in zip(wire, await opened(wire), strict=True) if o["data"].get("user_id") == person.id]
    assert mine, "the person's profile-updated event is on its topic"
    broken = {**mine[-1], "id": str(uuid.uuid4())}
    broken["data"] = {k: v for k, v in broken["data"].items() if k != "travel_radius_km"}
    await produce(stack.bootstrap_servers, topic, [json.dumps(broken).encode()], key=broken["subject"].encode())
    found: list[Any] = []

    async def dead_lettered() -> bool:
        dead = await read_all(stack.bootstrap_servers, topics.PROFILE_UPDATED.dlq, timeout_s=10)
        found[:] = [d for d in dead if (event_of(d) or {}).get("id") == broken["id"]]
        return bool(found)

    await wait_until(dead_lettered, timeout_s=60, what="the broken event in the dead-letter topic")
    error = dict(found[0].headers)["dlq-error"].decode()
    assert "travel_radius_km" in error and person.id not in error, error  # why, but never whose
    return str(broken["id"])


async def messages_mentioning(stack: Stack, needles: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(topic, needle, where) for every retained message of every topic on the broker whose key, value or a
    header holds a needle, compared without case."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap_servers)
    await admin.start()
    try:
        names = sorted(await admin.list_topics())
    finally:
        await admin.close()
    assert set(topics.all_topic_names(with_dlq=True)) <= set(names)
    found = []
    lowered = [(n, n.lower().encode()) for n in needles]
    for name in names:
        for record in await read_all(stack.bootstrap_servers, name, timeout_s=20):
            parts = {"key": record.key or b"", "value": record.value or b""}  # type: ignore[attr-defined]
            parts |= {f"header {k}": v for k, v in record.headers or ()}  # type: ignore[attr-defined]
            found += [(name, n, where) for where, raw in parts.items() for n, low in lowered if low in raw.lower()]
    return found


def stack_logs(stack: Stack) -> list[Path]:
    """Every log the stack writes: each service's, the broker's, and the Postgres server's own. The fake X's
    log is X's, not ours: X knows its own users."""
    logs = [p for p in sorted(stack.logs_dir.glob("*.log")) if p.name != "fake-x.log"]
    embedded = stack.postgres.embedded if stack.postgres else None
    if embedded is not None:
        logs.append(Path(embedded.pgdata) / "log")  # type: ignore[attr-defined]
    return logs


def log_lines_mentioning(logs: list[Path], needles: tuple[str, ...]) -> list[tuple[str, str]]:
    """(file, needle) for every log naming a needle, compared without case."""
    found = []
    for path in logs:
        text = path.read_text("utf-8", errors="replace").lower()
        found += [(path.name, n) for n in needles if n.lower() in text]
    return found


def test_a_person_with_data_everywhere_exports_it_then_is_erased_everywhere(
    stack: Stack, gateway: httpx.Client, fake_x: str
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
    # Someone tries to register with their email: refused, and the database logs the collision.
    taken = gateway.post(
        "/api/v1/auth/register",
        json={
            "email": person.email,
            "password": "another long enough password",
            "display_name": "Someone Else",
            "consents": {"terms": True, "discoverable": False, "contact_by_x": False},
        },
    )
    assert taken.status_code == 409, taken.text
    x_handle = f"vera_{tag}"
    link_x(gateway, fake_x, person, x_handle)
    dead_id = asyncio.run(dead_letter_a_real_event(stack, person))

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

    # Nor does any message the broker retains, on any topic, dead-letter topics included: what named them
    # was sealed with their key, which identity destroyed when the last service confirmed. The dead-letter
    # copy is still there, unreadable.
    on_topics: list[tuple[str, str, str]] = []
    wire_needles = (person.id, person.email, person.display_name, x_handle)

    async def no_message_names_them() -> bool:
        on_topics[:] = await messages_mentioning(stack, wire_needles)
        return not on_topics

    try:
        asyncio.run(wait_until(no_message_names_them, timeout_s=30, what="no retained message to name them"))
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still named: {on_topics[:5]}") from None
    # (The search does read every topic: it finds the dead-letter copy by its event id.)
    assert (topics.PROFILE_UPDATED.dlq, dead_id, "value") in asyncio.run(messages_mentioning(stack, (dead_id,)))
    dead = asyncio.run(read_all(stack.bootstrap_servers, topics.PROFILE_UPDATED.dlq, timeout_s=10))
    copy = [e for e in events_in(dead) if e["id"] == dead_id]
    assert copy and copy[0]["data"]["user_id"].startswith("lx1.")
    assert asyncio.run(opened(copy))[0]["data"]["user_id"] == copy[0]["data"]["user_id"]  # no key opens it now

    # And no log names them: not a service's (each logged its start, so each was searched), nor the
    # database server's, which logged the collision of their email without quoting it.
    logs = stack_logs(stack)
    assert {f for f, _ in log_lines_mentioning(logs, ("started",))} >= {"identity.log", "matcher.log"}
    if stack.postgres is not None and stack.postgres.embedded is not None:
        assert ("log", "duplicate key value") in log_lines_mentioning(logs, ("duplicate key value",))
    assert log_lines_mentioning(logs, wire_needles) == []

    # The others carry on: the request they own still stands, my offer on it is gone, and
    # the request I owned stays, anonymous, for the campaign.
    assert gateway.get("/api/v1/me", headers=owner.auth).status_code == 200
    mine_now = gateway.get(f"/api/v1/requests/{own_request}", headers=helper.auth)
    assert mine_now.status_code == 200, mine_now.text
    assert person.id not in mine_now.text
