"""Composition root for skills: settings, runtime, identity event handlers, routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from lx_contracts import topics
from lx_platform import audit, erasure
from lx_platform.runtime import ServiceRuntime
from skills_svc import service
from skills_svc.api import internal_router, router
from skills_svc.handlers import register_handlers
from skills_svc.settings import SkillsSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: SkillsSettings | None = None) -> FastAPI:
    settings = settings or SkillsSettings()
    runtime = ServiceRuntime(
        name="skills",
        settings=settings,
        migrations_dir=MIGRATIONS,
        publishes=[topics.PROFILE_UPDATED, topics.SKILL_ADDED, topics.SKILLS_ERASURE_COMPLETED],
    )
    register_handlers(runtime.events)

    async def on_start(rt: ServiceRuntime) -> None:
        app.state.deps = service.Deps(
            db=rt.pool,
            identity_url=settings.identity_url.rstrip("/"),
            identity_timeout_s=settings.identity_timeout_s,
            import_max_rows=settings.import_max_rows,
        )
        # The seeded taxonomy (and any skill whose announcement was lost) goes out once, via the outbox.
        await service.announce_skills(db=rt.pool)

        # Outbox rows that name an erased person go once published.
        async def sweep() -> None:
            await erasure.sweep_purged(rt.pool)

        rt.every(settings.erasure_sweep_interval_s, "erasure-outbox-sweep", sweep)

    app = runtime.create_app(
        title="Labour Exchange skills and profiles",
        description="Skill taxonomy, volunteer profiles, constituencies and organiser search.",
        routers=[router, internal_router, audit.access_log_router()],
        on_start=on_start,
    )
    return app
