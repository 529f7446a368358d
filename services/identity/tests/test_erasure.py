"""Erasing an account on the real stack: what identity deletes at once, the tokens that stop working
(at the gateway too), the erasure event, the status admins follow, and the export."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from identity_svc import service
from identity_svc.domain import ERASURE_SERVICES
from lx_contracts import topics
from lx_contracts.identity import subject_hash
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, migrated_pool, register_and_sign_in
from lx_devstack.testkit import envelope, event_of, events_once_published, produce, read_all, wait_until
from lx_platform.db import create_pool

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
# Routes of every service behind the gateway that a signed-in person may call.
ROUTES = (
    "/api/v1/me",
    "/api/v1/me/profile",
    "/api/v1/me/requests",
    "/api/v1/me/offers",
    "/api/v1/me/opportunities",
    "/api/v1/me/x",
    "/api/v1/requests",
    "/api/v1/constituencies",
)


def erasable(gateway: httpx.Client) -> Person:
    return register_and_sign_in(gateway, name=f"Erin Erasable {uuid.uuid4().hex[:10]}")


async def rows_mentioning(dsn: str, schema: str, needle: str) -> list[tuple[str, str]]:
    """(table, row text) of every row in the schema whose text form contains `needle`, any case."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        tables = await conn.fetch(
            """SELECT table_name FROM information_schema.tables
               WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name""",
            schema,
        )
        assert len(tables) >= 8, [t["table_name"] for t in tables]
        found = []
        for t in tables:
            name = t["table_name"]
            rows = await conn.fetch(
                f'SELECT t::text AS row FROM "{schema}"."{name}" t WHERE strpos(lower(t::text), lower($1)) > 0',
                needle,
            )
            found += [(name, r["row"]) for r in rows]
        return found
    finally:
        await conn.close()


def mentions(stack: Stack, needle: str) -> list[tuple[str, str]]:
    return asyncio.run(rows_mentioning(stack.dsns["identity"], "identity", needle))


def erasure_status(gateway: httpx.Client, admin: Person, user_id: str) -> dict[str, Any]:
    r = gateway.get(f"/api/v1/admin/erasures/{user_id}", headers=admin.auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def status_once_confirmed(gateway: httpx.Client, admin: Person, user_id: str, name: str) -> dict[str, Any]:
    """The erasure status, once it counts `name`'s confirmation."""
    seen: dict[str, Any] = {}

    async def confirmed() -> bool:
        seen.update(erasure_status(gateway, admin, user_id))
        return name in seen["confirmed"]

    asyncio.run(wait_until(confirmed, timeout_s=30, what=f"{name}'s confirmation to count"))
    return seen


def confirm(stack: Stack, service_name: str, *user_ids: str) -> None:
    """Publish `service_name`'s erasure-completed events for these ids, in order on one partition."""
    topic = {t.name.split(".")[0]: t for t in topics.ERASURE_COMPLETED}[service_name]
    values = [
        envelope(
            topic.name,
            {"user_id": user_id, "service": service_name, "at": datetime.now(UTC).isoformat()},
            subject=user_id,
        )
        for user_id in user_ids
    ]
    asyncio.run(produce(stack.bootstrap_servers, topic.name, values, key=user_ids[0].encode()))


def test_erasing_my_account_deletes_it_and_stops_its_tokens(stack: Stack, gateway: httpx.Client) -> None:
    person = erasable(gateway)
    assert (
        gateway.patch("/api/v1/me", headers=person.auth, json={"consents": {"contact_by_x": True}}).status_code == 200
    )
    before = {route: gateway.get(route, headers=person.auth).status_code for route in ROUTES}
    assert 401 not in before.values(), before
    assert mentions(stack, person.email) and mentions(stack, person.display_name)

    r = gateway.delete("/api/v1/me", headers=person.auth)
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "in_progress", "services": ["skills", "requests", "matcher", "twitter"]}

    # The access token is still unexpired, yet refused everywhere within seconds: the gateway knows.
    async def refused_everywhere() -> bool:
        return all(gateway.get(route, headers=person.auth).status_code == 401 for route in ROUTES)

    asyncio.run(wait_until(refused_everywhere, timeout_s=10, what="the erased person's token to be refused"))
    refused = gateway.get("/api/v1/me/requests", headers=person.auth)
    assert refused.headers["content-type"] == PROBLEM
    assert gateway.post("/api/v1/auth/refresh", json={"refresh_token": person.refresh_token}).status_code == 401

    # Nothing in identity's schema holds the email or the name; the id only in the erasure event
    # that is on its way out (the erasure record holds a hash, never the id).
    assert mentions(stack, person.email) == []
    assert mentions(stack, person.display_name) == []
    assert {table for table, row in mentions(stack, person.id)} <= {"outbox"}
    assert all(topics.USER_ERASED.name in row for _, row in mentions(stack, person.id))
    assert mentions(stack, subject_hash(uuid.UUID(person.id)))[0][0] == "erasures"

    # The event names the person by the hash in the clear (for the gateway, which keeps no keys) and by
    # their id sealed with their own key, which identity destroys once every service has confirmed.
    hashed = subject_hash(uuid.UUID(person.id))
    [erased] = events_once_published(
        stack.bootstrap_servers, topics.USER_ERASED.name, lambda e: e["data"].get("subject_hash") == hashed
    )
    assert set(erased["data"]) == {"user_id", "subject_hash", "at"}
    records = asyncio.run(read_all(stack.bootstrap_servers, topics.USER_ERASED.name))
    [wire] = [r for r in records if (event_of(r) or {}).get("id") == erased["id"]]
    assert json.loads(wire.value)["data"]["user_id"].startswith("lx1.")  # type: ignore[attr-defined]
    assert person.id.encode() not in wire.value + wire.key  # type: ignore[attr-defined]

    # Signing in with the old details fails exactly as a wrong password does.
    old = gateway.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})
    wrong = gateway.post("/api/v1/auth/token", json={"email": person.email, "password": "not the password at all"})
    assert old.status_code == wrong.status_code == 401
    assert old.json()["detail"] == wrong.json()["detail"]

    # The email is free for a new account, which is someone new.
    again = gateway.post(
        "/api/v1/auth/register",
        json={
            "email": person.email,
            "password": person.password,
            "display_name": "Erin Again",
            "consents": {"terms": True},
        },
    )
    assert again.status_code == 201, again.text
    assert again.json()["id"] != person.id
    token = gateway.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})
    assert token.status_code == 200
    fresh = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert gateway.get("/api/v1/me", headers=fresh).json()["display_name"] == "Erin Again"


def test_other_people_are_unaffected(gateway: httpx.Client, person: Person) -> None:
    erased = erasable(gateway)
    assert gateway.delete("/api/v1/me", headers=erased.auth).status_code == 202

    async def refused() -> bool:
        return gateway.get("/api/v1/me/requests", headers=erased.auth).status_code == 401

    asyncio.run(wait_until(refused, timeout_s=10, what="the erased person's token to be refused"))
    for route in ROUTES:
        assert gateway.get(route, headers=person.auth).status_code != 401, route


def test_a_second_delete_straight_to_identity_answers_the_same_erasure(stack: Stack, gateway: httpx.Client) -> None:
    erased = erasable(gateway)
    with httpx.Client(base_url=stack.url_of("identity"), timeout=15.0) as identity:
        first = identity.delete("/api/v1/me", headers=erased.auth)
        second = identity.delete("/api/v1/me", headers=erased.auth)
        assert first.status_code == second.status_code == 202
        assert second.json()["services"] == list(ERASURE_SERVICES)
        # The account is gone: identity's own answer to the old token.
        gone = identity.get("/api/v1/me", headers=erased.auth)
        assert gone.status_code == 401 and gone.headers["content-type"] == PROBLEM
        assert identity.get("/api/v1/me/export", headers=erased.auth).status_code == 401


async def test_the_last_admin_cannot_erase_themselves_but_one_of_two_can(scratch_schema: tuple[str, str]) -> None:
    # Identity's own tables in a schema of this test's own, so no other test's admins are counted.
    from pathlib import Path

    from identity_svc.passwords import Passwords

    migrations = Path(service.__file__).parents[1] / "migrations"
    db = await migrated_pool(*scratch_schema, migrations, application_name="test-last-admin")
    passwords = Passwords(time_cost=1, memory_kib=1024, parallelism=1)

    async def new_admin(name: str) -> uuid.UUID:
        user = await service.register(
            db=db,
            passwords=passwords,
            email=f"admin-{uuid.uuid4().hex[:12]}@example.org",
            password="a long enough password",
            display_name=name,
            terms=True,
            discoverable=False,
            contact_by_x=False,
            admin=True,
        )
        return user.id

    try:
        first = await new_admin("Ada First")
        with pytest.raises(service.Conflict, match="last admin"):
            await service.erase(db=db, user_id=first)
        second = await new_admin("Bea Second")
        erased = await service.erase(db=db, user_id=first)
        assert erased.completed_at is None and set(erased.services) == set(ERASURE_SERVICES)
        with pytest.raises(service.Conflict, match="last admin"):
            await service.erase(db=db, user_id=second)
    finally:
        await db.close()


def test_the_erasure_completes_when_all_four_services_have_confirmed(
    stack: Stack, gateway: httpx.Client, admin: Person
) -> None:
    person = erasable(gateway)
    assert gateway.delete("/api/v1/me", headers=person.auth).status_code == 202
    # The erasure event must be out before any service can confirm it.
    events_once_published(stack.bootstrap_servers, topics.USER_ERASED.name, lambda e: e["subject"] == person.id)

    status = erasure_status(gateway, admin, person.id)
    assert status["requested_at"] and set(status["confirmed"]) | set(status["pending"]) == set(ERASURE_SERVICES)
    # The services' own confirmations may also be arriving; the status must be consistent whatever arrives.
    for i, name in enumerate(["skills", "requests", "matcher", "twitter"]):
        confirm(stack, name, person.id)
        seen = status_once_confirmed(gateway, admin, person.id, name)
        assert set(seen["pending"]) == set(ERASURE_SERVICES) - set(seen["confirmed"])
        if seen["pending"]:
            assert seen["status"] == "in_progress" and seen["completed_at"] is None
        else:
            assert seen["status"] == "completed" and seen["completed_at"] is not None
        if i == 3:
            assert seen["status"] == "completed" and seen["confirmed"] == list(ERASURE_SERVICES)

    # Once a service has confirmed, the erasure event left identity's outbox: nothing names the id.
    async def no_trace() -> bool:
        return await rows_mentioning(stack.dsns["identity"], "identity", person.id) == []

    asyncio.run(wait_until(no_trace, timeout_s=30, what="no row in identity to hold the erased id"))
    # A late duplicate changes nothing.
    confirm(stack, "skills", person.id)
    assert erasure_status(gateway, admin, person.id)["status"] == "completed"


def test_in_progress_until_every_service_confirms(stack: Stack, gateway: httpx.Client, admin: Person) -> None:
    """The same rule without the services: an erasure record that nobody else was told about."""
    user_id = uuid.uuid4()

    async def record() -> None:
        conn = await asyncpg.connect(stack.dsns["identity"], server_settings={"search_path": "identity"})
        try:
            await conn.execute(
                "INSERT INTO erasures (subject_hash, requested_at, services) VALUES ($1, now(), $2)",
                subject_hash(user_id),
                list(ERASURE_SERVICES),
            )
        finally:
            await conn.close()

    asyncio.run(record())
    names = ["twitter", "matcher", "skills", "requests"]
    for i, name in enumerate(names):
        confirm(stack, name, str(user_id))
        seen = status_once_confirmed(gateway, admin, str(user_id), name)
        assert seen["pending"] == [s for s in ERASURE_SERVICES if s not in names[: i + 1]]
        assert seen["status"] == ("completed" if i == 3 else "in_progress")


def test_erasure_status_is_for_admins_and_known_erasures_only(gateway: httpx.Client, admin: Person) -> None:
    someone = register_and_sign_in(gateway)
    assert gateway.get(f"/api/v1/admin/erasures/{someone.id}", headers=someone.auth).status_code == 403
    assert gateway.get(f"/api/v1/admin/erasures/{someone.id}").status_code == 401
    missing = gateway.get(f"/api/v1/admin/erasures/{uuid.uuid4()}", headers=admin.auth)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    bad = gateway.get("/api/v1/admin/erasures/not-a-uuid", headers=admin.auth)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


def test_a_confirmation_for_an_unknown_person_creates_nothing(
    stack: Stack, gateway: httpx.Client, admin: Person
) -> None:
    stranger = str(uuid.uuid4())
    # A marker confirmed after it on the same partition shows when the consumer is past the stranger's.
    marker = uuid.uuid4()

    async def record_marker() -> None:
        conn = await asyncpg.connect(stack.dsns["identity"], server_settings={"search_path": "identity"})
        try:
            await conn.execute(
                "INSERT INTO erasures (subject_hash, requested_at, services) VALUES ($1, now(), $2)",
                subject_hash(marker),
                ["matcher"],
            )
        finally:
            await conn.close()

    asyncio.run(record_marker())
    confirm(stack, "matcher", stranger, str(marker))

    async def marker_done() -> bool:
        return erasure_status(gateway, admin, str(marker))["status"] == "completed"

    asyncio.run(wait_until(marker_done, timeout_s=30, what="the marker erasure to complete"))
    assert gateway.get(f"/api/v1/admin/erasures/{stranger}", headers=admin.auth).status_code == 404


# -- export ---------------------------------------------------------------------------------------------


def test_export_needs_a_token(gateway: httpx.Client) -> None:
    r = gateway.get("/api/v1/me/export")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


async def _identity_section(dsn: str, user_id: str) -> dict[str, Any]:
    pool = await create_pool(dsn, schema="identity", application_name="identity-test", min_size=1, max_size=1)
    try:
        return await service.export_identity(db=pool, user_id=uuid.UUID(user_id))
    finally:
        await pool.close()


def test_identitys_section_holds_the_account_consents_roles_and_sign_ins(stack: Stack, gateway: httpx.Client) -> None:
    person = erasable(gateway)
    gateway.patch("/api/v1/me", headers=person.auth, json={"consents": {"contact_by_x": True}})
    section = asyncio.run(_identity_section(stack.dsns["identity"], person.id))
    account = section["account"]
    assert account["id"] == person.id and account["email"] == person.email
    assert account["display_name"] == person.display_name and account["has_password"] is True
    assert account["consents"] == {"terms": True, "discoverable": True, "contact_by_x": True}
    history = [(c["purpose"], c["granted"]) for c in section["consents_history"]]
    assert history[:3] == [("terms", True), ("discoverable", True), ("contact_by_x", False)]
    assert history[3:] == [("contact_by_x", True)]
    assert [r["role"] for r in section["roles"]] == ["supporter"]
    assert section["x_account"] is None
    assert len(section["sign_ins"]) == 1 and "token" not in json.dumps(section["sign_ins"])
    json.dumps(section)  # plain JSON


def test_export_through_the_gateway_is_every_section_or_a_503_naming_the_missing(
    stack: Stack, gateway: httpx.Client
) -> None:
    person = erasable(gateway)
    sources = json.loads(stack.service_env(Stack.spec("identity"))["IDENTITY_EXPORT_SOURCES"])
    assert set(sources) == {"skills", "requests", "matcher", "twitter"}
    missing = []
    for name, url in sources.items():
        direct = httpx.get(f"{url}/internal/v1/me/export", headers=person.auth, timeout=15)
        if direct.status_code != 200:
            missing.append(name)
    r = gateway.get("/api/v1/me/export", headers=person.auth)
    if not missing:
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"] == 'attachment; filename="labour-exchange-export.json"'
        body = r.json()
        assert list(body) == ["generated_at", "user_id", "identity", "skills", "requests", "matcher", "twitter"]
        assert body["user_id"] == person.id
        assert body["identity"]["account"]["email"] == person.email
    else:
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == PROBLEM and int(r.headers["retry-after"]) > 0
        for name in missing:
            assert name in r.json()["detail"]


def test_the_openapi_document_describes_erasure_and_export(stack: Stack) -> None:
    spec = httpx.get(f"{stack.url_of('identity')}/openapi.json", timeout=15).json()
    assert "202" in spec["paths"]["/api/v1/me"]["delete"]["responses"]
    assert "503" in spec["paths"]["/api/v1/me/export"]["get"]["responses"]
    assert "/api/v1/admin/erasures/{user_id}" in spec["paths"]
