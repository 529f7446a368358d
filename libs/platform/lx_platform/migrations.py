"""Apply numbered SQL migrations, the platform's first, then the service's, once each."""

from __future__ import annotations

import logging
import zlib
from importlib import resources
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)


def _platform_migrations() -> list[tuple[str, str]]:
    folder = resources.files("lx_platform").joinpath("sql")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f"platform/{f.name}", f.read_text("utf-8")) for f in files]


def _service_migrations(directory: Path) -> list[tuple[str, str]]:
    return [(p.name, p.read_text("utf-8")) for p in sorted(directory.glob("*.sql"))]


async def apply_migrations(conn: asyncpg.Connection, *, schema: str, directory: Path | None) -> list[str]:
    """Apply what is not yet applied, each file in its own transaction; return what was applied.
    With no directory, only the platform's own tables (outbox, inbox)."""
    # One migrator at a time per schema, even with several replicas starting together.
    lock_key = zlib.crc32(f"migrations:{schema}".encode())
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations (
                   version text PRIMARY KEY,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')}
        applied = []
        for version, sql in _platform_migrations() + (_service_migrations(directory) if directory else []):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path = "{schema}"')
                await conn.execute(sql)
                await conn.execute(f'INSERT INTO "{schema}".schema_migrations (version) VALUES ($1)', version)
            log.info("applied migration", extra={"migration": version, "schema": schema})
            applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
