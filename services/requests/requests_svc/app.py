"""Composition root for requests: settings, runtime, event handlers, routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from lx_contracts import topics
from lx_platform import audit, erasure
from lx_platform.runtime import ServiceRuntime
from requests_svc import handlers
from requests_svc.api import internal_router, router
from requests_svc.settings import RequestsSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

PUBLISHES = [
    topics.REQUEST_OPENED,
    topics.REQUEST_UPDATED,
    topics.REQUEST_CLOSED,
    topics.OFFER_MADE,
    topics.OFFER_ACCEPTED,
    topics.OFFER_DECLINED,
    topics.OFFER_WITHDRAWN,
    topics.INVITATION_SENT,
    topics.REQUESTS_ERASURE_COMPLETED,
]


def create_app(settings: RequestsSettings | None = None) -> FastAPI:
    settings = settings or RequestsSettings()
    runtime = ServiceRuntime(name="requests", settings=settings, migrations_dir=MIGRATIONS, publishes=PUBLISHES)
    # Registered before start-up: the runtime subscribes whatever handlers exist when it starts.
    handlers.register(runtime.events)

    async def on_start(rt: ServiceRuntime) -> None:
        app.state.db = rt.pool

        async def sweep() -> None:
            await erasure.sweep_purged(rt.pool)

        # Outbox rows that name an erased person go once published.
        rt.every(settings.erasure_sweep_interval_s, "erasure-outbox-sweep", sweep)

    app = runtime.create_app(
        title="Labour Exchange help requests",
        description="Help requests, offers and invitations.",
        routers=[router, internal_router, audit.access_log_router()],
        on_start=on_start,
    )
    return app
