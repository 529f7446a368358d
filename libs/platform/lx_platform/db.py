"""asyncpg pool for one service: its own role, its own schema on the search_path."""

from __future__ import annotations

import json

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    dsn: str, *, schema: str, application_name: str, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """Open a pool whose connections see only `schema` (and pg_catalog) by default."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": schema, "application_name": application_name},
    )
    assert pool is not None
    return pool
