"""Composition root for twitter-gateway. Its routes arrive with its own issue; for now it runs its
schema's migrations, its outbox relay and its health and metrics endpoints."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from lx_platform.runtime import ServiceRuntime
from twitter_svc.settings import TwitterSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: TwitterSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(name="twitter-gateway", settings=settings or TwitterSettings(), migrations_dir=MIGRATIONS)
    return runtime.create_app(
        title="Labour Exchange twitter gateway",
        description="Everything that touches X: sign-in, ingestion, notifications.",
    )
