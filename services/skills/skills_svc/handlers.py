"""The identity events skills keeps a copy of: who people are called and whether they may be found."""

from __future__ import annotations

import asyncpg

from lx_contracts import identity as ev
from lx_contracts import topics
from lx_contracts.envelope import CloudEvent
from lx_platform.consumer import EventConsumer
from skills_svc import service


def register_handlers(events: EventConsumer) -> None:
    """Each runs inside the consumer's inbox transaction, so a redelivered event changes nothing."""

    @events.on(topics.USER_REGISTERED.name)
    async def user_registered(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = ev.UserRegistered.model_validate(event.data)
        await service.person_registered(
            conn,
            user_id=data.user_id,
            display_name=data.display_name,
            discoverable=data.consents.discoverable,
            contact_by_x=data.consents.contact_by_x,
            invited=data.invited,
            as_of=event.time,
        )

    @events.on(topics.USER_ERASED.name)
    async def user_erased(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = ev.UserErased.model_validate(event.data)
        await service.erase_person(conn, data.user_id)

    @events.on(topics.USER_UPDATED.name)
    async def user_updated(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = ev.UserUpdated.model_validate(event.data)
        await service.person_updated(
            conn,
            user_id=data.user_id,
            display_name=data.display_name,
            discoverable=data.consents.discoverable,
            contact_by_x=data.consents.contact_by_x,
            as_of=event.time,
        )
