"""The people and skills projections, on a fresh copy of the requests schema in the real Postgres:
replays change nothing, and an older event never overwrites a newer one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import ValidationError

from lx_contracts import topics
from lx_contracts.envelope import CloudEvent
from lx_devstack.testing import migrated_pool
from requests_svc import handlers, service
from requests_svc.app import MIGRATIONS
from requests_svc.domain import RequestInput, RulesBroken, SkillInput

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pool(scratch_schema: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    p = await migrated_pool(*scratch_schema, MIGRATIONS, application_name="requests-projection-tests")
    yield p
    await p.close()


def event(topic: str, data: dict[str, object], *, at: datetime) -> CloudEvent:
    return CloudEvent(id=uuid.uuid4(), source="/services/test", type=topic, time=at, subject="s", data=data)


def person(user_id: uuid.UUID, name: str) -> dict[str, object]:
    return {
        "user_id": str(user_id),
        "display_name": name,
        "roles": ["supporter"],
        "consents": {"discoverable": True, "contact_by_x": False},
    }


async def handle(pool: asyncpg.Pool, e: CloudEvent) -> None:
    on = {
        topics.USER_REGISTERED.name: handlers.on_user_registered,
        topics.USER_UPDATED.name: handlers.on_user_updated,
        topics.SKILL_ADDED.name: handlers.on_skill_added,
    }[e.type]
    async with pool.acquire() as conn, conn.transaction():
        await on(conn, e)


async def name_of(pool: asyncpg.Pool, user_id: uuid.UUID) -> str | None:
    name: str | None = await pool.fetchval("SELECT display_name FROM people WHERE user_id = $1", user_id)
    return name


async def test_a_newer_name_replaces_an_older_one_and_replays_change_nothing(pool: asyncpg.Pool) -> None:
    uid = uuid.uuid4()
    registered = event(topics.USER_REGISTERED.name, person(uid, "Sam"), at=T0)
    renamed = event(topics.USER_UPDATED.name, person(uid, "Sam Patel"), at=T0 + timedelta(seconds=5))
    for e in (registered, renamed, registered, renamed, renamed):
        await handle(pool, e)
    assert await name_of(pool, uid) == "Sam Patel"
    assert await pool.fetchval("SELECT count(*) FROM people WHERE user_id = $1", uid) == 1


async def test_an_older_event_arriving_late_does_not_roll_a_name_back(pool: asyncpg.Pool) -> None:
    uid = uuid.uuid4()
    await handle(pool, event(topics.USER_UPDATED.name, person(uid, "Newest"), at=T0 + timedelta(minutes=2)))
    await handle(pool, event(topics.USER_UPDATED.name, person(uid, "Older"), at=T0 + timedelta(minutes=1)))
    await handle(pool, event(topics.USER_REGISTERED.name, person(uid, "Oldest"), at=T0))
    assert await name_of(pool, uid) == "Newest"


async def test_skills_join_the_taxonomy_and_the_newest_description_wins(pool: asyncpg.Pool) -> None:
    def skill(name: str) -> dict[str, object]:
        return {"slug": "sign-language", "name": name, "category": "communication", "synonyms": ["BSL"]}

    await handle(pool, event(topics.SKILL_ADDED.name, skill("Sign language (BSL)"), at=T0 + timedelta(seconds=1)))
    await handle(pool, event(topics.SKILL_ADDED.name, skill("Sign language"), at=T0))
    rows = await pool.fetch("SELECT slug, name, category FROM skills")
    assert [tuple(r) for r in rows] == [("sign-language", "Sign language (BSL)", "communication")]


async def test_a_malformed_payload_fails_and_writes_nothing(pool: asyncpg.Pool) -> None:
    uid = uuid.uuid4()
    with pytest.raises(ValidationError):
        await handle(pool, event(topics.USER_REGISTERED.name, {"user_id": str(uid), "display_name": ""}, at=T0))
    with pytest.raises(ValidationError):
        await handle(pool, event(topics.SKILL_ADDED.name, {"name": "No slug"}, at=T0))
    assert await pool.fetchval("SELECT count(*) FROM people") == 0
    assert await pool.fetchval("SELECT count(*) FROM skills") == 0


async def test_a_request_before_any_skill_is_known_is_a_retryable_503_not_a_422(pool: asyncpg.Pool) -> None:
    given = RequestInput(
        title="Leaflets",
        description="",
        constituency_code="E14001354",
        remote_ok=False,
        skills=[SkillInput("graphic-design", 1, 1)],
        urgency="normal",
    )
    with pytest.raises(service.CatchingUp):
        await service.open_request(db=pool, created_by=uuid.uuid4(), given=given)
    assert await pool.fetchval("SELECT count(*) FROM requests") == 0
    await handle(
        pool,
        event(topics.SKILL_ADDED.name, {"slug": "leafleting", "name": "Leafleting", "category": "campaigning"}, at=T0),
    )
    # Once the taxonomy has arrived, a slug it lacks is the caller's mistake.
    with pytest.raises(RulesBroken):
        await service.open_request(db=pool, created_by=uuid.uuid4(), given=given)
