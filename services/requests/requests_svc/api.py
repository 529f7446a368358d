"""Requests' HTTP routes: parse, authorise, call a use case, shape the answer."""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from lx_contracts.constituencies import by_code, is_valid_code
from lx_platform import audit
from lx_platform.auth import Principal, optional_principal, require_principal
from lx_platform.http import ProblemError
from requests_svc import service
from requests_svc.domain import (
    MAX_DESCRIPTION,
    MAX_LEVEL,
    MAX_MESSAGE,
    MAX_PEOPLE_PER_SKILL,
    MAX_SKILLS,
    MAX_TITLE,
    MIN_LEVEL,
    Actor,
    Conflict,
    Forbidden,
    HelpRequest,
    Invitation,
    Offer,
    RequestInput,
    RuleBroken,
    RulesBroken,
    SkillInput,
)
from requests_svc.repository import Browse, Cursor, RequestBrief

router = APIRouter(prefix="/api/v1")
# Called by identity for the person's own data export (docs/internal-api.md); the gateway never routes here.
internal_router = APIRouter(prefix="/internal/v1", include_in_schema=False)

# -- bodies ------------------------------------------------------------------------------------

_TIME_DOC = "RFC 3339 with a timezone, e.g. `2026-05-02T10:00:00+01:00`; answered in UTC."


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SkillNeedIn(_Body):
    # Ranges are checked by the domain rules (all errors at once); the schema documents them.
    slug: str = Field(max_length=100, description="A skill from `GET /api/v1/skills`.")
    min_level: int = Field(
        description="The least level (1..5) a helper should have.",
        json_schema_extra={"minimum": MIN_LEVEL, "maximum": MAX_LEVEL},
    )
    people: int = Field(
        description="How many people with this skill are needed.",
        json_schema_extra={"minimum": 1, "maximum": MAX_PEOPLE_PER_SKILL},
    )


_REQUEST_EXAMPLE: dict[str, Any] = {
    "title": "Design a leaflet for the Didsbury canvass",
    "description": "A5 double-sided, our copy and photos are ready.",
    "constituency_code": "E14001354",
    "remote_ok": True,
    "skills": [{"slug": "graphic-design", "min_level": 3, "people": 1}],
    "starts_at": "2026-05-02T10:00:00+01:00",
    "ends_at": "2026-05-09T18:00:00+01:00",
    "urgency": "normal",
}


class RequestIn(_Body):
    title: str = Field(
        max_length=MAX_TITLE * 4,
        json_schema_extra={"minLength": 1, "maxLength": MAX_TITLE},
        description="What help is needed.",
    )
    description: str = Field(
        default="", max_length=MAX_DESCRIPTION * 2, json_schema_extra={"maxLength": MAX_DESCRIPTION}
    )
    constituency_code: str = Field(max_length=16, description="From `GET /api/v1/constituencies`.")
    remote_ok: bool = Field(default=False, description="The help can be given from anywhere.")
    skills: list[SkillNeedIn] = Field(
        max_length=MAX_SKILLS * 5, json_schema_extra={"minItems": 1, "maxItems": MAX_SKILLS}
    )
    starts_at: str | None = Field(
        default=None, max_length=64, json_schema_extra={"format": "date-time"}, description=_TIME_DOC
    )
    ends_at: str | None = Field(
        default=None,
        max_length=64,
        json_schema_extra={"format": "date-time"},
        description="After `starts_at`. " + _TIME_DOC,
    )
    urgency: Literal["low", "normal", "high"] = "normal"

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [_REQUEST_EXAMPLE]})

    def given(self) -> RequestInput:
        return RequestInput(
            title=self.title,
            description=self.description,
            constituency_code=self.constituency_code,
            remote_ok=self.remote_ok,
            skills=[SkillInput(s.slug, s.min_level, s.people) for s in self.skills],
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            urgency=self.urgency,
        )


class RequestPatch(_Body):
    """Send only what changes; `skills` replaces the whole list; `starts_at`/`ends_at` may be null to clear."""

    title: str | None = Field(default=None, max_length=MAX_TITLE * 4)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION * 2)
    constituency_code: str | None = Field(default=None, max_length=16)
    remote_ok: bool | None = None
    skills: list[SkillNeedIn] | None = Field(default=None, max_length=MAX_SKILLS * 5)
    starts_at: str | None = Field(default=None, max_length=64, json_schema_extra={"format": "date-time"})
    ends_at: str | None = Field(default=None, max_length=64, json_schema_extra={"format": "date-time"})
    urgency: Literal["low", "normal", "high"] | None = None

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"title": "Design two leaflets"}]}
    )

    def changes(self) -> dict[str, Any]:
        nullable = {"starts_at", "ends_at"}
        errors = [
            {"field": name, "message": "Cannot be null; leave it out to keep it."}
            for name in sorted(self.model_fields_set - nullable)
            if getattr(self, name) is None
        ]
        if errors:
            raise ProblemError(422, "Some fields are missing or invalid.", errors=errors)
        changes: dict[str, Any] = {name: getattr(self, name) for name in self.model_fields_set}
        if self.skills is not None:
            changes["skills"] = [SkillInput(s.slug, s.min_level, s.people) for s in self.skills]
        return changes


class CloseIn(_Body):
    outcome: Literal["completed", "cancelled"]


class OfferIn(_Body):
    message: str = Field(max_length=MAX_MESSAGE * 2, json_schema_extra={"maxLength": MAX_MESSAGE})
    skill: str | None = Field(default=None, max_length=100, description="One of the request's skills.")

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"message": "I design for a living; happy to.", "skill": "graphic-design"}]},
    )


class InvitationIn(_Body):
    user_id: Annotated[uuid.UUID, Field(strict=False)]


# -- answers -----------------------------------------------------------------------------------


class SkillNeedOut(BaseModel):
    slug: str
    min_level: int
    people: int
    people_accepted: int


class RequestOut(BaseModel):
    id: uuid.UUID
    title: str
    description: str
    constituency_code: str
    constituency_name: str
    remote_ok: bool
    skills: list[SkillNeedOut]
    starts_at: datetime | None
    ends_at: datetime | None
    urgency: Literal["low", "normal", "high"]
    status: Literal["pending", "open", "filled", "completed", "cancelled"]
    outcome: Literal["completed", "cancelled", "rejected"] | None = Field(description="How a closed request ended.")
    source: Literal["web", "x"]
    source_ref: str | None = Field(description="For a request from X (`source: x`), the id of the tweet it came from.")
    created_by: uuid.UUID | None
    created_by_name: str | None = Field(description="The owner's display name (null for a moment after sign-up).")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    people_needed: int = Field(description="The sum of `people` over the skills.")
    people_accepted: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8d7e5f0a-1b2c-4d3e-9f40-5a6b7c8d9e0f",
                    "title": "Design a leaflet for the Didsbury canvass",
                    "description": "A5 double-sided, our copy and photos are ready.",
                    "constituency_code": "E14001354",
                    "constituency_name": "Manchester Withington",
                    "remote_ok": True,
                    "skills": [{"slug": "graphic-design", "min_level": 3, "people": 1, "people_accepted": 0}],
                    "starts_at": "2026-05-02T09:00:00Z",
                    "ends_at": "2026-05-09T17:00:00Z",
                    "urgency": "normal",
                    "status": "open",
                    "outcome": None,
                    "source": "web",
                    "source_ref": None,
                    "created_by": "5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c11",
                    "created_by_name": "Sam Patel",
                    "created_at": "2026-04-20T12:00:00Z",
                    "updated_at": "2026-04-20T12:00:00Z",
                    "closed_at": None,
                    "people_needed": 1,
                    "people_accepted": 0,
                }
            ]
        }
    )

    @classmethod
    def of(cls, req: HelpRequest) -> RequestOut:
        place = by_code(req.constituency_code)
        return cls(
            id=req.id,
            title=req.title,
            description=req.description,
            constituency_code=req.constituency_code,
            constituency_name=place.name if place else req.constituency_code,
            remote_ok=req.remote_ok,
            skills=[
                SkillNeedOut(slug=s.slug, min_level=s.min_level, people=s.people, people_accepted=s.accepted)
                for s in req.skills
            ],
            starts_at=req.starts_at,
            ends_at=req.ends_at,
            urgency=req.urgency,  # type: ignore[arg-type]
            status=req.status,  # type: ignore[arg-type]
            outcome=req.outcome,  # type: ignore[arg-type]
            source=req.source,  # type: ignore[arg-type]
            source_ref=req.source_ref,
            created_by=req.created_by,
            created_by_name=req.created_by_name,
            created_at=req.created_at,
            updated_at=req.updated_at,
            closed_at=req.closed_at,
            people_needed=req.people_needed,
            people_accepted=req.people_accepted,
        )


class RequestPage(BaseModel):
    items: list[RequestOut]
    next_cursor: str | None


class OfferOut(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    user_id: uuid.UUID
    display_name: str | None
    message: str
    skill: str | None
    status: Literal["pending", "accepted", "declined", "withdrawn"]
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0f1e2d3c-4b5a-4968-8776-655443322110",
                    "request_id": "8d7e5f0a-1b2c-4d3e-9f40-5a6b7c8d9e0f",
                    "user_id": "5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c12",
                    "display_name": "Alex Doe",
                    "message": "I design for a living; happy to.",
                    "skill": "graphic-design",
                    "status": "pending",
                    "created_at": "2026-04-20T13:00:00Z",
                    "updated_at": "2026-04-20T13:00:00Z",
                }
            ]
        }
    )

    @classmethod
    def fields_of(cls, offer: Offer) -> dict[str, Any]:
        return {
            "id": offer.id,
            "request_id": offer.request_id,
            "user_id": offer.user_id,
            "display_name": offer.display_name,
            "message": offer.message,
            "skill": offer.skill,
            "status": offer.status,
            "created_at": offer.created_at,
            "updated_at": offer.updated_at,
        }

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        return cls(**cls.fields_of(offer))


class MyOfferOut(OfferOut):
    request_title: str
    request_status: Literal["pending", "open", "filled", "completed", "cancelled"]

    @classmethod
    def of_pair(cls, offer: Offer, brief: RequestBrief) -> MyOfferOut:
        return cls(**cls.fields_of(offer), request_title=brief.title, request_status=brief.status)  # type: ignore[arg-type]


class OfferPage(BaseModel):
    items: list[OfferOut]
    next_cursor: str | None


class MyOfferPage(BaseModel):
    items: list[MyOfferOut]
    next_cursor: str | None


class InvitationOut(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    user_id: uuid.UUID
    display_name: str | None = Field(description="The invited person's display name.")
    invited_by: uuid.UUID | None = Field(description="Who sent it; null once that person's account was erased.")
    created_at: datetime

    @classmethod
    def fields_of(cls, invitation: Invitation) -> dict[str, Any]:
        return {
            "id": invitation.id,
            "request_id": invitation.request_id,
            "user_id": invitation.user_id,
            "display_name": invitation.display_name,
            "invited_by": invitation.invited_by,
            "created_at": invitation.created_at,
        }

    @classmethod
    def of(cls, invitation: Invitation) -> InvitationOut:
        return cls(**cls.fields_of(invitation))


class MyInvitationOut(InvitationOut):
    request_title: str
    request_status: Literal["pending", "open", "filled", "completed", "cancelled"]

    @classmethod
    def of_pair(cls, invitation: Invitation, brief: RequestBrief) -> MyInvitationOut:
        return cls(**cls.fields_of(invitation), request_title=brief.title, request_status=brief.status)  # type: ignore[arg-type]


class MyInvitationPage(BaseModel):
    items: list[MyInvitationOut]
    next_cursor: str | None


# -- plumbing ----------------------------------------------------------------------------------


async def _db(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.db
    return pool


async def _actor(principal: Annotated[Principal, Depends(require_principal)]) -> Actor:
    return Actor(user_id=principal.user_id, is_admin=principal.is_admin, organiser_of=principal.organiser_of)


async def _maybe_actor(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Actor | None:
    if principal is None:
        return None
    return Actor(user_id=principal.user_id, is_admin=principal.is_admin, organiser_of=principal.organiser_of)


def _who(request: Request, actor: Actor) -> audit.Access:
    return audit.access(request, actor.user_id)


Db = Annotated[asyncpg.Pool, Depends(_db)]
SignedIn = Annotated[Actor, Depends(_actor)]
Anyone = Annotated[Actor | None, Depends(_maybe_actor)]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
CursorParam = Annotated[str | None, Query(max_length=200, description="`next_cursor` from the previous page.")]


@contextlib.contextmanager
def _answers(missing: str = "No such request.") -> Iterator[None]:
    """Turn the rules' and use cases' refusals into problem+json answers."""
    try:
        yield
    except service.NotFound as exc:
        raise ProblemError(404, missing) from exc
    except service.Erased as exc:
        raise ProblemError(401, "This account has been erased.", headers={"WWW-Authenticate": "Bearer"}) from exc
    except service.CatchingUp as exc:
        raise ProblemError(503, str(exc), headers={"Retry-After": "5"}) from exc
    except Forbidden as exc:
        raise ProblemError(403, str(exc)) from exc
    except Conflict as exc:
        raise ProblemError(409, str(exc)) from exc
    except RulesBroken as exc:
        raise ProblemError(
            422,
            "Some fields are missing or invalid.",
            errors=[{"field": e.field, "message": e.message} for e in exc.errors],
        ) from exc
    except RuleBroken as exc:
        raise ProblemError(
            422, "Some fields are missing or invalid.", errors=[{"field": exc.field, "message": exc.message}]
        ) from exc


def _decode_cursor(cursor: str | None) -> Cursor | None:
    if cursor is None:
        return None
    try:
        created, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(ident)
    except ValueError as exc:
        raise ProblemError(422, errors=[{"field": "cursor", "message": "Not a cursor from this list."}]) from exc


def _encode_cursor(created_at: datetime, ident: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{ident}".encode()).decode()


def _next(items: list[Any], limit: int) -> tuple[list[Any], str | None]:
    """Items are fetched one beyond the page; the extra one says there is a next page."""
    page = items[:limit]
    if len(items) <= limit:
        return page, None
    last = page[-1][0] if isinstance(page[-1], tuple) else page[-1]
    return page, _encode_cursor(last.created_at, last.id)


# Signing in is optional where anyone may read: `{}` joins the bearer requirement, so either will do.
# A token adds only what its holder may see (pending requests, for their moderators and owner).
_TOKEN_OPTIONAL: dict[str, Any] = {"security": [{}]}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "Missing, invalid or expired token",
        403: "Signed in, but not allowed to do this",
        404: "No such request (or offer), or not one you may see",
        409: "The request or offer is not in a state that allows this",
        422: "Invalid input",
    }
    return {code: {"description": text[code]} for code in codes}


# -- requests ----------------------------------------------------------------------------------


@router.post(
    "/requests",
    summary="Ask for help",
    status_code=201,
    response_model=RequestOut,
    tags=["requests"],
    responses=_responses(401, 422),
)
async def create_request(body: RequestIn, actor: SignedIn, db: Db) -> RequestOut:
    """Open a help request. Skills must be in the taxonomy, each listed once with 1..50 people."""
    with _answers():
        req = await service.open_request(db=db, created_by=actor.user_id, given=body.given())
    return RequestOut.of(req)


@router.get(
    "/requests",
    summary="Browse requests",
    response_model=RequestPage,
    openapi_extra=_TOKEN_OPTIONAL,
    tags=["requests"],
    responses=_responses(401, 422),
)
async def browse_requests(
    actor: Anyone,
    db: Db,
    status: Annotated[
        Literal["pending", "open", "filled", "completed", "cancelled", "any"],
        Query(
            description="Only requests with this status; `any` for every status. Pending requests are listed "
            "only to organisers of their constituency and admins; anyone else gets none."
        ),
    ] = "open",
    constituency: Annotated[str | None, Query(max_length=16, description="A constituency code.")] = None,
    skill: Annotated[str | None, Query(max_length=100, description="Requests asking for this skill slug.")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Words to find in the title or description (English stemming).")
    ] = None,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> RequestPage:
    """Newest first; open requests unless `status` says otherwise. Anyone may browse, signed in or not."""
    if constituency is not None and not is_valid_code(constituency):
        raise ProblemError(422, errors=[{"field": "constituency", "message": "Unknown constituency code."}])
    filters = Browse(
        status=None if status == "any" else status,
        constituency=constituency,
        skill=skill or None,
        q=(q or "").strip() or None,
    )
    found = await service.browse(db=db, actor=actor, filters=filters, after=_decode_cursor(cursor), limit=limit + 1)
    page, next_cursor = _next(found, limit)
    return RequestPage(items=[RequestOut.of(r) for r in page], next_cursor=next_cursor)


@router.get(
    "/requests/{request_id}",
    summary="Read one request",
    response_model=RequestOut,
    openapi_extra=_TOKEN_OPTIONAL,
    tags=["requests"],
    responses=_responses(401, 404),
)
async def read_request(request_id: uuid.UUID, actor: Anyone, db: Db) -> RequestOut:
    """Anyone may read a request, except a pending one: only its owner, its organisers and admins see those."""
    with _answers():
        return RequestOut.of(await service.get_request(db=db, actor=actor, request_id=request_id))


@router.patch(
    "/requests/{request_id}",
    summary="Edit a request",
    response_model=RequestOut,
    tags=["requests"],
    responses=_responses(401, 403, 404, 409, 422),
)
async def edit_request(
    request_id: uuid.UUID, body: RequestPatch, actor: SignedIn, db: Db, request: Request
) -> RequestOut:
    """Owner, organiser of its constituency, or admin; only while open. The people needed for a skill cannot
    drop below those already accepted for it (422), and a skill with accepted people cannot be removed."""
    with _answers():
        req = await service.edit_request(
            db=db, actor=actor, request_id=request_id, changes=body.changes(), who=_who(request, actor)
        )
    return RequestOut.of(req)


@router.post(
    "/requests/{request_id}/close",
    summary="Complete or cancel a request",
    response_model=RequestOut,
    tags=["requests"],
    responses=_responses(401, 403, 404, 409, 422),
)
async def close_request(request_id: uuid.UUID, body: CloseIn, actor: SignedIn, db: Db, request: Request) -> RequestOut:
    """Owner, organiser or admin. `completed` from open or filled; `cancelled` from open, filled or pending."""
    with _answers():
        req = await service.close_request(
            db=db, actor=actor, request_id=request_id, outcome=body.outcome, who=_who(request, actor)
        )
    return RequestOut.of(req)


@router.post(
    "/requests/{request_id}/approve",
    summary="Approve a pending request from X",
    response_model=RequestOut,
    tags=["requests"],
    responses=_responses(401, 403, 404, 409),
)
async def approve_request(request_id: uuid.UUID, actor: SignedIn, db: Db, request: Request) -> RequestOut:
    """Organiser of its constituency or admin; the request becomes open."""
    with _answers():
        return RequestOut.of(
            await service.approve_request(db=db, actor=actor, request_id=request_id, who=_who(request, actor))
        )


@router.post(
    "/requests/{request_id}/reject",
    summary="Reject a pending request from X",
    response_model=RequestOut,
    tags=["requests"],
    responses=_responses(401, 403, 404, 409),
)
async def reject_request(request_id: uuid.UUID, actor: SignedIn, db: Db, request: Request) -> RequestOut:
    """Organiser of its constituency or admin; the request is cancelled with outcome `rejected`."""
    with _answers():
        return RequestOut.of(
            await service.reject_request(db=db, actor=actor, request_id=request_id, who=_who(request, actor))
        )


# -- offers ------------------------------------------------------------------------------------


@router.post(
    "/requests/{request_id}/offers",
    summary="Offer to help",
    status_code=201,
    response_model=OfferOut,
    tags=["offers"],
    responses=_responses(401, 403, 404, 409, 422),
)
async def make_offer(request_id: uuid.UUID, body: OfferIn, actor: SignedIn, db: Db) -> OfferOut:
    """Anyone signed in except the owner (403), while the request is open (409), one live (pending or accepted)
    offer per person (409). `skill`, if given, must be one of the request's skills (422)."""
    with _answers():
        offer = await service.make_offer(
            db=db, actor=actor, request_id=request_id, message=body.message, skill=body.skill
        )
    return OfferOut.of(offer)


@router.get(
    "/requests/{request_id}/offers",
    summary="Offers on a request",
    response_model=OfferPage,
    tags=["offers"],
    responses=_responses(401, 404, 422),
)
async def list_offers(
    request_id: uuid.UUID, actor: SignedIn, db: Db, limit: Limit = 20, cursor: CursorParam = None
) -> OfferPage:
    """Newest first. The owner, its organisers and admins see every offer; anyone else sees only their own."""
    with _answers():
        found = await service.list_offers(
            db=db, actor=actor, request_id=request_id, after=_decode_cursor(cursor), limit=limit + 1
        )
    page, next_cursor = _next(found, limit)
    return OfferPage(items=[OfferOut.of(o) for o in page], next_cursor=next_cursor)


@router.post(
    "/requests/{request_id}/offers/{offer_id}/accept",
    summary="Accept an offer",
    response_model=OfferOut,
    tags=["offers"],
    responses=_responses(401, 403, 404, 409),
)
async def accept_offer(
    request_id: uuid.UUID, offer_id: uuid.UUID, actor: SignedIn, db: Db, request: Request
) -> OfferOut:
    """Owner, organiser or admin; a pending offer on an open request. An offer naming a skill counts against that
    skill (409 if it already has everyone it needs); one without a skill counts against the first skill, in the
    request's order, that still has room. The request is `filled` once everyone needed is accepted."""
    with _answers("No such offer on this request."):
        return OfferOut.of(
            await service.accept_offer(
                db=db, actor=actor, request_id=request_id, offer_id=offer_id, who=_who(request, actor)
            )
        )


@router.post(
    "/requests/{request_id}/offers/{offer_id}/decline",
    summary="Decline an offer",
    response_model=OfferOut,
    tags=["offers"],
    responses=_responses(401, 403, 404, 409),
)
async def decline_offer(
    request_id: uuid.UUID, offer_id: uuid.UUID, actor: SignedIn, db: Db, request: Request
) -> OfferOut:
    """Owner, organiser or admin; only a pending offer."""
    with _answers("No such offer on this request."):
        return OfferOut.of(
            await service.decline_offer(
                db=db, actor=actor, request_id=request_id, offer_id=offer_id, who=_who(request, actor)
            )
        )


@router.post(
    "/requests/{request_id}/offers/{offer_id}/withdraw",
    summary="Withdraw my offer",
    response_model=OfferOut,
    tags=["offers"],
    responses=_responses(401, 403, 404, 409),
)
async def withdraw_offer(request_id: uuid.UUID, offer_id: uuid.UUID, actor: SignedIn, db: Db) -> OfferOut:
    """Only the person who made it; a pending or accepted offer while the request is open or filled. Withdrawing
    an accepted offer frees its place and reopens a filled request."""
    with _answers("No such offer on this request."):
        return OfferOut.of(await service.withdraw_offer(db=db, actor=actor, request_id=request_id, offer_id=offer_id))


# -- invitations -------------------------------------------------------------------------------


@router.post(
    "/requests/{request_id}/invitations",
    summary="Invite a supporter",
    status_code=201,
    response_model=InvitationOut,
    tags=["invitations"],
    responses=_responses(401, 403, 404, 409, 422),
)
async def invite(request_id: uuid.UUID, body: InvitationIn, actor: SignedIn, db: Db, request: Request) -> InvitationOut:
    """Owner, organiser or admin, while the request is open. Not the owner, not an unknown person (422);
    each person once per request (409)."""
    with _answers():
        invitation = await service.invite(
            db=db, actor=actor, request_id=request_id, user_id=body.user_id, who=_who(request, actor)
        )
    return InvitationOut.of(invitation)


# -- mine --------------------------------------------------------------------------------------


@router.get(
    "/me/requests",
    summary="My requests",
    response_model=RequestPage,
    tags=["me"],
    responses=_responses(401, 422),
)
async def my_requests(actor: SignedIn, db: Db, limit: Limit = 20, cursor: CursorParam = None) -> RequestPage:
    """Every request I asked for, in any status, newest first."""
    found = await service.my_requests(db=db, actor=actor, after=_decode_cursor(cursor), limit=limit + 1)
    page, next_cursor = _next(found, limit)
    return RequestPage(items=[RequestOut.of(r) for r in page], next_cursor=next_cursor)


@router.get(
    "/me/offers",
    summary="My offers",
    response_model=MyOfferPage,
    tags=["me"],
    responses=_responses(401, 422),
)
async def my_offers(actor: SignedIn, db: Db, limit: Limit = 20, cursor: CursorParam = None) -> MyOfferPage:
    """Every offer I made, newest first, with the request's title and status."""
    found = await service.my_offers(db=db, actor=actor, after=_decode_cursor(cursor), limit=limit + 1)
    page, next_cursor = _next(found, limit)
    return MyOfferPage(items=[MyOfferOut.of_pair(o, b) for o, b in page], next_cursor=next_cursor)


@router.get(
    "/me/invitations",
    summary="Requests I was invited to",
    response_model=MyInvitationPage,
    tags=["me"],
    responses=_responses(401, 422),
)
async def my_invitations(actor: SignedIn, db: Db, limit: Limit = 20, cursor: CursorParam = None) -> MyInvitationPage:
    """Every invitation sent to me, newest first, with the request's title and status."""
    found = await service.my_invitations(db=db, actor=actor, after=_decode_cursor(cursor), limit=limit + 1)
    page, next_cursor = _next(found, limit)
    return MyInvitationPage(items=[MyInvitationOut.of_pair(i, b) for i, b in page], next_cursor=next_cursor)


# -- export (identity's GET /api/v1/me/export gathers this) ----------------------------------------


class AccountCopyOut(BaseModel):
    display_name: str


class OfferReceivedOut(BaseModel):
    """An offer someone made on one of my requests: who by id only, never their name or message."""

    id: uuid.UUID
    request_id: uuid.UUID
    user_id: uuid.UUID
    skill: str | None
    status: str
    created_at: datetime


class InvitationSentOut(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime


class RequestsExportOut(BaseModel):
    account_copy: AccountCopyOut | None
    requests: list[RequestOut]
    offers_received: list[OfferReceivedOut]
    offers: list[MyOfferOut]
    invitations: list[MyInvitationOut]
    invitations_sent: list[InvitationSentOut]


@internal_router.get("/me/export", response_model=RequestsExportOut)
async def export_me(actor: SignedIn, db: Db) -> RequestsExportOut:
    """Everything this service holds about the caller; of anyone else, ids only."""
    found = await service.export(db=db, user_id=actor.user_id)
    return RequestsExportOut(
        account_copy=AccountCopyOut(display_name=found.display_name) if found.display_name is not None else None,
        requests=[RequestOut.of(r) for r in found.requests],
        offers_received=[OfferReceivedOut(**dict(r)) for r in found.offers_received],
        offers=[MyOfferOut.of_pair(o, b) for o, b in found.offers],
        invitations=[MyInvitationOut.of_pair(i, b) for i, b in found.invitations],
        invitations_sent=[InvitationSentOut(**dict(r)) for r in found.invitations_sent],
    )
