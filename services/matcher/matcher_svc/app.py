"""Composition root for matcher: settings, runtime, event handlers, routes."""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import FastAPI

from lx_contracts import topics
from lx_platform import audit, erasure
from lx_platform.runtime import ServiceRuntime
from matcher_svc import handlers, metrics
from matcher_svc import repository as repo
from matcher_svc.api import internal_router, router
from matcher_svc.settings import MatcherSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: MatcherSettings | None = None) -> FastAPI:
    settings = settings or MatcherSettings()
    runtime = ServiceRuntime(
        name="matcher",
        settings=settings,
        migrations_dir=MIGRATIONS,
        publishes=[topics.MATCH_PROPOSED, topics.MATCHER_ERASURE_COMPLETED],
    )
    # Registered before start-up: the runtime subscribes whatever handlers exist when it starts.
    handlers.register(runtime.events, settings.tuning())

    async def on_start(rt: ServiceRuntime) -> None:
        async with rt.pool.acquire() as conn, conn.transaction():
            await repo.seed_constituencies(conn)
        app.state.db = rt.pool
        app.state.tuning = settings.tuning()

        async def sweep() -> None:
            await erasure.sweep_purged(rt.pool)

        # Outbox rows that name an erased person go once published.
        rt.every(settings.erasure_sweep_interval_s, "erasure-outbox-sweep", sweep)
        rt.every(30, "request-metrics", functools.partial(metrics.observe_requests, rt.pool))

    app = runtime.create_app(
        title="Labour Exchange matcher",
        description="Ranked, explained matches in both directions and campaign statistics.",
        routers=[router, internal_router, audit.access_log_router()],
        on_start=on_start,
    )
    return app
