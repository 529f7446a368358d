"""Composition root for matcher. Its routes arrive with its own issue; for now it runs its
schema's migrations, its outbox relay and its health and metrics endpoints."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from lx_platform.runtime import ServiceRuntime
from matcher_svc.settings import MatcherSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: MatcherSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(name="matcher", settings=settings or MatcherSettings(), migrations_dir=MIGRATIONS)
    return runtime.create_app(
        title="Labour Exchange matcher", description="Ranked matches in both directions and campaign statistics."
    )
