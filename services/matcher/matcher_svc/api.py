"""Matcher's HTTP routes: ranked matches, opportunities, statistics."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from lx_contracts.constituencies import is_valid_code
from lx_platform import audit
from lx_platform.auth import Principal, require_admin, require_principal
from lx_platform.http import ProblemError
from matcher_svc import service
from matcher_svc.domain import Scored
from matcher_svc.service import Tuning

router = APIRouter(prefix="/api/v1")
# Called by identity for the person's own data export (docs/internal-api.md); the gateway never routes here.
internal_router = APIRouter(prefix="/internal/v1", include_in_schema=False)


class ReasonOut(BaseModel):
    kind: Literal["skill", "location", "availability", "load"]
    detail: str


class MatchOut(BaseModel):
    user_id: uuid.UUID
    display_name: str | None
    constituency_code: str | None
    score: float = Field(ge=0, le=1)
    reasons: list[ReasonOut]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c11",
                    "display_name": "Sam Patel",
                    "constituency_code": "E14001354",
                    "score": 0.87,
                    "reasons": [
                        {"kind": "skill", "detail": "Graphic design level 4 (needs 3)"},
                        {"kind": "location", "detail": "Same constituency"},
                        {"kind": "availability", "detail": "Free Saturdays 10:00\u201316:00"},
                        {"kind": "load", "detail": "No other commitments"},
                    ],
                }
            ]
        }
    )


class MatchPage(BaseModel):
    items: list[MatchOut]
    next_cursor: str | None


class OpportunityOut(BaseModel):
    request_id: uuid.UUID
    title: str
    constituency_code: str
    score: float = Field(ge=0, le=1)
    reasons: list[ReasonOut]


class OpportunityPage(BaseModel):
    items: list[OpportunityOut]
    next_cursor: str | None


class RequestCounts(BaseModel):
    open: int
    filled: int
    completed: int
    cancelled: int
    pending: int


class SkillSupply(BaseModel):
    slug: str
    supporters: int = Field(description="Discoverable supporters with a profile here holding the skill.")


class SkillGap(BaseModel):
    slug: str
    people_needed: int = Field(description="People open requests here still ask for with this skill.")
    supporters: int


class Figures(BaseModel):
    requests: RequestCounts
    median_hours_to_first_offer: float | None
    median_hours_to_filled: float | None
    supporters_by_skill: list[SkillSupply]
    missing_skills: list[SkillGap] = Field(description="Skills asked for here with fewer supporters than needed.")


class ConstituencyStats(Figures):
    constituency_code: str
    name: str
    nation: str
    region: str


class NationStats(Figures):
    nation: str


class RegionStats(Figures):
    nation: str
    region: str


class SeatStats(Figures):
    constituency_code: str
    name: str


class NationalStats(BaseModel):
    total: Figures
    nations: list[NationStats]
    regions: list[RegionStats]
    constituencies: list[SeatStats] = Field(description="Every constituency with any requests or supporters.")


# -- plumbing ----------------------------------------------------------------------------------


# Async, though they do not wait for anything: FastAPI runs a plain `def` dependency in its thread
# pool, two thread hops on every call (a tenth of the matcher's CPU under the campaign load).
async def _db(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.db
    return pool


async def _tuning(request: Request) -> Tuning:
    tuning: Tuning = request.app.state.tuning
    return tuning


Db = Annotated[asyncpg.Pool, Depends(_db)]
Tune = Annotated[Tuning, Depends(_tuning)]
SignedIn = Annotated[Principal, Depends(require_principal)]
Admin = Annotated[Principal, Depends(require_admin)]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
CursorParam = Annotated[str | None, Query(max_length=200, description="`next_cursor` from the previous page.")]


def _offset(cursor: str | None) -> int:
    """Ranked lists page by position in the ranking, which the cursor carries."""
    if cursor is None:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        offset = int(number)
        if kind != "rank" or offset < 0:
            raise ValueError(kind)
        return offset
    except ValueError as exc:
        raise ProblemError(422, errors=[{"field": "cursor", "message": "Not a cursor from this list."}]) from exc


def _page(items: list[Any], offset: int, limit: int) -> tuple[list[Any], str | None]:
    page = items[offset : offset + limit]
    more = len(items) > offset + limit
    return page, base64.urlsafe_b64encode(f"rank:{offset + limit}".encode()).decode() if more else None


def _reasons(s: Scored) -> list[ReasonOut]:
    return [ReasonOut(kind=r.kind, detail=r.detail) for r in s.reasons]  # type: ignore[arg-type]


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "Missing, invalid or expired token",
        403: "Signed in, but not allowed to see this",
        404: "No such request or constituency",
        422: "Invalid input",
    }
    return {code: {"description": text[code]} for code in codes}


# -- routes ------------------------------------------------------------------------------------


@router.get(
    "/requests/{request_id}/matches",
    summary="Supporters ranked for a request",
    response_model=MatchPage,
    tags=["matching"],
    responses=_responses(401, 403, 404, 422),
)
async def request_matches(
    request_id: uuid.UUID,
    principal: SignedIn,
    db: Db,
    tuning: Tune,
    request: Request,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> MatchPage:
    """The request's owner, an organiser of its constituency, or an admin. Candidates are discoverable
    supporters, not the owner, who have not offered (or been declined), hold one of the request's skills at
    its `min_level` or above, and can reach it (same constituency, centroids within their travel radius, or
    both remote). Best first; each with the reasons it ranks where it does. A closed request has none."""
    offset = _offset(cursor)
    try:
        found = await service.matches(
            db=db,
            principal=principal,
            request_id=request_id,
            tuning=tuning,
            now=datetime.now(UTC),
            who=audit.access(request, principal.user_id),
            shown=slice(offset, offset + limit),
        )
    except service.NotFound as exc:
        raise ProblemError(404, "No such request.") from exc
    except service.Forbidden as exc:
        raise ProblemError(403, str(exc)) from exc
    page, next_cursor = _page(found, offset, limit)
    return MatchPage(
        items=[
            MatchOut(
                user_id=m.user_id,
                display_name=m.display_name,
                constituency_code=m.constituency_code,
                score=m.scored.score,
                reasons=_reasons(m.scored),
            )
            for m in page
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/me/opportunities",
    summary="Open requests ranked for me",
    response_model=OpportunityPage,
    tags=["matching"],
    responses=_responses(401, 422),
)
async def my_opportunities(
    principal: SignedIn, db: Db, tuning: Tune, limit: Limit = 20, cursor: CursorParam = None
) -> OpportunityPage:
    """Open requests I could help with, best first: one of my skills at its level, within my reach, not
    my own, not one I already offered on or was declined from. Empty until I have saved a profile."""
    offset = _offset(cursor)
    found = await service.opportunities(db=db, principal=principal, tuning=tuning, now=datetime.now(UTC))
    page, next_cursor = _page(found, offset, limit)
    return OpportunityPage(
        items=[
            OpportunityOut(
                request_id=o.opening.id,
                title=o.opening.title,
                constituency_code=o.opening.constituency_code,
                score=o.scored.score,
                reasons=_reasons(o.scored),
            )
            for o in page
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/stats/constituencies/{code}",
    summary="A constituency's campaign statistics",
    response_model=ConstituencyStats,
    tags=["statistics"],
    responses=_responses(401, 403, 404),
)
async def constituency_stats(code: str, principal: SignedIn, db: Db) -> dict[str, Any]:
    """Organisers of the constituency and admins. Request counts by status; median hours from opening to
    the first offer and to filled; discoverable supporters there by skill; skills open requests there ask
    for with fewer supporters than people needed."""
    if not is_valid_code(code):
        raise ProblemError(404, "No such constituency.")
    if not principal.organises(code):
        raise ProblemError(403, "Only organisers of this constituency and admins see its statistics.")
    return await service.constituency_stats(db=db, code=code)


@router.get(
    "/stats/national",
    summary="National campaign statistics",
    response_model=NationalStats,
    tags=["statistics"],
    responses=_responses(401, 403),
)
async def national_stats(_: Admin, db: Db) -> dict[str, Any]:
    """Admins. The same figures for the whole country, by nation, by region, and per constituency."""
    return await service.national_stats(db=db)


# -- export (identity's GET /api/v1/me/export gathers this) ----------------------------------------


@internal_router.get("/me/export")
async def export_me(principal: SignedIn, db: Db) -> dict[str, Any]:
    """What the matcher derived about the caller: its copy of their account and profile, their entries in
    the candidate search, proposals made to them, their offers and invitations as seen here, and the
    requests they own (id, title, status). Nobody else's data."""
    return await service.export(db=db, user_id=principal.user_id)
