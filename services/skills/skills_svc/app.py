"""Composition root for skills. Its routes arrive with its own issue; for now it runs its
schema's migrations, its outbox relay and its health and metrics endpoints."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from lx_platform.runtime import ServiceRuntime
from skills_svc.settings import SkillsSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: SkillsSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(name="skills", settings=settings or SkillsSettings(), migrations_dir=MIGRATIONS)
    return runtime.create_app(
        title="Labour Exchange skills and profiles",
        description="Skill taxonomy, volunteer profiles, constituencies and organiser search.",
    )
