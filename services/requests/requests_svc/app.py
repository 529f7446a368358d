"""Composition root for requests. Its routes arrive with its own issue; for now it runs its
schema's migrations, its outbox relay and its health and metrics endpoints."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from lx_platform.runtime import ServiceRuntime
from requests_svc.settings import RequestsSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: RequestsSettings | None = None) -> FastAPI:
    runtime = ServiceRuntime(name="requests", settings=settings or RequestsSettings(), migrations_dir=MIGRATIONS)
    return runtime.create_app(
        title="Labour Exchange help requests", description="Help requests, offers and invitations."
    )
