"""The audit log: who (an organiser or admin) looked at or changed whose data, kept by the service that served it.

Each service writes to `audit_log` in its own schema (the platform's migration 003 makes it append-only) and
answers `GET /internal/v1/me/access-log` with the caller's own actions; identity gathers those into
`GET /api/v1/me/access-log` the way it gathers the export. Erasure replaces the person's id with nobody's
(`forget`), since an audit row must outlive the person but must not keep naming them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from lx_platform.auth import Principal, require_principal
from lx_platform.http import ProblemError
from lx_platform.logging import request_id_var

# How an erased person appears among an audit row's subjects.
NOBODY = uuid.UUID(int=0)

ACCESS_LOG_PATH = "/internal/v1/me/access-log"
MAX_PAGE = 100


@dataclass(frozen=True)
class Access:
    """Who is acting, through which route, in which request: the part of an audit row known before the work."""

    actor: uuid.UUID
    route: str
    request_id: str | None = None


def access(request: Request, actor: uuid.UUID) -> Access:
    """The audit context of an HTTP request: the route as its template (`GET /api/v1/supporters`, never the
    concrete path, which may hold someone's id) and the request id the gateway gave it."""
    route = request.scope.get("route")
    template = getattr(route, "path", None) or "?"
    return Access(actor=actor, route=f"{request.method} {template}"[:300], request_id=request_id_var.get())


async def record(
    conn: asyncpg.Connection,
    who: Access,
    action: str,
    subjects: Iterable[uuid.UUID | None],
    *,
    resource: str | None = None,
) -> None:
    """Append one row: `who` did `action` to these people (duplicates and unknowns dropped, order kept)."""
    seen: dict[uuid.UUID, None] = {}
    for s in subjects:
        if s is not None:
            seen.setdefault(s, None)
    await conn.execute(
        """INSERT INTO audit_log (actor_id, action, subjects, route, resource, request_id)
           VALUES ($1, $2, $3::uuid[], $4, $5, $6)""",
        who.actor,
        action,
        list(seen),
        who.route,
        resource,
        who.request_id,
    )


async def record_in(
    pool: asyncpg.Pool,
    who: Access,
    action: str,
    subjects: Iterable[uuid.UUID | None],
    *,
    resource: str | None = None,
) -> None:
    """`record` on a connection of its own, for reads (a search, a list) that have no transaction to join."""
    async with pool.acquire() as conn:
        await record(conn, who, action, subjects, resource=resource)


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: uuid.UUID | None
    action: str
    subjects: list[uuid.UUID]
    route: str
    resource: str | None
    request_id: str | None


async def actions_of(
    conn: asyncpg.Connection,
    actor: uuid.UUID,
    *,
    before_at: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[Entry]:
    """The actor's rows, newest first. With `before_at` only rows at or before that time; with `before_id` too,
    only those strictly before (`before_at`, `before_id`) in that order."""
    rows = await conn.fetch(
        """SELECT id, at, actor_id, action, subjects, route, resource, request_id FROM audit_log
           WHERE actor_id = $1
             AND ($2::timestamptz IS NULL OR at < $2
                  OR (at = $2 AND ($3::bigint IS NULL OR id < $3)))
           ORDER BY at DESC, id DESC
           LIMIT $4""",
        actor,
        before_at,
        before_id,
        limit,
    )
    return [
        Entry(
            id=r["id"],
            at=r["at"],
            actor=r["actor_id"],
            action=r["action"],
            subjects=list(r["subjects"]),
            route=r["route"],
            resource=r["resource"],
            request_id=r["request_id"],
        )
        for r in rows
    ]


async def forget(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Erasure: the person's rows stay (someone did look at or change data) but name them no more: as actor they
    become NULL, as subject the nil uuid. Call inside the erasure's transaction."""
    await conn.execute("SET LOCAL lx.audit_forget = 'on'")
    await conn.execute("UPDATE audit_log SET actor_id = NULL WHERE actor_id = $1", user_id)
    await conn.execute(
        "UPDATE audit_log SET subjects = array_replace(subjects, $1, $2) WHERE subjects @> ARRAY[$1]::uuid[]",
        user_id,
        NOBODY,
    )
    await conn.execute("SET LOCAL lx.audit_forget = 'off'")


# -- the internal endpoint identity gathers ---------------------------------------------------------


class EntryOut(BaseModel):
    id: int = Field(description="Unique within the service that wrote it.")
    at: datetime
    action: str = Field(description="What was done, e.g. `supporters.search`, `request.approve`.")
    subjects: list[uuid.UUID] = Field(description="Whose data; an erased person shows as the nil uuid.")
    route: str = Field(description="Method and route template.")
    resource: str | None = Field(description="What was acted on when it is not a person: a request or offer id.")
    request_id: str | None

    @classmethod
    def of(cls, e: Entry) -> EntryOut:
        return cls(
            id=e.id,
            at=e.at,
            action=e.action,
            subjects=e.subjects,
            route=e.route,
            resource=e.resource,
            request_id=e.request_id,
        )


class EntriesOut(BaseModel):
    items: list[EntryOut]


def access_log_router() -> APIRouter:
    """`GET /internal/v1/me/access-log`: the caller's own actions here, newest first; an admin may name another
    `actor`. The service's pool is `app.state.runtime.pool`."""
    router = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False)

    @router.get("/me/access-log", response_model=EntriesOut)
    async def access_log(
        request: Request,
        principal: Annotated[Principal, Depends(require_principal)],
        actor: Annotated[uuid.UUID | None, Query()] = None,
        before_at: Annotated[datetime | None, Query()] = None,
        before_id: Annotated[int | None, Query(ge=0)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE + 1)] = 20,
    ) -> Any:
        if actor is not None and actor != principal.user_id and not principal.is_admin:
            raise ProblemError(403, "Only admins may read someone else's access log.")
        pool: asyncpg.Pool = request.app.state.runtime.pool
        async with pool.acquire() as conn:
            found = await actions_of(
                conn, actor or principal.user_id, before_at=before_at, before_id=before_id, limit=limit
            )
        return EntriesOut(items=[EntryOut.of(e) for e in found])

    return router
