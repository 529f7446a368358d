"""Skills' copy of identity's people, fed by the real broker into the running service: the newest event
wins whatever order the events arrive in, and a redelivered event changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testkit import envelope, produce, wait_until

pytestmark = pytest.mark.integration

REGISTERED = "identity.user-registered.v1"
UPDATED = "identity.user-updated.v1"


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    assert stack.postgres is not None
    conn = await asyncpg.connect(stack.postgres.project_admin_url)
    yield conn
    await conn.close()


def identity_event(topic: str, user_id: uuid.UUID, *, name: str, discoverable: bool, at: datetime,
                   invited: bool = False, event_id: uuid.UUID | None = None) -> bytes:  # fmt: skip
    data: dict[str, object] = {
        "user_id": str(user_id),
        "display_name": name,
        "consents": {"discoverable": discoverable, "contact_by_x": False},
    }
    if topic == REGISTERED:
        data |= {"roles": ["supporter"], "invited": invited}
    event = json.loads(envelope(topic, data, event_id=event_id, subject=str(user_id)))
    event["time"] = at.isoformat()  # these tests say when each event happened
    return json.dumps(event).encode()


async def send(stack: Stack, topic: str, value: bytes, user_id: uuid.UUID) -> None:
    await produce(stack.bootstrap_servers, topic, [value], key=str(user_id).encode())


async def handled(db: asyncpg.Connection, *event_ids: uuid.UUID) -> None:
    async def done() -> bool:
        n = await db.fetchval(
            "SELECT count(*) FROM skills.inbox WHERE consumer = 'skills' AND event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        return bool(n == len(event_ids))

    await wait_until(done, timeout_s=30, what="skills to handle the events")


async def person(db: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, object] | None:
    row = await db.fetchrow("SELECT display_name, discoverable, invited FROM skills.people WHERE user_id = $1", user_id)
    return dict(row) if row else None


async def test_an_older_registration_arriving_after_an_update_changes_nothing(
    stack: Stack, db: asyncpg.Connection
) -> None:
    user_id, now = uuid.uuid4(), datetime.now(UTC)
    update_id, register_id = uuid.uuid4(), uuid.uuid4()
    await send(stack, UPDATED, identity_event(UPDATED, user_id, name="Claimed Name", discoverable=False, at=now,
                                              event_id=update_id), user_id)  # fmt: skip
    await handled(db, update_id)
    await send(stack, REGISTERED, identity_event(REGISTERED, user_id, name="Imported Name", discoverable=True,
                                                 at=now - timedelta(hours=1), invited=True, event_id=register_id),
               user_id)  # fmt: skip
    await handled(db, register_id)
    assert await person(db, user_id) == {"display_name": "Claimed Name", "discoverable": False, "invited": False}


async def test_a_newer_update_replaces_the_registration(stack: Stack, db: asyncpg.Connection) -> None:
    user_id, now = uuid.uuid4(), datetime.now(UTC)
    register_id, update_id = uuid.uuid4(), uuid.uuid4()
    await send(stack, REGISTERED, identity_event(REGISTERED, user_id, name="Ina Vited", discoverable=False,
                                                 at=now - timedelta(minutes=5), invited=True, event_id=register_id),
               user_id)  # fmt: skip
    await handled(db, register_id)
    assert await person(db, user_id) == {"display_name": "Ina Vited", "discoverable": False, "invited": True}
    await send(stack, UPDATED, identity_event(UPDATED, user_id, name="Ina Vited", discoverable=True, at=now,
                                              event_id=update_id), user_id)  # fmt: skip
    await handled(db, update_id)
    assert await person(db, user_id) == {"display_name": "Ina Vited", "discoverable": True, "invited": False}


async def test_a_redelivered_older_event_changes_nothing(stack: Stack, db: asyncpg.Connection) -> None:
    user_id, now = uuid.uuid4(), datetime.now(UTC)
    first_id, second_id, sentinel_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = identity_event(REGISTERED, user_id, name="First", discoverable=True, at=now - timedelta(minutes=2),
                           event_id=first_id)  # fmt: skip
    await send(stack, REGISTERED, first, user_id)
    await send(stack, UPDATED, identity_event(UPDATED, user_id, name="Second", discoverable=True,
                                              at=now - timedelta(minutes=1), event_id=second_id), user_id)  # fmt: skip
    await handled(db, first_id, second_id)
    # The same registration again, then a marker on the same topic and key: once the marker is handled,
    # the redelivery before it has been too.
    await send(stack, REGISTERED, first, user_id)
    await send(stack, REGISTERED, identity_event(REGISTERED, user_id, name="First", discoverable=True,
                                                 at=now - timedelta(minutes=3), event_id=sentinel_id),
               user_id)  # fmt: skip
    await handled(db, sentinel_id)
    assert await person(db, user_id) == {"display_name": "Second", "discoverable": True, "invited": False}
