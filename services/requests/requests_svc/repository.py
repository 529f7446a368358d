"""SQL for the requests schema. Nothing else knows table names."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from requests_svc.domain import (
    LIVE_OFFER_STATUSES,
    PENDING,
    Actor,
    HelpRequest,
    Invitation,
    Offer,
    SkillNeed,
)

Cursor = tuple[datetime, uuid.UUID]


class AlreadyExists(Exception):
    """A unique rule held by the database (one live offer, one invitation per person)."""


# -- requests ----------------------------------------------------------------------------------

_REQUEST_COLUMNS = """r.id, r.title, r.description, r.constituency_code, r.remote_ok, r.skills, r.starts_at,
    r.ends_at, r.urgency, r.status, r.source, r.created_by, r.created_at, r.updated_at, r.outcome, r.closed_at,
    r.source_ref, p.display_name AS created_by_name"""
_REQUEST_FROM = "requests r LEFT JOIN people p ON p.user_id = r.created_by"


def _skills_json(skills: Sequence[SkillNeed]) -> list[dict[str, Any]]:
    return [{"slug": s.slug, "min_level": s.min_level, "people": s.people, "accepted": s.accepted} for s in skills]


def _request(row: asyncpg.Record) -> HelpRequest:
    return HelpRequest(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        constituency_code=row["constituency_code"],
        remote_ok=row["remote_ok"],
        skills=tuple(SkillNeed(s["slug"], s["min_level"], s["people"], s.get("accepted", 0)) for s in row["skills"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        urgency=row["urgency"],
        status=row["status"],
        source=row["source"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        outcome=row["outcome"],
        closed_at=row["closed_at"],
        source_ref=row["source_ref"],
        created_by_name=row["created_by_name"],
    )


async def get_request(
    conn: asyncpg.Connection, request_id: uuid.UUID, *, for_update: bool = False
) -> HelpRequest | None:
    """One request; `for_update` locks its row until the transaction ends (every change to counts or status)."""
    row = await conn.fetchrow(
        f"SELECT {_REQUEST_COLUMNS} FROM {_REQUEST_FROM} WHERE r.id = $1" + (" FOR UPDATE OF r" if for_update else ""),
        request_id,
    )
    return _request(row) if row else None


async def insert_request(conn: asyncpg.Connection, req: HelpRequest) -> None:
    """AlreadyExists when a request from the same outside source (the same tweet) is recorded already."""
    try:
        await _insert_request(conn, req)
    except asyncpg.UniqueViolationError as exc:
        raise AlreadyExists from exc


async def _insert_request(conn: asyncpg.Connection, req: HelpRequest) -> None:
    await conn.execute(
        """INSERT INTO requests (id, title, description, constituency_code, remote_ok, skills, starts_at, ends_at,
               urgency, status, outcome, source, source_ref, created_by, people_needed, people_accepted,
               created_at, updated_at, closed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)""",
        req.id,
        req.title,
        req.description,
        req.constituency_code,
        req.remote_ok,
        _skills_json(req.skills),
        req.starts_at,
        req.ends_at,
        req.urgency,
        req.status,
        req.outcome,
        req.source,
        req.source_ref,
        req.created_by,
        req.people_needed,
        req.people_accepted,
        req.created_at,
        req.updated_at,
        req.closed_at,
    )


async def update_request(conn: asyncpg.Connection, req: HelpRequest) -> None:
    """Write every changeable field of a request (its row is locked by the caller)."""
    await conn.execute(
        """UPDATE requests SET title = $2, description = $3, constituency_code = $4, remote_ok = $5, skills = $6,
               starts_at = $7, ends_at = $8, urgency = $9, status = $10, outcome = $11, people_needed = $12,
               people_accepted = $13, updated_at = $14, closed_at = $15
           WHERE id = $1""",
        req.id,
        req.title,
        req.description,
        req.constituency_code,
        req.remote_ok,
        _skills_json(req.skills),
        req.starts_at,
        req.ends_at,
        req.urgency,
        req.status,
        req.outcome,
        req.people_needed,
        req.people_accepted,
        req.updated_at,
        req.closed_at,
    )


@dataclass(frozen=True)
class Browse:
    """Filters for the public list. `status` None means every status the caller may see."""

    status: str | None = "open"
    constituency: str | None = None
    skill: str | None = None
    q: str | None = None


class _Where:
    """Collects conditions with numbered parameters; values never enter the SQL text."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, sql: str) -> None:
        self.parts.append(sql)

    def after(self, cursor: Cursor | None) -> None:
        if cursor is not None:
            self.add(f"(r.created_at, r.id) < ({self.arg(cursor[0])}, {self.arg(cursor[1])})")

    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "true"


async def browse_requests(
    conn: asyncpg.Connection, *, filters: Browse, actor: Actor | None, after: Cursor | None, limit: int
) -> list[HelpRequest]:
    """Newest first. Pending requests appear only to organisers of their constituency and admins."""
    w = _Where()
    if filters.status is not None:
        w.add(f"r.status = {w.arg(filters.status)}")
    if filters.status in (None, PENDING):
        if actor is None:
            w.add("r.status <> 'pending'")
        elif not actor.is_admin:
            w.add(f"(r.status <> 'pending' OR r.constituency_code = ANY({w.arg(sorted(actor.organiser_of))}::text[]))")
    if filters.constituency is not None:
        w.add(f"r.constituency_code = {w.arg(filters.constituency)}")
    if filters.skill is not None:
        w.add(f"r.skills @> jsonb_build_array(jsonb_build_object('slug', {w.arg(filters.skill)}::text))")
    if filters.q is not None and await conn.fetchval("SELECT numnode(websearch_to_tsquery('english', $1))", filters.q):
        # Words that are all stop words ("the", "and") make an empty query: treat them as no filter, not no match.
        w.add(f"r.search @@ websearch_to_tsquery('english', {w.arg(filters.q)})")
    w.after(after)
    rows = await conn.fetch(
        f"""SELECT {_REQUEST_COLUMNS} FROM {_REQUEST_FROM} WHERE {w.sql()}
            ORDER BY r.created_at DESC, r.id DESC LIMIT {w.arg(limit)}""",
        *w.args,
    )
    return [_request(r) for r in rows]


async def requests_by_owner(
    conn: asyncpg.Connection, *, user_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[HelpRequest]:
    w = _Where()
    w.add(f"r.created_by = {w.arg(user_id)}")
    w.after(after)
    rows = await conn.fetch(
        f"""SELECT {_REQUEST_COLUMNS} FROM {_REQUEST_FROM} WHERE {w.sql()}
            ORDER BY r.created_at DESC, r.id DESC LIMIT {w.arg(limit)}""",
        *w.args,
    )
    return [_request(r) for r in rows]


# -- offers ------------------------------------------------------------------------------------

_OFFER_COLUMNS = """o.id, o.request_id, o.user_id, o.message, o.skill, o.status, o.created_at, o.updated_at,
    o.counted_skill, p.display_name"""
_OFFER_FROM = "offers o LEFT JOIN people p ON p.user_id = o.user_id"


def _offer(row: asyncpg.Record) -> Offer:
    return Offer(
        id=row["id"],
        request_id=row["request_id"],
        user_id=row["user_id"],
        message=row["message"],
        skill=row["skill"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        counted_skill=row["counted_skill"],
        display_name=row["display_name"],
    )


async def get_offer(conn: asyncpg.Connection, offer_id: uuid.UUID, *, for_update: bool = False) -> Offer | None:
    row = await conn.fetchrow(
        f"SELECT {_OFFER_COLUMNS} FROM {_OFFER_FROM} WHERE o.id = $1" + (" FOR UPDATE OF o" if for_update else ""),
        offer_id,
    )
    return _offer(row) if row else None


async def has_live_offer(conn: asyncpg.Connection, *, request_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM offers WHERE request_id = $1 AND user_id = $2 AND status = ANY($3::text[])",
        request_id,
        user_id,
        list(LIVE_OFFER_STATUSES),
    )
    return bool(found)


async def insert_offer(conn: asyncpg.Connection, offer: Offer) -> None:
    try:
        await conn.execute(
            """INSERT INTO offers (id, request_id, user_id, message, skill, counted_skill, status, created_at,
                   updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            offer.id,
            offer.request_id,
            offer.user_id,
            offer.message,
            offer.skill,
            offer.counted_skill,
            offer.status,
            offer.created_at,
            offer.updated_at,
        )
    except asyncpg.UniqueViolationError as exc:
        raise AlreadyExists from exc


async def update_offer(conn: asyncpg.Connection, offer: Offer) -> None:
    await conn.execute(
        "UPDATE offers SET status = $2, counted_skill = $3, updated_at = $4 WHERE id = $1",
        offer.id,
        offer.status,
        offer.counted_skill,
        offer.updated_at,
    )


async def offers_on_request(
    conn: asyncpg.Connection,
    *,
    request_id: uuid.UUID,
    only_user: uuid.UUID | None,
    after: Cursor | None,
    limit: int,
) -> list[Offer]:
    w = _Where()
    w.add(f"o.request_id = {w.arg(request_id)}")
    if only_user is not None:
        w.add(f"o.user_id = {w.arg(only_user)}")
    if after is not None:
        w.add(f"(o.created_at, o.id) < ({w.arg(after[0])}, {w.arg(after[1])})")
    rows = await conn.fetch(
        f"""SELECT {_OFFER_COLUMNS} FROM {_OFFER_FROM} WHERE {w.sql()}
            ORDER BY o.created_at DESC, o.id DESC LIMIT {w.arg(limit)}""",
        *w.args,
    )
    return [_offer(r) for r in rows]


@dataclass(frozen=True)
class RequestBrief:
    """The request an offer or invitation belongs to, as the person's own lists show it."""

    title: str
    status: str


async def offers_by_user(
    conn: asyncpg.Connection, *, user_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[tuple[Offer, RequestBrief]]:
    w = _Where()
    w.add(f"o.user_id = {w.arg(user_id)}")
    if after is not None:
        w.add(f"(o.created_at, o.id) < ({w.arg(after[0])}, {w.arg(after[1])})")
    rows = await conn.fetch(
        f"""SELECT {_OFFER_COLUMNS}, r.title AS request_title, r.status AS request_status
            FROM {_OFFER_FROM} JOIN requests r ON r.id = o.request_id
            WHERE {w.sql()} ORDER BY o.created_at DESC, o.id DESC LIMIT {w.arg(limit)}""",
        *w.args,
    )
    return [(_offer(r), RequestBrief(r["request_title"], r["request_status"])) for r in rows]


# -- invitations -------------------------------------------------------------------------------


def _invitation(row: asyncpg.Record) -> Invitation:
    return Invitation(
        id=row["id"],
        request_id=row["request_id"],
        user_id=row["user_id"],
        invited_by=row["invited_by"],
        created_at=row["created_at"],
        display_name=row["display_name"],
    )


async def insert_invitation(conn: asyncpg.Connection, invitation: Invitation) -> None:
    try:
        await conn.execute(
            "INSERT INTO invitations (id, request_id, user_id, invited_by, created_at) VALUES ($1, $2, $3, $4, $5)",
            invitation.id,
            invitation.request_id,
            invitation.user_id,
            invitation.invited_by,
            invitation.created_at,
        )
    except asyncpg.UniqueViolationError as exc:
        raise AlreadyExists from exc


async def invitation_exists(conn: asyncpg.Connection, *, request_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM invitations WHERE request_id = $1 AND user_id = $2", request_id, user_id
    )
    return bool(found)


async def invitations_for_user(
    conn: asyncpg.Connection, *, user_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[tuple[Invitation, RequestBrief]]:
    w = _Where()
    w.add(f"i.user_id = {w.arg(user_id)}")
    if after is not None:
        w.add(f"(i.created_at, i.id) < ({w.arg(after[0])}, {w.arg(after[1])})")
    rows = await conn.fetch(
        f"""SELECT i.id, i.request_id, i.user_id, i.invited_by, i.created_at, p.display_name,
                   r.title AS request_title, r.status AS request_status
            FROM invitations i JOIN requests r ON r.id = i.request_id LEFT JOIN people p ON p.user_id = i.user_id
            WHERE {w.sql()} ORDER BY i.created_at DESC, i.id DESC LIMIT {w.arg(limit)}""",
        *w.args,
    )
    return [(_invitation(r), RequestBrief(r["request_title"], r["request_status"])) for r in rows]


# -- projections -------------------------------------------------------------------------------


async def known_skills(conn: asyncpg.Connection, slugs: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT slug FROM skills WHERE slug = ANY($1::text[])", list(slugs))
    return {r["slug"] for r in rows}


async def any_skill(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM skills)"))


async def display_name(conn: asyncpg.Connection, user_id: uuid.UUID) -> str | None:
    name: str | None = await conn.fetchval("SELECT display_name FROM people WHERE user_id = $1", user_id)
    return name


async def upsert_person(conn: asyncpg.Connection, *, user_id: uuid.UUID, display_name: str, as_of: datetime) -> None:
    """Record a display name unless a newer event already did."""
    await conn.execute(
        """INSERT INTO people (user_id, display_name, as_of) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE SET display_name = EXCLUDED.display_name, as_of = EXCLUDED.as_of
           WHERE people.as_of < EXCLUDED.as_of""",
        user_id,
        display_name,
        as_of,
    )


async def upsert_skill(conn: asyncpg.Connection, *, slug: str, name: str, category: str, as_of: datetime) -> None:
    await conn.execute(
        """INSERT INTO skills (slug, name, category, as_of) VALUES ($1, $2, $3, $4)
           ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category, as_of = EXCLUDED.as_of
           WHERE skills.as_of < EXCLUDED.as_of""",
        slug,
        name,
        category,
        as_of,
    )


# -- erasure and export -----------------------------------------------------------------------


async def live_offers_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(offer id, request id) of the person's pending and accepted offers, in request order."""
    rows = await conn.fetch(
        "SELECT id, request_id FROM offers WHERE user_id = $1 AND status = ANY($2::text[]) ORDER BY request_id, id",
        user_id,
        list(LIVE_OFFER_STATUSES),
    )
    return [(r["id"], r["request_id"]) for r in rows]


async def erase_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Everything of the person here, once their live offers are withdrawn: their offers and invitations go,
    invitations they sent and requests they own stay without naming them, their display name goes."""
    await conn.execute("DELETE FROM offers WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM invitations WHERE user_id = $1", user_id)
    await conn.execute("UPDATE invitations SET invited_by = NULL WHERE invited_by = $1", user_id)
    await conn.execute("UPDATE requests SET created_by = NULL WHERE created_by = $1", user_id)
    await conn.execute("DELETE FROM people WHERE user_id = $1", user_id)


async def offers_received_by(conn: asyncpg.Connection, owner: uuid.UUID) -> list[asyncpg.Record]:
    """Offers on the person's requests, by id only: no names or messages of the people offering."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT o.id, o.request_id, o.user_id, o.skill, o.status, o.created_at
           FROM offers o JOIN requests r ON r.id = o.request_id
           WHERE r.created_by = $1 ORDER BY o.created_at, o.id""",
        owner,
    )
    return rows


async def invitations_sent_by(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, request_id, user_id, created_at FROM invitations WHERE invited_by = $1 ORDER BY created_at, id",
        user_id,
    )
    return rows


# -- requests from X ---------------------------------------------------------------------------


async def request_from_source(
    conn: asyncpg.Connection, *, source: str, source_ref: str, for_update: bool = False
) -> HelpRequest | None:
    row = await conn.fetchrow(
        f"SELECT {_REQUEST_COLUMNS} FROM {_REQUEST_FROM} WHERE r.source = $1 AND r.source_ref = $2"
        + (" FOR UPDATE OF r" if for_update else ""),
        source,
        source_ref,
    )
    return _request(row) if row else None


async def skill_names(conn: asyncpg.Connection, slugs: Sequence[str]) -> dict[str, str]:
    """Name by slug, for the slugs the taxonomy projection knows."""
    rows = await conn.fetch("SELECT slug, name FROM skills WHERE slug = ANY($1::text[])", list(slugs))
    return {r["slug"]: r["name"] for r in rows}


async def remember_deleted_tweet(conn: asyncpg.Connection, tweet_id: str) -> None:
    await conn.execute("INSERT INTO deleted_tweets (tweet_id) VALUES ($1) ON CONFLICT DO NOTHING", tweet_id)


async def tweet_was_deleted(conn: asyncpg.Connection, tweet_id: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM deleted_tweets WHERE tweet_id = $1", tweet_id))
