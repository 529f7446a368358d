"""Projections of other services' events: display names from identity, the skill taxonomy from skills.

Each handler runs inside the consumer's inbox transaction (a redelivered event does nothing), and
each upsert keeps the newest event's state, so events arriving out of order never roll a name back.
"""

from __future__ import annotations

import asyncpg

from lx_contracts import identity, skills, topics
from lx_contracts.envelope import CloudEvent
from lx_platform.consumer import EventConsumer
from requests_svc import repository as repo


async def on_user_registered(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = identity.UserRegistered.model_validate(event.data)
    await repo.upsert_person(conn, user_id=data.user_id, display_name=data.display_name, as_of=event.time)


async def on_user_updated(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = identity.UserUpdated.model_validate(event.data)
    await repo.upsert_person(conn, user_id=data.user_id, display_name=data.display_name, as_of=event.time)


async def on_skill_added(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = skills.SkillAdded.model_validate(event.data)
    await repo.upsert_skill(conn, slug=data.slug, name=data.name, category=data.category, as_of=event.time)


def register(events: EventConsumer) -> None:
    """Attach the handlers; call before the service starts."""
    events.on(topics.USER_REGISTERED.name)(on_user_registered)
    events.on(topics.USER_UPDATED.name)(on_user_updated)
    events.on(topics.SKILL_ADDED.name)(on_skill_added)
