"""SQL for the skills schema. Nothing else knows table names."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from skills_svc.domain import Profile, Skill, SkillLevel, Window, canonical_skills, canonical_windows


class SkillTaken(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


# -- the taxonomy --------------------------------------------------------------------------------


def _skill(row: asyncpg.Record) -> Skill:
    return Skill(
        slug=row["slug"],
        name=row["name"],
        category=row["category"],
        description=row["description"],
        synonyms=tuple(row["synonyms"]),
    )


async def list_skills(conn: asyncpg.Connection) -> list[Skill]:
    rows = await conn.fetch("SELECT slug, name, category, description, synonyms FROM skills ORDER BY name, slug")
    return [_skill(r) for r in rows]


async def known_slugs(conn: asyncpg.Connection, slugs: Iterable[str]) -> set[str]:
    """Which of these slugs are in the taxonomy."""
    wanted = sorted(set(slugs))
    if not wanted:
        return set()
    rows = await conn.fetch("SELECT slug FROM skills WHERE slug = ANY($1::text[])", wanted)
    return {r["slug"] for r in rows}


async def all_slugs(conn: asyncpg.Connection) -> set[str]:
    return {r["slug"] for r in await conn.fetch("SELECT slug FROM skills")}


async def insert_skill(conn: asyncpg.Connection, skill: Skill) -> None:
    """Add a skill, marked announced: the caller writes its event in the same transaction."""
    try:
        await conn.execute(
            """INSERT INTO skills (slug, name, category, description, synonyms, announced_at)
               VALUES ($1, $2, $3, $4, $5, now())""",
            skill.slug,
            skill.name,
            skill.category,
            skill.description,
            list(skill.synonyms),
        )
    except asyncpg.UniqueViolationError as exc:
        raise SkillTaken("name" if exc.constraint_name == "skills_name_lower" else "slug") from exc


async def claim_unannounced_skills(conn: asyncpg.Connection) -> list[Skill]:
    """Lock the skills whose skill-added event is not yet written; another replica skips them."""
    rows = await conn.fetch(
        """SELECT slug, name, category, description, synonyms FROM skills
           WHERE announced_at IS NULL ORDER BY created_at, slug FOR UPDATE SKIP LOCKED"""
    )
    return [_skill(r) for r in rows]


async def mark_announced(conn: asyncpg.Connection, slugs: Sequence[str]) -> None:
    await conn.execute("UPDATE skills SET announced_at = now() WHERE slug = ANY($1::text[])", list(slugs))


# -- profiles ------------------------------------------------------------------------------------


def _windows(raw: list[dict[str, str]]) -> tuple[Window, ...]:
    return canonical_windows(Window(w["day"], w["start"], w["end"]) for w in raw)


async def _skills_of(conn: asyncpg.Connection, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[SkillLevel]]:
    rows = await conn.fetch(
        "SELECT user_id, slug, level, note FROM profile_skills WHERE user_id = ANY($1::uuid[])", list(user_ids)
    )
    by_user: dict[uuid.UUID, list[SkillLevel]] = {}
    for r in rows:
        by_user.setdefault(r["user_id"], []).append(SkillLevel(r["slug"], r["level"], r["note"]))
    return by_user


_PROFILE_COLUMNS = "user_id, constituency_code, travel_radius_km, remote_ok, max_hours_per_week, availability"


def _profile(row: asyncpg.Record, skills: list[SkillLevel]) -> Profile:
    return Profile(
        constituency_code=row["constituency_code"],
        travel_radius_km=row["travel_radius_km"],
        remote_ok=row["remote_ok"],
        max_hours_per_week=row["max_hours_per_week"],
        availability=_windows(row["availability"]),
        skills=canonical_skills(skills),
    )


async def get_profile(conn: asyncpg.Connection, user_id: uuid.UUID) -> Profile | None:
    row = await conn.fetchrow(f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE user_id = $1", user_id)
    if row is None:
        return None
    return _profile(row, (await _skills_of(conn, [user_id])).get(user_id, []))


async def lock_profiles(conn: asyncpg.Connection, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Profile | None]:
    """Lock these people's profiles for a change, creating empty ones where none exist.

    Returns what each held before: None where the profile is new. Locking in id order keeps two
    concurrent writers from deadlocking; creating the row first serialises two first-time writers.
    """
    ids = sorted(set(user_ids))
    created = await conn.fetch(
        """INSERT INTO profiles (user_id) SELECT unnest($1::uuid[]) ORDER BY 1
           ON CONFLICT (user_id) DO NOTHING RETURNING user_id""",
        ids,
    )
    new = {r["user_id"] for r in created}
    rows = await conn.fetch(
        f"SELECT {_PROFILE_COLUMNS} FROM profiles WHERE user_id = ANY($1::uuid[]) ORDER BY user_id FOR UPDATE", ids
    )
    skills = await _skills_of(conn, [r["user_id"] for r in rows if r["user_id"] not in new])
    found: dict[uuid.UUID, Profile | None] = dict.fromkeys(ids)
    for r in rows:
        if r["user_id"] not in new:
            found[r["user_id"]] = _profile(r, skills.get(r["user_id"], []))
    return found


async def save_profiles(conn: asyncpg.Connection, profiles: dict[uuid.UUID, Profile]) -> None:
    """Replace these (locked) profiles, skills and all."""
    if not profiles:
        return
    await conn.executemany(
        """UPDATE profiles SET constituency_code = $2, travel_radius_km = $3, remote_ok = $4,
                  max_hours_per_week = $5, availability = $6, updated_at = now()
           WHERE user_id = $1""",
        [
            (
                user_id,
                p.constituency_code,
                p.travel_radius_km,
                p.remote_ok,
                p.max_hours_per_week,
                [{"day": w.day, "start": w.start, "end": w.end} for w in p.availability],
            )
            for user_id, p in profiles.items()
        ],
    )
    await conn.execute("DELETE FROM profile_skills WHERE user_id = ANY($1::uuid[])", list(profiles))
    await conn.copy_records_to_table(
        "profile_skills",
        records=[(user_id, s.slug, s.level, s.note) for user_id, p in profiles.items() for s in p.skills],
        columns=["user_id", "slug", "level", "note"],
    )


# -- people --------------------------------------------------------------------------------------


async def record_registered(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    display_name: str,
    discoverable: bool,
    contact_by_x: bool,
    invited: bool,
    as_of: datetime,
) -> None:
    """Apply identity's account as of `as_of`, unless a newer event has already been applied."""
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


async def record_updated(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    display_name: str,
    discoverable: bool,
    contact_by_x: bool,
    as_of: datetime,
) -> None:
    """Apply a change of name or consents; it also means the account is no longer an unclaimed invitation
    (identity updates an invited account only when the person claims it)."""
    await conn.execute(
        """INSERT INTO people (user_id, display_name, discoverable, contact_by_x, invited, as_of)
           VALUES ($1, $2, $3, $4, false, $5)
           ON CONFLICT (user_id) DO UPDATE SET
               display_name = EXCLUDED.display_name, discoverable = EXCLUDED.discoverable,
               contact_by_x = EXCLUDED.contact_by_x, invited = false, as_of = EXCLUDED.as_of
           WHERE people.as_of <= EXCLUDED.as_of""",
        user_id,
        display_name,
        discoverable,
        contact_by_x,
        as_of,
    )


async def person_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    """This service's copy of what identity says about the person."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT display_name, discoverable, contact_by_x, invited FROM people WHERE user_id = $1", user_id
    )
    return row


async def erase_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Erasure: the profile (its skills go with it) and the copy of the account."""
    await conn.execute("DELETE FROM profiles WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM people WHERE user_id = $1", user_id)


# -- organiser search ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Supporter:
    user_id: uuid.UUID
    display_name: str
    constituency_code: str | None
    skills: tuple[SkillLevel, ...]


async def search_supporters(
    conn: asyncpg.Connection,
    *,
    constituency_code: str | None,
    skill: str | None,
    min_level: int,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[Supporter]:
    """Discoverable people with a profile, by name; with `skill`, only those holding it at `min_level` or
    above; without it, a `min_level` above 1 asks for some skill at that level."""
    rows = await conn.fetch(
        """SELECT pe.user_id, pe.display_name, pr.constituency_code
           FROM people pe JOIN profiles pr ON pr.user_id = pe.user_id
           WHERE pe.discoverable
             AND ($1::text IS NULL OR pr.constituency_code = $1)
             AND ($2::text IS NULL OR EXISTS (
                   SELECT 1 FROM profile_skills ps
                   WHERE ps.user_id = pe.user_id AND ps.slug = $2 AND ps.level >= $3))
             AND ($2::text IS NOT NULL OR $3 <= 1 OR EXISTS (
                   SELECT 1 FROM profile_skills ps WHERE ps.user_id = pe.user_id AND ps.level >= $3))
             AND ($4::text IS NULL OR (pe.display_name, pe.user_id) > ($4, $5::uuid))
           ORDER BY pe.display_name, pe.user_id
           LIMIT $6""",
        constituency_code,
        skill,
        min_level,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    skills = await _skills_of(conn, [r["user_id"] for r in rows])
    return [
        Supporter(
            user_id=r["user_id"],
            display_name=r["display_name"],
            constituency_code=r["constituency_code"],
            skills=tuple(SkillLevel(s.slug, s.level) for s in canonical_skills(skills.get(r["user_id"], []))),
        )
        for r in rows
    ]
