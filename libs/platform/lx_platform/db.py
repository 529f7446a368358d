"""asyncpg pool for one service: its own role, its own schema on the search_path."""

from __future__ import annotations

import json

import asyncpg
from asyncpg.exceptions import OperatorInterventionError, TooManyConnectionsError


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


# Postgres cannot be reached or is going away (restart, failover, shutdown): not the caller's fault nor the
# event's. OSError covers a refused or missing socket while the pool opens a new connection.
UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    OperatorInterventionError,  # admin shutdown, crash shutdown, "cannot connect now" while starting
    TooManyConnectionsError,
)


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is unreachable for now, rather than that the work was wrong: one of
    UNAVAILABLE, or asyncpg refusing to go on with a connection the server closed (which, leaving a
    transaction, hides the error that closed it)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, UNAVAILABLE):
            return True
        if isinstance(seen, asyncpg.InterfaceError) and "connection is closed" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
