"""Skills' HTTP routes: parse, authorise, call a use case, shape the answer."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lx_contracts.constituencies import is_valid_code
from lx_platform import audit
from lx_platform.auth import Principal, require_admin, require_principal
from lx_platform.http import ProblemError
from skills_svc import service
from skills_svc.domain import (
    DAYS,
    IMPORT_HEADER,
    MAX_IMPORT_ROWS,
    BadImport,
    Profile,
    RuleBroken,
    Skill,
    SkillInput,
    WindowInput,
    normalise_constituency_code,
    search_constituencies,
)
from skills_svc.repository import SkillTaken, Supporter

router = APIRouter(prefix="/api/v1")
# Called by identity for the person's own data export (docs/internal-api.md); the gateway never routes here.
internal_router = APIRouter(prefix="/internal/v1", include_in_schema=False)

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# -- shapes --------------------------------------------------------------------------------------


class ConstituencyOut(BaseModel):
    code: str = Field(description="ONS code, e.g. E14001354.")
    name: str
    nation: str
    region: str


class SkillOut(BaseModel):
    slug: str = Field(description="Stable id, lowercase-hyphen.")
    name: str
    category: str
    description: str
    synonyms: list[str] = Field(description="Lowercase words and phrases that name this skill in free text.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slug": "graphic-design",
                    "name": "Graphic design",
                    "category": "creative",
                    "description": "Designing leaflets, posters, social media graphics, banners and logos.",
                    "synonyms": ["designer", "graphics", "poster design"],
                }
            ]
        }
    )

    @classmethod
    def of(cls, skill: Skill) -> SkillOut:
        return cls(
            slug=skill.slug,
            name=skill.name,
            category=skill.category,
            description=skill.description,
            synonyms=list(skill.synonyms),
        )


class SkillIn(_Body):
    slug: str = Field(max_length=200, description="2-60 lowercase letters, digits and single hyphens; unique.")
    name: str = Field(max_length=400, description="1-80 characters; unique, ignoring case.")
    category: str = Field(
        max_length=200,
        description="Lowercase-hyphen; the seeded ones are campaigning, organising, digital, creative, "
        "communications, languages, professional and practical.",
    )
    description: str = Field(default="", max_length=2000, description="At most 500 characters.")
    synonyms: list[str] = Field(default_factory=list, max_length=100, description="At most 30, each 1-60 characters.")

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "slug": "podcasting",
                    "name": "Podcasting",
                    "category": "creative",
                    "description": "Recording and editing audio interviews and podcasts.",
                    "synonyms": ["podcast", "audio editing"],
                }
            ]
        },
    )


class WindowIn(_Body):
    day: str = Field(
        max_length=10, description="mon, tue, wed, thu, fri, sat or sun.", json_schema_extra={"enum": list(DAYS)}
    )
    start: str = Field(max_length=10, description="HH:MM, 24-hour, 00:00 to 23:59.")
    end: str = Field(max_length=10, description="HH:MM after `start` on the same day; 24:00 means midnight.")


class SkillLevelIn(_Body):
    slug: str = Field(max_length=200)
    level: int = Field(description="1 (beginner) to 5 (expert).")
    note: str = Field(default="", max_length=2000, description="At most 500 characters; never shared in events.")


class ProfileIn(_Body):
    constituency_code: str | None = Field(default=None, max_length=20)
    travel_radius_km: int = Field(default=0, description="0 to 500.")
    remote_ok: bool = False
    max_hours_per_week: int | None = Field(default=None, description="0 to 168, or null for unsaid.")
    availability: list[WindowIn] = Field(default_factory=list, max_length=1000, description="At most 28 windows.")
    skills: list[SkillLevelIn] = Field(default_factory=list, max_length=1000, description="At most 50 skills.")

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "constituency_code": "E14001354",
                    "travel_radius_km": 10,
                    "remote_ok": True,
                    "max_hours_per_week": 6,
                    "availability": [
                        {"day": "sat", "start": "10:00", "end": "13:00"},
                        {"day": "tue", "start": "18:30", "end": "21:00"},
                    ],
                    "skills": [{"slug": "graphic-design", "level": 4, "note": "Canva and InDesign"}],
                }
            ]
        },
    )


class WindowOut(BaseModel):
    day: Day
    start: str
    end: str


class SkillLevelOut(BaseModel):
    slug: str
    level: int
    note: str


class ProfileOut(BaseModel):
    """Windows come back ordered by day then time, skills by level (highest first) then slug."""

    constituency_code: str | None
    travel_radius_km: int
    remote_ok: bool
    max_hours_per_week: int | None
    availability: list[WindowOut]
    skills: list[SkillLevelOut]

    @classmethod
    def of(cls, p: Profile) -> ProfileOut:
        return cls(
            constituency_code=p.constituency_code,
            travel_radius_km=p.travel_radius_km,
            remote_ok=p.remote_ok,
            max_hours_per_week=p.max_hours_per_week,
            availability=[
                WindowOut.model_validate({"day": w.day, "start": w.start, "end": w.end}) for w in p.availability
            ],
            skills=[SkillLevelOut(slug=s.slug, level=s.level, note=s.note) for s in p.skills],
        )


class SupporterSkillOut(BaseModel):
    slug: str
    level: int


class SupporterOut(BaseModel):
    user_id: uuid.UUID
    display_name: str
    constituency_code: str | None
    skills: list[SupporterSkillOut]

    @classmethod
    def of(cls, s: Supporter) -> SupporterOut:
        return cls(
            user_id=s.user_id,
            display_name=s.display_name,
            constituency_code=s.constituency_code,
            skills=[SupporterSkillOut(slug=k.slug, level=k.level) for k in s.skills],
        )


class SupporterPage(BaseModel):
    items: list[SupporterOut]
    next_cursor: str | None


class ImportErrorOut(BaseModel):
    row: int = Field(description="The row as a spreadsheet numbers it: the header is row 1.")
    field: str = Field(description="email, display_name, constituency_code, skills, or row.")
    message: str


class InviteOut(BaseModel):
    email: str
    user_id: uuid.UUID
    invite_code: str = Field(description="One-time code for POST /api/v1/auth/invitations/accept; shown only now.")


class ImportReportOut(BaseModel):
    imported: int = Field(description="Rows whose supporter profile was created or changed.")
    unchanged: int = Field(description="Rows whose profile already said exactly this.")
    skipped_registered: int = Field(description="Rows for people with their own account: their data is theirs.")
    skipped_registered_rows: list[int] = Field(description="Which rows those were.")
    errors: list[ImportErrorOut] = Field(description="Rows not imported, and why.")
    invites: list[InviteOut] = Field(description="Accounts created by this import, with their invite codes.")


# -- helpers -------------------------------------------------------------------------------------


def _rules(exc: RuleBroken) -> ProblemError:
    return ProblemError(
        422,
        "Some fields are missing or invalid.",
        errors=[{"field": e.field, "message": e.message} for e in exc.errors],
    )


async def _deps(request: Request) -> service.Deps:
    deps: service.Deps = request.app.state.deps
    return deps


Deps = Annotated[service.Deps, Depends(_deps)]
CurrentUser = Annotated[Principal, Depends(require_principal)]
Admin = Annotated[Principal, Depends(require_admin)]

_UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {401: {"description": "Missing, invalid or expired token"}}
_ADMIN_ONLY: dict[int | str, dict[str, Any]] = {**_UNAUTHENTICATED, 403: {"description": "Not an admin"}}


# -- constituencies and the taxonomy -------------------------------------------------------------


@router.get(
    "/constituencies",
    summary="List constituencies",
    response_model=list[ConstituencyOut],
    tags=["reference"],
)
async def constituencies(
    response: Response,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Part of a name; case, accents, punctuation and the word `and` are ignored. "
            "A full code matches too.",
            examples=["withington"],
        ),
    ] = None,
) -> list[ConstituencyOut]:
    """The 650 Westminster constituencies (2024 boundaries), sorted by name; `q` narrows them by name."""
    response.headers["Cache-Control"] = "public, max-age=3600"
    return [
        ConstituencyOut(code=c.code, name=c.name, nation=c.nation, region=c.region) for c in search_constituencies(q)
    ]


@router.get("/skills", summary="List the skill taxonomy", response_model=list[SkillOut], tags=["reference"])
async def list_skills(deps: Deps) -> list[SkillOut]:
    """Every skill, sorted by name, with the synonyms that name it in free text."""
    return [SkillOut.of(s) for s in await service.list_skills(db=deps.db)]


@router.post(
    "/skills",
    summary="Add a skill (admin)",
    status_code=201,
    response_model=SkillOut,
    tags=["reference"],
    responses={
        **_ADMIN_ONLY,
        409: {"description": "A skill with this slug or name exists"},
        422: {"description": "Invalid input"},
    },
)
async def add_skill(body: SkillIn, _: Admin, deps: Deps) -> SkillOut:
    """Add a skill to the taxonomy; it is announced on `skills.skill-added.v1`."""
    try:
        skill = await service.add_skill(
            db=deps.db,
            slug=body.slug,
            name=body.name,
            category=body.category,
            description=body.description,
            synonyms=body.synonyms,
        )
    except RuleBroken as exc:
        raise _rules(exc) from exc
    except SkillTaken as exc:
        raise ProblemError(
            409,
            "A skill with this slug or name already exists.",
            errors=[{"field": exc.field, "message": "Already in the taxonomy."}],
        ) from exc
    return SkillOut.of(skill)


# -- profiles ------------------------------------------------------------------------------------


@router.get(
    "/me/profile",
    summary="Read my volunteer profile",
    response_model=ProfileOut,
    tags=["me"],
    responses=_UNAUTHENTICATED,
)
async def get_profile(principal: CurrentUser, deps: Deps) -> ProfileOut:
    """Your profile; an empty one if you have not saved one yet."""
    return ProfileOut.of(await service.get_profile(db=deps.db, user_id=principal.user_id))


@router.put(
    "/me/profile",
    summary="Replace my volunteer profile",
    response_model=ProfileOut,
    tags=["me"],
    responses={**_UNAUTHENTICATED, 422: {"description": "Invalid input"}},
)
async def put_profile(body: ProfileIn, principal: CurrentUser, deps: Deps) -> ProfileOut:
    """Replace your profile; fields left out take their empty values. Nothing is saved if anything is wrong.

    Availability windows are weekly, `start` before `end` on one day (`end` may be `24:00`; split an
    overnight window in two), and windows on the same day may touch but not overlap.
    """
    try:
        profile = await service.replace_profile(
            db=deps.db,
            user_id=principal.user_id,
            constituency_code=body.constituency_code,
            travel_radius_km=body.travel_radius_km,
            remote_ok=body.remote_ok,
            max_hours_per_week=body.max_hours_per_week,
            availability=[WindowInput(w.day, w.start, w.end) for w in body.availability],
            skills=[SkillInput(s.slug, s.level, s.note) for s in body.skills],
        )
    except RuleBroken as exc:
        raise _rules(exc) from exc
    except service.Erased as exc:
        raise ProblemError(401, "This account has been erased.", headers={"WWW-Authenticate": "Bearer"}) from exc
    return ProfileOut.of(profile)


# -- organiser search ----------------------------------------------------------------------------


def _encode_cursor(s: Supporter) -> str:
    return base64.urlsafe_b64encode(json.dumps([s.display_name, str(s.user_id)]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        name, user_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(name, str):
            raise ValueError("name")
        return name, uuid.UUID(user_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ProblemError(422, errors=[{"field": "cursor", "message": "Not a cursor from this list."}]) from exc


@router.get(
    "/supporters",
    summary="Find discoverable supporters (organiser, admin)",
    response_model=SupporterPage,
    tags=["organise"],
    responses={
        **_UNAUTHENTICATED,
        403: {"description": "Not an organiser of this constituency, nor an admin"},
        422: {"description": "Unknown skill or constituency, or a missing constituency"},
    },
)
async def supporters(
    principal: CurrentUser,
    request: Request,
    deps: Deps,
    constituency: Annotated[
        str | None,
        Query(max_length=20, description="Constituency code; organisers must give one they organise."),
    ] = None,
    skill: Annotated[str | None, Query(max_length=60, description="Only people with this skill (slug).")] = None,
    min_level: Annotated[int, Query(ge=1, le=5, description="Lowest level of `skill` (or of any skill).")] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> SupporterPage:
    """Supporters who agreed to be discoverable and have a profile, by name. Organisers see their own
    constituencies; admins may leave `constituency` out to search everywhere."""
    if not principal.is_admin and not principal.organiser_of:
        raise ProblemError(403, "Only organisers and admins may search supporters.")
    code = normalise_constituency_code(constituency) if constituency else None
    if code is not None and not is_valid_code(code):
        raise ProblemError(422, errors=[{"field": "constituency", "message": "Unknown constituency code."}])
    if code is None and not principal.is_admin:
        raise ProblemError(
            422,
            errors=[
                {
                    "field": "constituency",
                    "message": "Choose one of your constituencies: " + ", ".join(sorted(principal.organiser_of)),
                }
            ],
        )
    if code is not None and not principal.organises(code):
        raise ProblemError(403, "You are not an organiser of this constituency.")
    after = _decode_cursor(cursor) if cursor else None
    try:
        found = await service.search_supporters(
            db=deps.db, constituency_code=code, skill=skill or None, min_level=min_level, after=after, limit=limit + 1
        )
    except service.NotFound as exc:
        raise ProblemError(
            422, errors=[{"field": "skill", "message": "Unknown skill; GET /api/v1/skills lists them."}]
        ) from exc
    page, more = found[:limit], len(found) > limit
    # Organisers and admins looking at supporters' data: who they were shown goes in the audit log.
    await audit.record_in(
        deps.db, audit.access(request, principal.user_id), "supporters.search", (s.user_id for s in page)
    )
    return SupporterPage(
        items=[SupporterOut.of(s) for s in page], next_cursor=_encode_cursor(page[-1]) if more else None
    )


# -- supporter import ----------------------------------------------------------------------------

_CSV_TYPES = ("text/csv", "application/csv")
_EXAMPLE_CSV = (
    ",".join(IMPORT_HEADER)
    + "\nsam@example.org,Sam Patel,E14001354,graphic-design:4;leafleting:2\n"
    + "alex@example.org,Alex Doe,Manchester Withington,canvassing:3\n"
)


_IMPORT_DESCRIPTION = f"""Import supporters from a spreadsheet export, as UTF-8 CSV (the body, or one uploaded file).

The header is exactly `email,display_name,constituency_code,skills`. `constituency_code` may hold the
code (E14001354) or the name (Manchester Withington). `skills` is `slug:level;slug:level`, e.g.
`graphic-design:4;leafleting:2`, and may be empty. At most {MAX_IMPORT_ROWS:,} rows and 1 MB.

Every row is checked; rows with errors are reported by row number (the header is row 1) and not
imported; the good rows are. Identity creates an invited account for each new email. For accounts
this or an earlier import created, the profile is set from the row (constituency and skills); people
who registered themselves are reported and left untouched. Running the same file again changes
nothing and announces nothing.

**Invite codes are shown only in this answer and cannot be shown again**: pass each one to its
person securely (not in a group email or a shared sheet); they use it at
`POST /api/v1/auth/invitations/accept` to set a password and their consents. Imported people are
not discoverable until they do.
"""


def _csv_from_multipart(content_type: str, body: bytes) -> bytes:
    """The one file in a multipart/form-data upload."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body)
    files = [part for part in message.iter_parts() if part.get_filename()] if message.is_multipart() else []
    if len(files) != 1:
        raise ProblemError(422, errors=[{"field": "body", "message": "Upload exactly one CSV file."}])
    payload = files[0].get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


@router.post(
    "/admin/imports/supporters",
    summary="Import supporters from a CSV (admin)",
    description=_IMPORT_DESCRIPTION,
    response_model=ImportReportOut,
    tags=["admin"],
    responses={
        **_ADMIN_ONLY,
        413: {"description": "The body is over 1 MB"},
        415: {"description": "Not text/csv or multipart/form-data"},
        422: {"description": "Wrong header, too many rows, or not UTF-8 CSV"},
        502: {"description": "Identity gave no usable answer"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": _EXAMPLE_CSV},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def import_supporters(request: Request, admin: Admin, deps: Deps, response: Response) -> ImportReportOut:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    body = await request.body()
    if media_type == "multipart/form-data":
        data = _csv_from_multipart(content_type, body)
    elif media_type in _CSV_TYPES:
        data = body
    else:
        raise ProblemError(415, "Send the CSV as text/csv, or upload one file as multipart/form-data.")
    try:
        report = await service.import_supporters(
            deps=deps,
            data=data,
            authorization=request.headers.get("authorization", ""),
            who=audit.access(request, admin.user_id),
        )
    except BadImport as exc:
        raise ProblemError(422, exc.message, errors=[{"field": exc.field, "message": exc.message}]) from exc
    except service.UpstreamFailed as exc:
        raise ProblemError(exc.status, exc.detail) from exc
    # The answer holds one-time invite codes: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return ImportReportOut(
        imported=report.imported,
        unchanged=report.unchanged,
        skipped_registered=report.skipped_registered,
        skipped_registered_rows=report.skipped_registered_rows,
        errors=[ImportErrorOut(row=e.row, field=e.field, message=e.message) for e in report.errors],
        invites=[InviteOut(email=i.email, user_id=i.user_id, invite_code=i.invite_code) for i in report.invites],
    )


# -- export (identity's GET /api/v1/me/export gathers this) --------------------------------------


class PersonCopyOut(BaseModel):
    display_name: str
    discoverable: bool
    contact_by_x: bool
    invited: bool


class SkillsExportOut(BaseModel):
    """Everything skills holds about the caller: their profile (null if never saved) and its copy of their
    account as identity announced it (null until identity's event has arrived)."""

    profile: ProfileOut | None
    account_copy: PersonCopyOut | None


@internal_router.get("/me/export", response_model=SkillsExportOut)
async def export_me(principal: CurrentUser, deps: Deps) -> SkillsExportOut:
    found = await service.export(db=deps.db, user_id=principal.user_id)
    return SkillsExportOut(
        profile=ProfileOut.of(found.profile) if found.profile is not None else None,
        account_copy=PersonCopyOut(**dict(found.person)) if found.person is not None else None,
    )
