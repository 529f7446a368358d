"""Skills use cases: each runs in one transaction and writes its events to the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import httpx

from lx_contracts import skills as ev
from lx_contracts import topics
from lx_platform import audit, erasure
from lx_platform.outbox import enqueue
from skills_svc import repository as repo
from skills_svc.domain import (
    EMPTY_PROFILE,
    FieldError,
    ImportRow,
    Profile,
    RowError,
    Skill,
    SkillInput,
    WindowInput,
    check_new_skill,
    check_profile,
    decode_csv,
    parse_import,
)

SERVICE = "skills"


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


class Erased(Exception):
    """The caller's account was erased; their token has only minutes left and may create nothing."""


class UpstreamFailed(Exception):
    """Identity did not give a usable answer; `status` is what the caller should answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Deps:
    """What the routes hand to the use cases."""

    db: asyncpg.Pool
    identity_url: str
    identity_timeout_s: float
    import_max_rows: int


# -- the taxonomy --------------------------------------------------------------------------------


def _skill_added(skill: Skill) -> ev.SkillAdded:
    return ev.SkillAdded(slug=skill.slug, name=skill.name, category=skill.category, synonyms=list(skill.synonyms))


async def list_skills(*, db: asyncpg.Pool) -> list[Skill]:
    async with db.acquire() as conn:
        return await repo.list_skills(conn)


async def add_skill(
    *, db: asyncpg.Pool, slug: str, name: str, category: str, description: str, synonyms: Sequence[str]
) -> Skill:
    skill = check_new_skill(slug=slug, name=name, category=category, description=description, synonyms=synonyms)
    async with db.acquire() as conn, conn.transaction():
        await repo.insert_skill(conn, skill)
        await enqueue(
            conn, topic=topics.SKILL_ADDED.name, service=SERVICE, subject=skill.slug, data=_skill_added(skill)
        )
    return skill


async def announce_skills(*, db: asyncpg.Pool) -> int:
    """Publish skills.skill-added.v1 for every skill not yet announced (the seeded ones); safe to repeat."""
    async with db.acquire() as conn, conn.transaction():
        pending = await repo.claim_unannounced_skills(conn)
        for skill in pending:
            await enqueue(
                conn, topic=topics.SKILL_ADDED.name, service=SERVICE, subject=skill.slug, data=_skill_added(skill)
            )
        await repo.mark_announced(conn, [s.slug for s in pending])
    return len(pending)


# -- profiles ------------------------------------------------------------------------------------


def _profile_updated(user_id: uuid.UUID, profile: Profile) -> ev.ProfileUpdated:
    return ev.ProfileUpdated(
        user_id=user_id,
        constituency_code=profile.constituency_code,
        travel_radius_km=profile.travel_radius_km,
        remote_ok=profile.remote_ok,
        max_hours_per_week=profile.max_hours_per_week,
        availability=[
            ev.AvailabilityWindow.model_validate({"day": w.day, "start": w.start, "end": w.end})
            for w in profile.availability
        ],
        skills=[ev.SkillLevel(slug=s.slug, level=s.level) for s in profile.skills],
    )


async def _emit_profile(conn: asyncpg.Connection, user_id: uuid.UUID, profile: Profile) -> None:
    await enqueue(
        conn,
        topic=topics.PROFILE_UPDATED.name,
        service=SERVICE,
        subject=str(user_id),
        data=_profile_updated(user_id, profile),
    )


async def get_profile(*, db: asyncpg.Pool, user_id: uuid.UUID) -> Profile:
    """The person's profile, or the empty one if they never saved one."""
    async with db.acquire() as conn:
        return await repo.get_profile(conn, user_id) or EMPTY_PROFILE


async def replace_profile(
    *,
    db: asyncpg.Pool,
    user_id: uuid.UUID,
    constituency_code: str | None,
    travel_radius_km: int,
    remote_ok: bool,
    max_hours_per_week: int | None,
    availability: Sequence[WindowInput],
    skills: Sequence[SkillInput],
) -> Profile:
    """Replace a profile. An event follows when the profile is new or what others may see of it changed
    (a change to a note alone is saved quietly: notes never leave this service)."""
    async with db.acquire() as conn:
        known = await repo.known_slugs(conn, (s.slug for s in skills))
        profile = check_profile(
            constituency_code=constituency_code,
            travel_radius_km=travel_radius_km,
            remote_ok=remote_ok,
            max_hours_per_week=max_hours_per_week,
            availability=availability,
            skills=skills,
            known_skills=known,
        )
        async with conn.transaction():
            if await erasure.is_erased(conn, user_id):
                raise Erased
            before = (await repo.lock_profiles(conn, [user_id]))[user_id]
            if before == profile:
                return profile
            await repo.save_profiles(conn, {user_id: profile})
            if before is None or before.without_notes() != profile.without_notes():
                await _emit_profile(conn, user_id, profile.without_notes())
    return profile


# -- organiser search ----------------------------------------------------------------------------


async def search_supporters(
    *,
    db: asyncpg.Pool,
    constituency_code: str | None,
    skill: str | None,
    min_level: int,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[repo.Supporter]:
    async with db.acquire() as conn:
        if skill is not None and not await repo.known_slugs(conn, [skill]):
            raise NotFound("skill")
        return await repo.search_supporters(
            conn, constituency_code=constituency_code, skill=skill, min_level=min_level, after=after, limit=limit
        )


# -- supporter import ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Invite:
    email: str
    user_id: uuid.UUID
    invite_code: str


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0
    skipped_registered: int = 0
    skipped_registered_rows: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    invites: list[Invite] = field(default_factory=list)


@dataclass(frozen=True)
class _Account:
    user_id: uuid.UUID
    status: str
    invite_code: str | None


async def _invite_accounts(
    deps: Deps, authorization: str, rows: list[ImportRow]
) -> tuple[dict[int, _Account], list[RowError]]:
    """Ask identity for an account per row (docs/internal-api.md). Rows identity refuses are reported and
    left out, and the rest asked again: identity creates nothing when it refuses any."""
    pending = list(rows)
    errors: list[RowError] = []
    async with httpx.AsyncClient(timeout=deps.identity_timeout_s) as client:
        while pending:
            try:
                response = await client.post(
                    f"{deps.identity_url}/internal/v1/invited-accounts",
                    headers={"Authorization": authorization},
                    json={"accounts": [{"email": r.email, "display_name": r.display_name} for r in pending]},
                )
            except httpx.TimeoutException as exc:
                raise UpstreamFailed(504, "Identity did not answer in time; run the import again.") from exc
            except httpx.HTTPError as exc:
                raise UpstreamFailed(503, "Identity is not answering; run the import again shortly.") from exc
            if response.status_code == 422:
                refused = _refused_rows(response, pending)
                if not refused:
                    raise UpstreamFailed(502, "Identity refused the accounts without saying which.")
                errors += refused
                bad = {e.row for e in refused}
                pending = [r for r in pending if r.row not in bad]
                continue
            if response.status_code in (401, 403):
                raise UpstreamFailed(response.status_code, "Identity did not accept your token as an admin's.")
            if response.status_code == 409:
                raise UpstreamFailed(409, "Some accounts were created meanwhile by someone else; run the import again.")
            if response.status_code != 200:
                raise UpstreamFailed(502, f"Identity answered {response.status_code}; run the import again later.")
            try:
                answers = response.json()["accounts"]
                accounts = {
                    row.row: _Account(uuid.UUID(a["user_id"]), a["status"], a.get("invite_code"))
                    for row, a in zip(pending, answers, strict=True)
                }
            except (ValueError, KeyError, TypeError) as exc:
                raise UpstreamFailed(502, "Identity's answer was not the documented shape.") from exc
            return accounts, errors
    return {}, errors


def _refused_rows(response: httpx.Response, pending: list[ImportRow]) -> list[RowError]:
    """Identity's `accounts.<index>.<field>` errors as row errors."""
    found: list[RowError] = []
    try:
        problems = response.json().get("errors") or []
    except ValueError:
        return []
    for problem in problems:
        parts = str(problem.get("field", "")).split(".")
        if len(parts) == 3 and parts[0] == "accounts" and parts[1].isdigit() and int(parts[1]) < len(pending):
            found.append(RowError(pending[int(parts[1])].row, parts[2], str(problem.get("message", "Invalid."))))
    return found


async def import_supporters(
    *, deps: Deps, data: bytes, authorization: str, who: audit.Access | None = None
) -> ImportReport:
    """Import supporters from a CSV: accounts through identity, profiles here; re-running changes nothing.
    With `who`, the audit log records the import and whose profiles it wrote, in the same transaction."""
    text = decode_csv(data)
    async with deps.db.acquire() as conn:
        known = await repo.all_slugs(conn)
    plan = parse_import(text, known_skills=known, max_rows=deps.import_max_rows)
    report = ImportReport(errors=list(plan.errors))
    if not plan.rows:
        return report
    accounts, refused = await _invite_accounts(deps, authorization, plan.rows)
    report.errors = sorted(report.errors + refused, key=lambda e: (e.row, e.field))
    wanted: dict[uuid.UUID, Profile] = {}
    for row in plan.rows:
        account = accounts.get(row.row)
        if account is None:
            continue
        if account.status == "registered":
            report.skipped_registered += 1
            report.skipped_registered_rows.append(row.row)
            continue
        if account.status not in ("created", "invited"):
            report.errors.append(RowError(row.row, "email", "Identity gave an unknown account status."))
            continue
        if account.status == "created" and account.invite_code:
            report.invites.append(Invite(row.email, account.user_id, account.invite_code))
        wanted[account.user_id] = row.profile
    async with deps.db.acquire() as conn, conn.transaction():
        before = await repo.lock_profiles(conn, list(wanted))
        changed = {user_id: p for user_id, p in wanted.items() if before[user_id] != p}
        await repo.save_profiles(conn, changed)
        for user_id, profile in changed.items():
            await _emit_profile(conn, user_id, profile.without_notes())
        if who is not None:
            await audit.record(conn, who, "supporters.import", changed)
    report.imported = len(changed)
    report.unchanged = len(wanted) - len(changed)
    return report


# -- identity's events ---------------------------------------------------------------------------


async def person_registered(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    display_name: str,
    discoverable: bool,
    contact_by_x: bool,
    invited: bool,
    as_of: datetime,
) -> None:
    if await erasure.is_erased(conn, user_id):  # a late or replayed event about an erased person
        return
    await repo.record_registered(
        conn,
        user_id=user_id,
        display_name=display_name,
        discoverable=discoverable,
        contact_by_x=contact_by_x,
        invited=invited,
        as_of=as_of,
    )


async def person_updated(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    display_name: str,
    discoverable: bool,
    contact_by_x: bool,
    as_of: datetime,
) -> None:
    if await erasure.is_erased(conn, user_id):
        return
    await repo.record_updated(
        conn,
        user_id=user_id,
        display_name=display_name,
        discoverable=discoverable,
        contact_by_x=contact_by_x,
        as_of=as_of,
    )


async def erase_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """identity.user-erased.v1, inside the consumer's transaction: the profile, its skills and availability
    and the copy of the account go; outbox rows naming the person are scrubbed; a tombstone stays; and
    skills.erasure-completed.v1 confirms it. Doing it twice deletes nothing more and confirms again."""
    await repo.erase_person(conn, user_id)
    await erasure.complete(
        conn, source=SERVICE, service=SERVICE, topic=topics.SKILLS_ERASURE_COMPLETED, user_id=user_id
    )


@dataclass(frozen=True)
class Export:
    profile: Profile | None
    person: asyncpg.Record | None


async def export(*, db: asyncpg.Pool, user_id: uuid.UUID) -> Export:
    """Everything this service holds about the person."""
    async with db.acquire() as conn:
        return Export(profile=await repo.get_profile(conn, user_id), person=await repo.person_of(conn, user_id))


__all__ = ["Deps", "FieldError", "ImportReport", "NotFound", "UpstreamFailed"]
