"""Erasure and export in skills, on the running stack: after `identity.user-erased.v1` the schema holds
nothing that names the person, `skills.erasure-completed.v1` confirms it, a replayed older event about
them re-creates nothing, erasing twice is harmless; the export shows the caller's own data only."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in
from lx_devstack.testkit import envelope, events_in, opened, produce, read_all, wait_until

pytestmark = pytest.mark.integration

SCHEMA = "skills"
ERASED = "identity.user-erased.v1"
COMPLETED = "skills.erasure-completed.v1"
REGISTERED = "identity.user-registered.v1"
UPDATED = "identity.user-updated.v1"


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    assert stack.postgres is not None
    conn = await asyncpg.connect(stack.postgres.project_admin_url)
    yield conn
    await conn.close()


async def rows_naming(db: asyncpg.Connection, user_id: str) -> dict[str, int]:
    """Every table of the schema whose rows, cast to text, contain the id; with how many rows."""
    tables = await db.fetch(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name""",
        SCHEMA,
    )
    found = {}
    for t in tables:
        n = await db.fetchval(
            f"SELECT count(*) FROM \"{SCHEMA}\".\"{t['table_name']}\" t WHERE t::text LIKE '%' || $1 || '%'", user_id
        )
        if n:
            found[t["table_name"]] = n
    return found


async def handled(db: asyncpg.Connection, *event_ids: uuid.UUID) -> None:
    async def done() -> bool:
        n = await db.fetchval(f"SELECT count(*) FROM {SCHEMA}.inbox WHERE event_id = ANY($1::uuid[])", list(event_ids))
        return bool(n == len(event_ids))

    await wait_until(done, timeout_s=30, what="skills to handle the events")


async def erase(stack: Stack, user_id: str) -> uuid.UUID:
    event_id = uuid.uuid4()
    value = envelope(ERASED, {"user_id": user_id, "at": datetime.now(UTC).isoformat()}, event_id=event_id,
                     subject=user_id)  # fmt: skip
    await produce(stack.bootstrap_servers, ERASED, [value], key=user_id.encode())
    return event_id


async def completions(stack: Stack, user_id: str, count: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []

    async def enough() -> bool:
        records = await read_all(stack.bootstrap_servers, COMPLETED, timeout_s=10)
        events = await opened(events_in(records))
        found[:] = [e for e in events if e["subject"] == user_id]
        return len(found) >= count

    await wait_until(enough, timeout_s=30, what=f"{count} erasure confirmations")
    return found


def identity_event(topic: str, user_id: str, *, at: datetime) -> tuple[uuid.UUID, bytes]:
    data: dict[str, object] = {
        "user_id": user_id,
        "display_name": "Back From The Past",
        "consents": {"discoverable": True, "contact_by_x": True},
    }
    if topic == REGISTERED:
        data |= {"roles": ["supporter"], "invited": False}
    event_id = uuid.uuid4()
    event = json.loads(envelope(topic, data, event_id=event_id, subject=user_id))
    event["time"] = at.isoformat()
    return event_id, json.dumps(event).encode()


PROFILE = {
    "constituency_code": "E14001354",
    "travel_radius_km": 10,
    "remote_ok": True,
    "max_hours_per_week": 6,
    "availability": [{"day": "sat", "start": "10:00", "end": "16:00"}],
    "skills": [{"slug": "graphic-design", "level": 4, "note": "Posters for the tenants' union"}],
}


def save_profile(gateway: httpx.Client, who: Person) -> None:
    r = gateway.put("/api/v1/me/profile", headers=who.auth, json=PROFILE)
    assert r.status_code == 200, r.text


def export(stack: Stack, who: Person | None) -> httpx.Response:
    return httpx.get(f"{stack.url_of('skills')}/internal/v1/me/export", headers=who.auth if who else {}, timeout=15)


async def test_export_is_the_callers_own_data(stack: Stack, gateway: httpx.Client, db: asyncpg.Connection) -> None:
    me = register_and_sign_in(gateway, name="Erin Export")
    other = register_and_sign_in(gateway, name="Otto Other")
    save_profile(gateway, me)
    save_profile(gateway, other)
    await wait_until(
        lambda: db.fetchval("SELECT true FROM skills.people WHERE user_id = $1", uuid.UUID(me.id)),
        what="skills to learn of the person",
    )

    assert export(stack, None).status_code == 401
    r = export(stack, me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["profile"]["constituency_code"] == "E14001354"
    assert body["profile"]["skills"] == [
        {"slug": "graphic-design", "level": 4, "note": "Posters for the tenants' union"}
    ]
    assert body["profile"]["availability"] == [{"day": "sat", "start": "10:00", "end": "16:00"}]
    assert body["account_copy"] == {
        "display_name": "Erin Export", "discoverable": True, "contact_by_x": False, "invited": False
    }  # fmt: skip
    assert other.id not in r.text and "Otto" not in r.text


async def test_erasure_leaves_nothing_and_stays_erased(
    stack: Stack, gateway: httpx.Client, db: asyncpg.Connection
) -> None:
    gone = register_and_sign_in(gateway, name="Gone Person")
    stays = register_and_sign_in(gateway, name="Staying Person")
    save_profile(gateway, gone)
    save_profile(gateway, stays)
    await wait_until(
        lambda: db.fetchval("SELECT count(*) = 2 FROM skills.people WHERE user_id = ANY($1::uuid[])",
                            [uuid.UUID(gone.id), uuid.UUID(stays.id)]),
        what="skills to learn of both people",
    )  # fmt: skip
    assert await rows_naming(db, gone.id)  # the test can fail: there is something to erase

    first = await erase(stack, gone.id)
    await handled(db, first)

    async def nothing_left() -> bool:
        return not await rows_naming(db, gone.id)

    await wait_until(nothing_left, timeout_s=30, what="no row of the skills schema to name the person")
    digest = hashlib.sha256(gone.id.encode()).hexdigest()
    assert await db.fetchval("SELECT count(*) FROM skills.erased_people WHERE subject_hash = $1", digest) == 1

    [done] = await completions(stack, gone.id, 1)
    assert done["type"] == COMPLETED and done["subject"] == gone.id
    assert done["data"]["user_id"] == gone.id and done["data"]["service"] == "skills"  # type: ignore[index]
    assert datetime.fromisoformat(done["data"]["at"]) > datetime.now(UTC) - timedelta(minutes=5)  # type: ignore[index]

    # Late and replayed events about the person re-create nothing.
    earlier = datetime.now(UTC) - timedelta(hours=1)
    registered_id, registered = identity_event(REGISTERED, gone.id, at=earlier)
    updated_id, updated = identity_event(UPDATED, gone.id, at=datetime.now(UTC))
    await produce(stack.bootstrap_servers, REGISTERED, [registered], key=gone.id.encode())
    await produce(stack.bootstrap_servers, UPDATED, [updated], key=gone.id.encode())
    await handled(db, registered_id, updated_id)
    assert await rows_naming(db, gone.id) == {}

    # The erased account's token, in its last minutes, saves nothing (asked directly: the gateway may already
    # refuse it).
    again = httpx.put(f"{stack.url_of('skills')}/api/v1/me/profile", headers=gone.auth, json=PROFILE, timeout=15)
    assert again.status_code == 401, again.text
    assert await rows_naming(db, gone.id) == {}

    # Erasing again changes nothing and confirms again.
    second = await erase(stack, gone.id)
    await handled(db, second)
    await completions(stack, gone.id, 2)
    await wait_until(nothing_left, timeout_s=30, what="the second confirmation's outbox row to go")

    # The export now holds nothing; everyone else is untouched.
    assert export(stack, gone).json() == {"profile": None, "account_copy": None}
    assert export(stack, stays).json()["profile"]["skills"][0]["slug"] == "graphic-design"
    assert await db.fetchval("SELECT count(*) FROM skills.profile_skills WHERE user_id = $1", uuid.UUID(stays.id)) == 1
