"""Identity's consumers: the X account links the twitter gateway records, and each service's
confirmation that it has erased a person.

Each handler runs inside the consumer's inbox transaction, so a redelivered event does nothing; each
link keeps the time of the event that wrote it, so an older event never undoes a newer one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from identity_svc import service
from lx_contracts import identity as ev
from lx_contracts import topics, twitter
from lx_contracts.envelope import CloudEvent
from lx_platform.consumer import EventConsumer


async def on_account_linked(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = twitter.AccountLinked.model_validate(event.data)
    await service.x_account_linked(conn, user_id=data.user_id, x_user_id=data.x_user_id, handle=data.handle, at=data.at)


async def on_account_unlinked(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = twitter.AccountUnlinked.model_validate(event.data)
    await service.x_account_unlinked(conn, user_id=data.user_id, at=data.at)


def on_erasure_completed(service_name: str) -> Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]:
    """The handler of one service's erasure-completed topic; the topic, not the payload, says who confirmed."""

    async def handle(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = ev.ErasureCompleted.model_validate(event.data)
        await service.erasure_confirmed(conn, user_id=data.user_id, service=service_name, at=data.at)

    return handle


def register(events: EventConsumer) -> None:
    """Attach the handlers; call before the service starts."""
    events.on(topics.ACCOUNT_LINKED.name)(on_account_linked)
    events.on(topics.ACCOUNT_UNLINKED.name)(on_account_unlinked)
    for topic in topics.ERASURE_COMPLETED:
        events.on(topic.name)(on_erasure_completed(topic.name.split(".", 1)[0]))
