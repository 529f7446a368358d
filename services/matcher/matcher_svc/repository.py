"""SQL for the matcher schema. Nothing else knows table names."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from lx_contracts.constituencies import all_constituencies
from matcher_svc.domain import Load, Need, Opening, Supporter, Window

# -- reference data ------------------------------------------------------------------------------


async def seed_constituencies(conn: asyncpg.Connection) -> None:
    """Write the centroids (once), then place any supporter stored before they were there."""
    have = await conn.fetchval("SELECT count(*) FROM constituencies")
    seats = all_constituencies()
    if have < len(seats):
        await conn.executemany(
            """INSERT INTO constituencies (code, nation, region, lat, lon) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (code) DO NOTHING""",
            [(c.code, c.nation, c.region, c.lat, c.lon) for c in seats],
        )
    await conn.execute(
        """UPDATE candidates c SET lat = k.lat, lon = k.lon FROM constituencies k
           WHERE c.lat IS NULL AND c.constituency_code = k.code"""
    )


async def skill_names(conn: asyncpg.Connection, slugs: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT slug, name FROM skill_names WHERE slug = ANY($1::text[])", list(slugs))
    return {r["slug"]: r["name"] for r in rows}


async def upsert_skill_name(conn: asyncpg.Connection, *, slug: str, name: str, as_of: datetime) -> None:
    await conn.execute(
        """INSERT INTO skill_names (slug, name, as_of) VALUES ($1, $2, $3)
           ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, as_of = EXCLUDED.as_of
           WHERE skill_names.as_of <= EXCLUDED.as_of""",
        slug,
        name,
        as_of,
    )


# -- people and profiles -------------------------------------------------------------------------


async def upsert_person(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    display_name: str,
    discoverable: bool,
    contact_by_x: bool,
    invited: bool,
    as_of: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO people (user_id, display_name, discoverable, contact_by_x, invited, as_of)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (user_id) DO UPDATE SET
               display_name = EXCLUDED.display_name, discoverable = EXCLUDED.discoverable,
               contact_by_x = EXCLUDED.contact_by_x, invited = EXCLUDED.invited, as_of = EXCLUDED.as_of
           WHERE people.as_of <= EXCLUDED.as_of""",
        user_id,
        display_name,
        discoverable,
        contact_by_x,
        invited,
        as_of,
    )


async def upsert_profile(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    constituency_code: str | None,
    travel_radius_km: int,
    remote_ok: bool,
    max_hours_per_week: int | None,
    availability: list[dict[str, str]],
    skills: dict[str, int],
    as_of: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO profiles (user_id, constituency_code, travel_radius_km, remote_ok, max_hours_per_week,
                                 availability, skills, as_of)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)
           ON CONFLICT (user_id) DO UPDATE SET
               constituency_code = EXCLUDED.constituency_code, travel_radius_km = EXCLUDED.travel_radius_km,
               remote_ok = EXCLUDED.remote_ok, max_hours_per_week = EXCLUDED.max_hours_per_week,
               availability = EXCLUDED.availability, skills = EXCLUDED.skills, as_of = EXCLUDED.as_of
           WHERE profiles.as_of <= EXCLUDED.as_of""",
        user_id,
        constituency_code,
        travel_radius_km,
        remote_ok,
        max_hours_per_week,
        availability,
        skills,
        as_of,
    )


async def refresh_candidate(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Re-derive this person's candidate rows from people and profiles, and move the supporter counts
    by the difference (a person counts in their constituency per skill while discoverable and claimed)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", str(user_id))
    before = await conn.fetch("DELETE FROM candidates WHERE user_id = $1 RETURNING constituency_code, slug", user_id)
    after = await conn.fetch(
        """INSERT INTO candidates (user_id, slug, level, constituency_code, lat, lon, travel_radius_km, remote_ok)
           SELECT p.user_id, s.key, s.value::int, p.constituency_code, k.lat, k.lon, p.travel_radius_km, p.remote_ok
           FROM profiles p
           JOIN people pe ON pe.user_id = p.user_id AND pe.discoverable AND NOT pe.invited
           CROSS JOIN LATERAL jsonb_each_text(p.skills) AS s(key, value)
           LEFT JOIN constituencies k ON k.code = p.constituency_code
           WHERE p.user_id = $1
           RETURNING constituency_code, slug""",
        user_id,
    )
    old = {(r["constituency_code"], r["slug"]) for r in before if r["constituency_code"] is not None}
    new = {(r["constituency_code"], r["slug"]) for r in after if r["constituency_code"] is not None}
    changes = [(code, slug, -1) for code, slug in old - new] + [(code, slug, 1) for code, slug in new - old]
    await _bump(conn, "stat_supporters", "n", changes)


async def _bump(conn: asyncpg.Connection, table: str, column: str, changes: list[tuple[str, str, int]]) -> None:
    """Add to counters keyed (constituency_code, key); rows that reach zero go."""
    key = "status" if table == "stat_requests" else "slug"
    for code, k, delta in sorted(changes):
        if delta == 0:
            continue
        await conn.execute(
            f"""INSERT INTO {table} (constituency_code, {key}, {column}) VALUES ($1, $2, $3)
                ON CONFLICT (constituency_code, {key}) DO UPDATE SET {column} = {table}.{column} + EXCLUDED.{column}""",
            code,
            k,
            delta,
        )
    await conn.execute(f"DELETE FROM {table} WHERE {column} = 0")


# -- requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFootprint:
    """What a request adds to the statistics: its status, and (while open) the people it needs per skill."""

    code: str | None
    status: str | None
    demand: tuple[tuple[str, int], ...]


async def _footprint(conn: asyncpg.Connection, request_id: uuid.UUID) -> RequestFootprint:
    row = await conn.fetchrow(
        "SELECT constituency_code, status FROM requests WHERE request_id = $1 AND title IS NOT NULL", request_id
    )
    if row is None:
        return RequestFootprint(None, None, ())
    demand: tuple[tuple[str, int], ...] = ()
    if row["status"] == "open":
        rows = await conn.fetch("SELECT slug, people FROM request_skills WHERE request_id = $1", request_id)
        demand = tuple((r["slug"], r["people"]) for r in rows)
    return RequestFootprint(row["constituency_code"], row["status"], demand)


async def _move_stats(conn: asyncpg.Connection, before: RequestFootprint, after: RequestFootprint) -> None:
    statuses: list[tuple[str, str, int]] = []
    if before.code is not None and before.status is not None:
        statuses.append((before.code, before.status, -1))
    if after.code is not None and after.status is not None:
        statuses.append((after.code, after.status, 1))
    await _bump(conn, "stat_requests", "n", _net(statuses))
    demand = [(before.code, s, -n) for s, n in before.demand if before.code] + [
        (after.code, s, n) for s, n in after.demand if after.code
    ]
    await _bump(conn, "stat_demand", "people", _net(demand))  # type: ignore[arg-type]


def _net(changes: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    total: dict[tuple[str, str], int] = {}
    for code, k, d in changes:
        total[(code, k)] = total.get((code, k), 0) + d
    return [(code, k, d) for (code, k), d in total.items() if d]


async def lock_request(conn: asyncpg.Connection, request_id: uuid.UUID) -> RequestFootprint:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 1))", str(request_id))
    return await _footprint(conn, request_id)


async def apply_request_state(conn: asyncpg.Connection, *, state: dict[str, Any], as_of: datetime) -> bool:
    """Apply a whole-state event unless a newer one has been; True if it was applied."""
    rid = state["request_id"]
    before = await lock_request(conn, rid)
    applied = await conn.fetchval(
        """INSERT INTO requests (request_id, title, constituency_code, remote_ok, starts_at, ends_at, urgency,
                                 state_status, source, created_by, created_at, people_needed, people_accepted,
                                 state_as_of)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (request_id) DO UPDATE SET
               title = EXCLUDED.title, constituency_code = EXCLUDED.constituency_code,
               remote_ok = EXCLUDED.remote_ok, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
               urgency = EXCLUDED.urgency, state_status = EXCLUDED.state_status, source = EXCLUDED.source,
               created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at,
               people_needed = EXCLUDED.people_needed, people_accepted = EXCLUDED.people_accepted,
               state_as_of = EXCLUDED.state_as_of
           WHERE requests.state_as_of IS NULL OR requests.state_as_of <= EXCLUDED.state_as_of
           RETURNING true""",
        rid,
        state["title"],
        state["constituency_code"],
        state["remote_ok"],
        state["starts_at"],
        state["ends_at"],
        state["urgency"],
        state["status"],
        state["source"],
        state["created_by"],
        state["created_at"],
        state["people_needed"],
        state["people_accepted"],
        as_of,
    )
    if not applied:
        return False
    await conn.execute("DELETE FROM request_skills WHERE request_id = $1", rid)
    await conn.executemany(
        "INSERT INTO request_skills (request_id, slug, min_level, people) VALUES ($1, $2, $3, $4)",
        [(rid, s["slug"], s["min_level"], s["people"]) for s in state["skills"]],
    )
    await conn.execute(
        """UPDATE requests SET
               filled_at = least(
                   CASE WHEN state_status = 'filled' THEN least(filled_at, $2) ELSE filled_at END,
                   (SELECT min(filled_at) FROM offers WHERE offers.request_id = $1)),
               first_offer_at = (SELECT min(made_at) FROM offers WHERE offers.request_id = $1)
           WHERE request_id = $1""",
        rid,
        as_of,
    )
    await _settle_status(conn, rid, before)
    return True


async def apply_request_closed(
    conn: asyncpg.Connection, *, request_id: uuid.UUID, outcome: str, closed_at: datetime
) -> None:
    """Closing is final: the outcome sticks whatever state event comes later."""
    before = await lock_request(conn, request_id)
    await conn.execute(
        """INSERT INTO requests (request_id, outcome, closed_at) VALUES ($1, $2, $3)
           ON CONFLICT (request_id) DO UPDATE SET outcome = EXCLUDED.outcome, closed_at = EXCLUDED.closed_at
           WHERE requests.closed_at IS NULL OR requests.closed_at > EXCLUDED.closed_at""",
        request_id,
        outcome,
        closed_at,
    )
    await _settle_status(conn, request_id, before)


async def _settle_status(conn: asyncpg.Connection, request_id: uuid.UUID, before: RequestFootprint) -> None:
    await conn.execute(
        """UPDATE requests SET status = CASE
               WHEN outcome = 'completed' THEN 'completed'
               WHEN outcome IS NOT NULL THEN 'cancelled'
               ELSE state_status END
           WHERE request_id = $1""",
        request_id,
    )
    await _move_stats(conn, before, await _footprint(conn, request_id))


async def note_filled(conn: asyncpg.Connection, *, offer_id: uuid.UUID, request_id: uuid.UUID, at: datetime) -> None:
    """Accepting this offer filled its request: remember it on the offer, and on the request if known."""
    await conn.execute("UPDATE offers SET filled_at = least(filled_at, $2) WHERE offer_id = $1", offer_id, at)
    await conn.execute("UPDATE requests SET filled_at = least(filled_at, $2) WHERE request_id = $1", request_id, at)


# -- offers and invitations ----------------------------------------------------------------------

OFFER_ORDER = {"pending": 0, "accepted": 1, "declined": 1, "withdrawn": 2}


async def apply_offer(
    conn: asyncpg.Connection,
    *,
    offer_id: uuid.UUID,
    request_id: uuid.UUID,
    user_id: uuid.UUID,
    status: str,
    at: datetime,
    made: bool,
) -> None:
    """The offer's newest status wins (by the event's `at`); its making time is kept for the statistics."""
    await conn.execute(
        """INSERT INTO offers (offer_id, request_id, user_id, status, made_at, as_of)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (offer_id) DO UPDATE SET
               status = CASE WHEN offers.as_of <= EXCLUDED.as_of THEN EXCLUDED.status ELSE offers.status END,
               as_of = greatest(offers.as_of, EXCLUDED.as_of),
               made_at = coalesce(EXCLUDED.made_at, offers.made_at)""",
        offer_id,
        request_id,
        user_id,
        status,
        at if made else None,
        at,
    )
    if made:
        await conn.execute(
            """UPDATE requests SET first_offer_at = least(coalesce(first_offer_at, $2), $2)
               WHERE request_id = $1""",
            request_id,
            at,
        )


async def add_invitation(
    conn: asyncpg.Connection, *, invitation_id: uuid.UUID, request_id: uuid.UUID, user_id: uuid.UUID, at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO invitations (invitation_id, request_id, user_id, at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (invitation_id) DO NOTHING""",
        invitation_id,
        request_id,
        user_id,
        at,
    )


# -- reading requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    opening: Opening
    status: str


async def get_request(conn: asyncpg.Connection, request_id: uuid.UUID) -> RequestRow | None:
    row = await conn.fetchrow(
        """SELECT request_id, title, constituency_code, remote_ok, starts_at, ends_at, created_by, status
           FROM requests WHERE request_id = $1 AND title IS NOT NULL""",
        request_id,
    )
    if row is None:
        return None
    needs = await conn.fetch(
        "SELECT slug, min_level FROM request_skills WHERE request_id = $1 ORDER BY slug", request_id
    )
    return RequestRow(
        Opening(
            id=row["request_id"],
            constituency_code=row["constituency_code"],
            remote_ok=row["remote_ok"],
            needs=tuple(Need(n["slug"], n["min_level"]) for n in needs),
            created_by=row["created_by"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            title=row["title"],
        ),
        row["status"],
    )


async def get_openings(conn: asyncpg.Connection, request_ids: list[uuid.UUID]) -> dict[uuid.UUID, Opening]:
    """Several requests at once, in two queries."""
    rows = await conn.fetch(
        """SELECT request_id, title, constituency_code, remote_ok, starts_at, ends_at, created_by
           FROM requests WHERE request_id = ANY($1::uuid[]) AND title IS NOT NULL""",
        request_ids,
    )
    needs: dict[uuid.UUID, list[Need]] = {}
    for n in await conn.fetch(
        "SELECT request_id, slug, min_level FROM request_skills WHERE request_id = ANY($1::uuid[]) ORDER BY slug",
        request_ids,
    ):
        needs.setdefault(n["request_id"], []).append(Need(n["slug"], n["min_level"]))
    return {
        r["request_id"]: Opening(
            id=r["request_id"],
            constituency_code=r["constituency_code"],
            remote_ok=r["remote_ok"],
            needs=tuple(needs.get(r["request_id"], ())),
            created_by=r["created_by"],
            starts_at=r["starts_at"],
            ends_at=r["ends_at"],
            title=r["title"],
        )
        for r in rows
    }


# -- candidates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    supporter: Supporter
    km: float | None


async def max_travel_radius(conn: asyncpg.Connection) -> int:
    """The longest travel radius any candidate has (an index lookup): nobody farther can reach a request."""
    found = await conn.fetchval("SELECT max(travel_radius_km) FROM candidates")
    return int(found or 0)


async def find_candidates(
    conn: asyncpg.Connection,
    opening: Opening,
    *,
    lat: float,
    lon: float,
    nearby: Sequence[tuple[str, float]],
    pool_size: int,
) -> list[Found]:
    """The contract's candidates for a request, best `pool_size` by a coarse SQL order (skills covered,
    same place, distance, levels); the domain then scores those few precisely.

    Two index-backed halves: holders of a needed skill in `nearby` constituencies ((code, km) for every
    one whose centroid is within the longest travel radius anyone has), each checked against their own
    radius; and, for a remote request, remote holders anywhere, the highest levels first and at most
    `pool_size` per skill (they rank below local people on location, so more are never needed)."""
    if not opening.needs:
        return []
    rows = await conn.fetch(
        """WITH needs AS (SELECT * FROM unnest($2::text[], $3::int[]) AS n(slug, min_level)),
           places AS (SELECT * FROM unnest($10::text[], $11::float8[]) AS d(code, km)),
           near AS (
               SELECT c.user_id, c.slug, c.level, c.constituency_code, c.travel_radius_km, c.remote_ok, d.km
               FROM needs n CROSS JOIN places d JOIN candidates c
                 ON c.slug = n.slug AND c.constituency_code = d.code AND c.travel_radius_km >= d.km
                    AND c.level >= n.min_level
           ),
           far AS (
               SELECT x.* FROM needs n CROSS JOIN LATERAL (
                   SELECT c.user_id, c.slug, c.level, c.constituency_code, c.travel_radius_km, c.remote_ok,
                          CASE WHEN c.lat IS NULL THEN NULL ELSE km_between(c.lat, c.lon, $5, $6) END AS km
                   FROM candidates c
                   WHERE $8 AND c.remote_ok AND c.slug = n.slug AND c.level >= n.min_level
                   ORDER BY c.level DESC
                   LIMIT $9
               ) x
           ),
           hits AS (SELECT * FROM near UNION SELECT * FROM far)
           SELECT h.user_id, min(h.constituency_code) AS constituency_code, min(h.travel_radius_km) AS radius,
                  bool_or(h.remote_ok) AS remote_ok, min(h.km) AS km
           FROM hits h
           WHERE h.user_id IS DISTINCT FROM $7
             AND (h.constituency_code = $4 OR h.km <= h.travel_radius_km OR ($8 AND h.remote_ok))
             AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.request_id = $1 AND o.user_id = h.user_id)
           GROUP BY h.user_id
           ORDER BY count(*) DESC, bool_or(h.constituency_code = $4) DESC, min(h.km) ASC NULLS LAST,
                    sum(h.level) DESC, h.user_id
           LIMIT $9""",
        opening.id,
        [n.slug for n in opening.needs],
        [n.min_level for n in opening.needs],
        opening.constituency_code,
        lat,
        lon,
        opening.created_by,
        opening.remote_ok,
        pool_size,
        [code for code, _ in nearby],
        [km for _, km in nearby],
    )
    if not rows:
        return []
    details = await _supporters(conn, [r["user_id"] for r in rows])
    return [Found(details[r["user_id"]], r["km"]) for r in rows if r["user_id"] in details]


async def _supporters(conn: asyncpg.Connection, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Supporter]:
    rows = await conn.fetch(
        """SELECT p.user_id, p.constituency_code, p.travel_radius_km, p.remote_ok, p.availability, p.skills,
                  pe.display_name, pe.discoverable, pe.invited
           FROM profiles p JOIN people pe USING (user_id) WHERE p.user_id = ANY($1::uuid[])""",
        user_ids,
    )
    return {r["user_id"]: _supporter(r) for r in rows}


def _supporter(r: asyncpg.Record) -> Supporter:
    return Supporter(
        user_id=r["user_id"],
        constituency_code=r["constituency_code"],
        travel_radius_km=r["travel_radius_km"],
        remote_ok=r["remote_ok"],
        skills={k: int(v) for k, v in r["skills"].items()},
        availability=tuple(Window(w["day"], w["start"], w["end"]) for w in r["availability"]),
        display_name=r["display_name"],
        discoverable=r["discoverable"],
        invited=r["invited"],
    )


async def get_supporter(conn: asyncpg.Connection, user_id: uuid.UUID) -> Supporter | None:
    return (await _supporters(conn, [user_id])).get(user_id)


async def loads(
    conn: asyncpg.Connection, user_ids: list[uuid.UUID], *, exclude_request: uuid.UUID | None, since: datetime
) -> dict[uuid.UUID, Load]:
    """Accepted offers on other live (open or filled) requests, and invitations since `since`."""
    busy = await conn.fetch(
        """SELECT o.user_id, count(*) AS n FROM offers o JOIN requests r USING (request_id)
           WHERE o.user_id = ANY($1::uuid[]) AND o.status = 'accepted' AND r.status IN ('open', 'filled')
             AND o.request_id IS DISTINCT FROM $2
           GROUP BY o.user_id""",
        user_ids,
        exclude_request,
    )
    invited = await conn.fetch(
        """SELECT user_id, count(*) AS n FROM invitations
           WHERE user_id = ANY($1::uuid[]) AND at >= $2 AND request_id IS DISTINCT FROM $3
           GROUP BY user_id""",
        user_ids,
        since,
        exclude_request,
    )
    a = {r["user_id"]: r["n"] for r in busy}
    i = {r["user_id"]: r["n"] for r in invited}
    return {u: Load(accepted_elsewhere=a.get(u, 0), recent_invitations=i.get(u, 0)) for u in user_ids}


# -- opportunities -------------------------------------------------------------------------------


async def find_opportunities(
    conn: asyncpg.Connection, me: Supporter, *, lat: float | None, lon: float | None, pool_size: int
) -> list[tuple[Opening, float | None]]:
    """Open requests this person could help with: a skill at its level, within reach, not their own,
    not one they offered on (or were declined from)."""
    if not me.skills:
        return []
    rows = await conn.fetch(
        """WITH mine AS (SELECT * FROM unnest($2::text[], $3::int[]) AS m(slug, level)),
           hits AS (
               SELECT DISTINCT rs.request_id FROM request_skills rs
               JOIN mine m ON rs.slug = m.slug AND rs.min_level <= m.level
           )
           SELECT r.request_id, r.constituency_code, r.remote_ok,
                  CASE WHEN $5::float8 IS NULL THEN NULL ELSE km_between(k.lat, k.lon, $5, $6) END AS km
           FROM hits h JOIN requests r USING (request_id)
           LEFT JOIN constituencies k ON k.code = r.constituency_code
           WHERE r.status = 'open' AND r.created_by IS DISTINCT FROM $1
             AND (r.constituency_code = $4
                  OR ($5::float8 IS NOT NULL AND km_between(k.lat, k.lon, $5, $6) <= $7)
                  OR (r.remote_ok AND $8))
             AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.request_id = r.request_id AND o.user_id = $1)
           ORDER BY (r.constituency_code = $4) DESC, km ASC NULLS LAST, r.created_at DESC, r.request_id
           LIMIT $9""",
        me.user_id,
        list(me.skills),
        list(me.skills.values()),
        me.constituency_code,
        lat,
        lon,
        me.travel_radius_km if me.constituency_code is not None else -1,
        me.remote_ok,
        pool_size,
    )
    openings = await get_openings(conn, [r["request_id"] for r in rows])
    return [(openings[r["request_id"]], r["km"]) for r in rows if r["request_id"] in openings]


# -- proposals -----------------------------------------------------------------------------------


async def claim_proposal_run(conn: asyncpg.Connection, request_id: uuid.UUID, at: datetime) -> bool:
    """True the first time a request is considered for proposals."""
    return bool(
        await conn.fetchval(
            "INSERT INTO proposal_runs (request_id, run_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
            request_id,
            at,
        )
    )


async def recent_proposals(
    conn: asyncpg.Connection, user_ids: list[uuid.UUID], *, since: datetime
) -> dict[uuid.UUID, int]:
    rows = await conn.fetch(
        """SELECT user_id, count(*) AS n FROM proposals WHERE user_id = ANY($1::uuid[]) AND proposed_at > $2
           GROUP BY user_id""",
        user_ids,
        since,
    )
    return {r["user_id"]: r["n"] for r in rows}


async def add_proposal(
    conn: asyncpg.Connection, *, request_id: uuid.UUID, user_id: uuid.UUID, score: float, at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO proposals (request_id, user_id, score, proposed_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        request_id,
        user_id,
        score,
        at,
    )


# -- erasure and export -------------------------------------------------------------------------


# Stands for an erased person in the offers they made: those rows count in the statistics, naming no one.
NO_ONE = uuid.UUID(int=0)


async def erase_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Everything derived from or about the person. Their candidate rows go through `refresh_candidate`, so
    the supporter counts move as for anyone who stops being matchable; request counters are aggregates
    and stay. Requests they own stay, naming no owner."""
    await conn.execute("DELETE FROM people WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM profiles WHERE user_id = $1", user_id)
    await refresh_candidate(conn, user_id)
    # Offers carry the requests' timings (first offer, filled) that the statistics recompute from: they stay,
    # naming no one.
    await conn.execute("UPDATE offers SET user_id = $2 WHERE user_id = $1", user_id, NO_ONE)
    await conn.execute("DELETE FROM invitations WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM proposals WHERE user_id = $1", user_id)
    await conn.execute("UPDATE requests SET created_by = NULL WHERE created_by = $1", user_id)


async def export_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any]:
    """What the matcher holds about the person, as plain JSON-ready values."""
    person = await conn.fetchrow(
        "SELECT display_name, discoverable, contact_by_x, invited FROM people WHERE user_id = $1", user_id
    )
    profile = await conn.fetchrow(
        """SELECT constituency_code, travel_radius_km, remote_ok, max_hours_per_week, availability, skills
           FROM profiles WHERE user_id = $1""",
        user_id,
    )
    candidates = await conn.fetch(
        """SELECT slug, level, constituency_code, travel_radius_km, remote_ok FROM candidates
           WHERE user_id = $1 ORDER BY slug""",
        user_id,
    )
    proposals = await conn.fetch(
        "SELECT request_id, score, proposed_at FROM proposals WHERE user_id = $1 ORDER BY proposed_at, request_id",
        user_id,
    )
    offers = await conn.fetch(
        "SELECT offer_id, request_id, status, made_at FROM offers WHERE user_id = $1 ORDER BY made_at, offer_id",
        user_id,
    )
    invitations = await conn.fetch(
        "SELECT invitation_id, request_id, at FROM invitations WHERE user_id = $1 ORDER BY at, invitation_id",
        user_id,
    )
    owned = await conn.fetch(
        "SELECT request_id, title, status FROM requests WHERE created_by = $1 ORDER BY created_at, request_id",
        user_id,
    )
    return {
        "account_copy": dict(person) if person else None,
        "profile": dict(profile) if profile else None,
        "candidate_entries": [dict(r) for r in candidates],
        "proposals": [dict(r) for r in proposals],
        "offers": [dict(r) for r in offers],
        "invitations": [dict(r) for r in invitations],
        "requests": [dict(r) for r in owned],
    }


# -- statistics ----------------------------------------------------------------------------------


async def request_counts(conn: asyncpg.Connection, codes: Sequence[str] | None) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        """SELECT constituency_code, status, n FROM stat_requests
           WHERE $1::text[] IS NULL OR constituency_code = ANY($1::text[])""",
        list(codes) if codes is not None else None,
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["constituency_code"], {})[r["status"]] = r["n"]
    return out


async def supporter_counts(conn: asyncpg.Connection, codes: Sequence[str] | None) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        """SELECT constituency_code, slug, n FROM stat_supporters
           WHERE $1::text[] IS NULL OR constituency_code = ANY($1::text[])""",
        list(codes) if codes is not None else None,
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["constituency_code"], {})[r["slug"]] = r["n"]
    return out


async def demand(conn: asyncpg.Connection, codes: Sequence[str] | None) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        """SELECT constituency_code, slug, people FROM stat_demand
           WHERE $1::text[] IS NULL OR constituency_code = ANY($1::text[])""",
        list(codes) if codes is not None else None,
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["constituency_code"], {})[r["slug"]] = r["people"]
    return out


async def durations(
    conn: asyncpg.Connection, codes: Sequence[str] | None
) -> list[tuple[str, float | None, float | None]]:
    """Per request: (constituency, hours to first offer, hours to filled), where known."""
    rows = await conn.fetch(
        """SELECT constituency_code,
                  extract(epoch FROM first_offer_at - created_at) / 3600.0 AS to_offer,
                  extract(epoch FROM filled_at - created_at) / 3600.0 AS to_filled
           FROM requests
           WHERE title IS NOT NULL AND (first_offer_at IS NOT NULL OR filled_at IS NOT NULL)
             AND ($1::text[] IS NULL OR constituency_code = ANY($1::text[]))""",
        list(codes) if codes is not None else None,
    )
    return [
        (
            r["constituency_code"],
            max(0.0, float(r["to_offer"])) if r["to_offer"] is not None else None,
            max(0.0, float(r["to_filled"])) if r["to_filled"] is not None else None,
        )
        for r in rows
    ]


PROJECTION_TABLES = (
    "people",
    "profiles",
    "candidates",
    "requests",
    "request_skills",
    "offers",
    "invitations",
    "skill_names",
    "stat_requests",
    "stat_supporters",
    "stat_demand",
)


def recent_window(at: datetime, hours: float) -> datetime:
    return at - timedelta(hours=hours)
