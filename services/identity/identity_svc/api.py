"""Identity's HTTP routes: parse, authorise, call a use case, shape the answer."""

from __future__ import annotations

import base64
import hmac
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from identity_svc import access_log, service
from identity_svc.domain import (
    CONSENT_PURPOSES,
    CONSENT_WORDINGS,
    MAX_DISPLAY_NAME,
    MAX_EMAIL,
    MAX_PASSWORD,
    Erasure,
    RuleBroken,
    User,
)
from identity_svc.export import SectionsUnavailable, gather_sections
from identity_svc.repository import EmailTaken
from lx_platform import audit
from lx_platform.auth import Principal, require_admin, require_principal
from lx_platform.http import ProblemError

router = APIRouter(prefix="/api/v1")
# Called by other services only (docs/internal-api.md); the gateway never routes here.
internal_router = APIRouter(prefix="/internal/v1", tags=["internal"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ConsentsIn(_Body):
    terms: bool = Field(description="Agreement to the terms of use; must be true.")
    discoverable: bool = Field(default=False, description="Organisers may find me and I may be matched.")
    contact_by_x: bool = Field(default=False, description="I may be contacted by X direct message.")


class RegisterIn(_Body):
    email: str = Field(max_length=MAX_EMAIL)
    password: str = Field(max_length=MAX_PASSWORD, description="At least 12 characters.")
    display_name: str = Field(max_length=MAX_DISPLAY_NAME * 2)
    consents: ConsentsIn

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "email": "sam@example.org",
                    "password": "correct horse battery",
                    "display_name": "Sam Patel",
                    "consents": {"terms": True, "discoverable": True, "contact_by_x": False},
                }
            ]
        },
    )


class TokenIn(_Body):
    email: str = Field(max_length=1000)
    password: str = Field(max_length=MAX_PASSWORD)


class RefreshIn(_Body):
    refresh_token: str = Field(min_length=1, max_length=200)


class ConsentsPatch(_Body):
    terms: bool | None = None
    discoverable: bool | None = None
    contact_by_x: bool | None = None


class MePatch(_Body):
    display_name: str | None = Field(default=None, max_length=MAX_DISPLAY_NAME * 2)
    consents: ConsentsPatch | None = None


class AcceptInvitationIn(_Body):
    invite_code: str = Field(min_length=1, max_length=200)
    password: str = Field(max_length=MAX_PASSWORD, description="At least 12 characters.")
    consents: ConsentsIn


class InviteAccountIn(_Body):
    email: str = Field(max_length=MAX_EMAIL)
    display_name: str = Field(max_length=MAX_DISPLAY_NAME * 2)


class InviteAccountsIn(_Body):
    accounts: list[InviteAccountIn] = Field(min_length=1, max_length=5000)


class InvitedAccountOut(BaseModel):
    email: str
    user_id: uuid.UUID
    status: Literal["created", "invited", "registered"]
    invite_code: str | None


class InvitedAccountsOut(BaseModel):
    accounts: list[InvitedAccountOut]


class RoleIn(_Body):
    role: Literal["organiser", "admin"]
    constituency_code: str | None = Field(default=None, max_length=16)


class ConsentsOut(BaseModel):
    terms: bool
    discoverable: bool
    contact_by_x: bool


class XAccountOut(BaseModel):
    handle: str = Field(description="The linked X username, without the `@`.")


class UserOut(BaseModel):
    id: uuid.UUID
    email: str | None = Field(description="None for an account made by signing in with X.")
    display_name: str
    roles: list[str]
    organiser_of: list[str]
    consents: ConsentsOut
    x_account: XAccountOut | None = Field(default=None, description="The linked X account, if any.")
    status: Literal["active", "invited"] = Field(
        default="active", description="`invited`: made by an import, not yet claimed by the person."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c11",
                    "email": "sam@example.org",
                    "display_name": "Sam Patel",
                    "roles": ["supporter"],
                    "organiser_of": [],
                    "consents": {"terms": True, "discoverable": True, "contact_by_x": False},
                    "x_account": {"handle": "sampatel"},
                    "status": "active",
                }
            ]
        }
    )

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            roles=user.roles,
            organiser_of=user.organiser_of,
            consents=ConsentsOut(**user.consents.as_dict()),
            x_account=XAccountOut(handle=user.x_handle) if user.x_handle else None,
            status="invited" if user.invited else "active",
        )


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


def _rules(exc: RuleBroken | service.RuleBrokenMany) -> ProblemError:
    errors = exc.errors if isinstance(exc, service.RuleBrokenMany) else [exc]
    return ProblemError(
        422,
        "Some fields are missing or invalid.",
        errors=[{"field": e.field, "message": e.message} for e in errors],
    )


async def _deps(request: Request) -> service.Deps:
    deps: service.Deps = request.app.state.deps
    return deps


Deps = Annotated[service.Deps, Depends(_deps)]
CurrentUser = Annotated[Principal, Depends(require_principal)]
Admin = Annotated[Principal, Depends(require_admin)]

_UNAUTHENTICATED = {401: {"description": "Missing, invalid or expired token"}}


@router.post(
    "/auth/register",
    summary="Create an account",
    status_code=201,
    response_model=UserOut,
    tags=["auth"],
    responses={409: {"description": "Email already registered"}, 422: {"description": "Invalid input"}},
)
async def register(body: RegisterIn, deps: Deps) -> UserOut:
    """Create an account. Every new account is a supporter."""
    try:
        user = await service.register(
            db=deps.db,
            passwords=deps.passwords,
            email=body.email,
            password=body.password,
            display_name=body.display_name,
            terms=body.consents.terms,
            discoverable=body.consents.discoverable,
            contact_by_x=body.consents.contact_by_x,
        )
    except (RuleBroken, service.RuleBrokenMany) as exc:
        raise _rules(exc) from exc
    except EmailTaken as exc:
        raise ProblemError(
            409,
            "An account with this email already exists. Sign in instead.",
            errors=[{"field": "email", "message": "Already registered."}],
        ) from exc
    return UserOut.of(user)


def _source_address(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for", "")
    first = forwarded.split(",")[0].strip()
    return (first or (request.client.host if request.client else "unknown"))[:64]


@router.post(
    "/auth/token",
    summary="Sign in with email and password",
    response_model=TokenOut,
    tags=["auth"],
    responses={401: {"description": "Wrong email or password"}, 429: {"description": "Too many failures"}},
)
async def token(body: TokenIn, request: Request, deps: Deps) -> TokenOut:
    """Sign in with email and password."""
    try:
        pair = await service.sign_in(
            db=deps.db,
            passwords=deps.passwords,
            tokens=deps.tokens,
            throttle=deps.throttle,
            email=body.email,
            password=body.password,
            source=_source_address(request),
        )
    except service.Throttled as exc:
        raise ProblemError(
            429,
            "Too many failed sign-ins for this account from here. Wait, then try again.",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from exc
    except service.NotAuthenticated as exc:
        raise ProblemError(401, "Wrong email or password.") from exc
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post(
    "/auth/refresh",
    summary="Swap a refresh token for new tokens",
    response_model=TokenOut,
    tags=["auth"],
    responses=_UNAUTHENTICATED,
)
async def refresh(body: RefreshIn, deps: Deps) -> TokenOut:
    """Swap a refresh token for a new pair. Each refresh token works once."""
    try:
        pair = await service.refresh(db=deps.db, tokens=deps.tokens, refresh_token=body.refresh_token)
    except service.NotAuthenticated as exc:
        raise ProblemError(401, "The refresh token is invalid, expired or already used. Sign in again.") from exc
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


class LogoutIn(RefreshIn):
    everywhere: bool = Field(
        default=False,
        description="Also end every other sign-in of the same account (other browsers and phones): all its refresh "
        "tokens stop working; access tokens already issued lapse within their 15 minutes.",
    )


@router.post("/auth/logout", summary="Sign out", status_code=204, tags=["auth"])
async def logout(body: LogoutIn, deps: Deps) -> Response:
    """End this sign-in (or, with `everywhere`, every sign-in of the account): its refresh tokens stop working."""
    await service.logout(db=deps.db, refresh_token=body.refresh_token, everywhere=body.everywhere)
    return Response(status_code=204)


@router.get("/auth/jwks.json", summary="Public keys for verifying access tokens", tags=["auth"])
async def jwks(request: Request, response: Response) -> dict[str, list[dict[str, str]]]:
    """The public keys that verify access tokens."""
    response.headers["Cache-Control"] = "public, max-age=300"
    deps: service.Deps = request.app.state.deps
    return deps.tokens.keys.jwks()


@router.get("/me", summary="Read my account", response_model=UserOut, tags=["me"], responses=_UNAUTHENTICATED)
async def get_me(principal: CurrentUser, deps: Deps) -> UserOut:
    try:
        return UserOut.of(await service.get_user(db=deps.db, user_id=principal.user_id))
    except service.NotFound as exc:
        raise ProblemError(401, "This account no longer exists.") from exc


@router.patch(
    "/me", summary="Change my name or consents", response_model=UserOut, tags=["me"], responses=_UNAUTHENTICATED
)
async def patch_me(body: MePatch, principal: CurrentUser, deps: Deps) -> UserOut:
    """Change your display name or consents; send only what changes."""
    changes = body.consents.model_dump(exclude_none=True) if body.consents else {}
    try:
        user = await service.update_me(
            db=deps.db, user_id=principal.user_id, display_name=body.display_name, consent_changes=changes
        )
    except RuleBroken as exc:
        raise _rules(exc) from exc
    except service.NotFound as exc:
        raise ProblemError(401, "This account no longer exists.") from exc
    return UserOut.of(user)


class ErasureStartedOut(BaseModel):
    status: Literal["in_progress", "completed"]
    services: list[str] = Field(description="The services that erase what they hold and confirm it.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "in_progress", "services": ["skills", "requests", "matcher", "twitter"]}]
        }
    )


@router.delete(
    "/me",
    summary="Delete my account and my data",
    status_code=202,
    response_model=ErasureStartedOut,
    tags=["me"],
    responses={
        **_UNAUTHENTICATED,
        409: {"description": "You are the last admin"},
    },
)
async def delete_me(principal: CurrentUser, deps: Deps) -> ErasureStartedOut:
    """Erase your account at once and ask every service to erase what it holds about you.

    Your email, password, name, consents, roles, X link and sign-ins are deleted now; your tokens stop
    working within seconds; the email can be used for a new account. The other services follow within
    moments (an admin can see when all have confirmed). Asking again answers the same erasure."""
    try:
        erasure = await service.erase(db=deps.db, user_id=principal.user_id)
    except service.NotFound as exc:
        raise ProblemError(401, "This account no longer exists.") from exc
    except service.Conflict as exc:
        raise ProblemError(409, str(exc)) from exc
    return ErasureStartedOut(status=erasure.status, services=list(erasure.services))  # type: ignore[arg-type]


EXPORT_FILENAME = "labour-exchange-export.json"
_EXPORT_EXAMPLE = {
    "generated_at": "2026-11-27T13:00:00+00:00",
    "user_id": "5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c11",
    "identity": {
        "account": {"id": "5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c11", "email": "sam@example.org", "display_name": "Sam"},
        "consents_history": [],
        "roles": [],
        "x_account": None,
        "sign_ins": [],
    },
    "skills": {},
    "requests": {},
    "matcher": {},
    "twitter": {},
}


@router.get(
    "/me/export",
    summary="Download my data",
    tags=["me"],
    responses={
        200: {
            "description": f"Everything the services hold about you, as an attachment named `{EXPORT_FILENAME}`: "
            "`identity` (account, consents history, roles, X link, sign-ins) and one section per other service.",
            "content": {"application/json": {"example": _EXPORT_EXAMPLE}},
        },
        **_UNAUTHENTICATED,
        503: {"description": "A service could not give its part just now; try again after Retry-After seconds"},
    },
)
async def export_me(principal: CurrentUser, request: Request, deps: Deps) -> JSONResponse:
    """All your data, from every service, in one JSON file. It is all or nothing: when any service
    cannot answer, you get 503 and should try again shortly, never a file with parts missing."""
    try:
        own = await service.export_identity(db=deps.db, user_id=principal.user_id)
    except service.NotFound as exc:
        raise ProblemError(401, "This account no longer exists.") from exc
    try:
        sections = await gather_sections(
            deps.export_sources,
            authorization=request.headers["authorization"],
            request_id=request.headers.get("x-request-id"),
            timeout_s=deps.export_timeout_s,
        )
    except SectionsUnavailable as exc:
        raise ProblemError(
            503,
            f"Your data could not be gathered from every service just now ({', '.join(exc.names)}). "
            "Try again in a minute.",
            headers={"Retry-After": "30"},
        ) from exc
    body: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(),
        "user_id": str(principal.user_id),
        "identity": own,
        **sections,
    }
    return JSONResponse(
        body,
        headers={
            "Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"',
            "Cache-Control": "no-store",
        },
    )


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, _, user_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(user_id)
    except ValueError as exc:
        raise ProblemError(422, errors=[{"field": "cursor", "message": "Not a cursor from this list."}]) from exc


# What the admin dependency answers, for the admin routes' documentation.
_ADMIN_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid or expired token"},
    403: {"description": "Signed in, but not an admin"},
}


def _encode_cursor(user: User) -> str:
    return base64.urlsafe_b64encode(f"{user.created_at.isoformat()}|{user.id}".encode()).decode()


@router.get(
    "/admin/users", summary="Find users (admin)", response_model=UserPage, tags=["admin"], responses=_ADMIN_ONLY
)
async def find_users(
    admin: Admin,
    request: Request,
    deps: Deps,
    email: Annotated[str | None, Query(max_length=254, description="Part of an email address")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> UserPage:
    """Find users by (part of) their email address, newest first. The people shown go in the audit log."""
    after = _decode_cursor(cursor) if cursor else None
    users = await service.search_users(
        db=deps.db,
        email=email or None,
        after=after,
        limit=limit + 1,
        shown=limit,
        who=audit.access(request, admin.user_id),
    )
    page, more = users[:limit], len(users) > limit
    return UserPage(items=[UserOut.of(u) for u in page], next_cursor=_encode_cursor(page[-1]) if more else None)


@router.post(
    "/admin/users/{user_id}/roles",
    summary="Grant a role (admin)",
    response_model=UserOut,
    tags=["admin"],
    responses={**_ADMIN_ONLY, 404: {"description": "No such user"}},
)
async def grant_role(user_id: uuid.UUID, body: RoleIn, admin: Admin, request: Request, deps: Deps) -> UserOut:
    """Grant organiser (for one constituency) or admin. Recorded in the audit log."""
    try:
        user = await service.grant_role(
            db=deps.db,
            actor=admin.user_id,
            user_id=user_id,
            role=body.role,
            constituency_code=body.constituency_code,
            who=audit.access(request, admin.user_id),
        )
    except RuleBroken as exc:
        raise _rules(exc) from exc
    except service.NotFound as exc:
        raise ProblemError(404, "No such user.") from exc
    return UserOut.of(user)


@router.delete(
    "/admin/users/{user_id}/roles",
    summary="Revoke a role (admin)",
    response_model=UserOut,
    tags=["admin"],
    responses={
        **_ADMIN_ONLY,
        404: {"description": "No such user"},
        409: {"description": "Revoking admin from the last admin"},
    },
)
async def revoke_role(user_id: uuid.UUID, body: RoleIn, admin: Admin, request: Request, deps: Deps) -> UserOut:
    """Revoke a role; revoking one the user does not hold changes nothing. Recorded in the audit log."""
    try:
        user = await service.revoke_role(
            db=deps.db,
            user_id=user_id,
            role=body.role,
            constituency_code=body.constituency_code,
            who=audit.access(request, admin.user_id),
        )
    except RuleBroken as exc:
        raise _rules(exc) from exc
    except service.NotFound as exc:
        raise ProblemError(404, "No such user.") from exc
    except service.Conflict as exc:
        raise ProblemError(409, str(exc)) from exc
    return UserOut.of(user)


class ErasureOut(BaseModel):
    status: Literal["in_progress", "completed"]
    requested_at: datetime
    completed_at: datetime | None
    confirmed: list[str] = Field(description="Services that have confirmed they erased what they held.")
    pending: list[str] = Field(description="Services yet to confirm.")

    @classmethod
    def of(cls, erasure: Erasure) -> ErasureOut:
        return cls(
            status=erasure.status,  # type: ignore[arg-type]
            requested_at=erasure.requested_at,
            completed_at=erasure.completed_at,
            confirmed=list(erasure.confirmed),
            pending=erasure.pending,
        )


@router.get(
    "/admin/erasures/{user_id}",
    summary="Follow an erasure (admin)",
    response_model=ErasureOut,
    tags=["admin"],
    responses={**_ADMIN_ONLY, 404: {"description": "No erasure of this user id"}},
)
async def erasure_status(user_id: uuid.UUID, _: Admin, deps: Deps) -> ErasureOut:
    """Whether every service has erased what it held about a person. Identity keeps only a hash of the id,
    so the id must be known to ask."""
    try:
        return ErasureOut.of(await service.erasure_status(db=deps.db, user_id=user_id))
    except service.NotFound as exc:
        raise ProblemError(404, "No erasure of this user id.") from exc


@router.post(
    "/auth/invitations/accept",
    summary="Claim an invited account",
    response_model=TokenOut,
    tags=["auth"],
    responses={401: {"description": "Unknown, used or expired invite code"}, 422: {"description": "Invalid input"}},
)
async def accept_invitation(body: AcceptInvitationIn, deps: Deps) -> TokenOut:
    """Set a password and your consents for an account an organiser imported, and sign in."""
    try:
        pair = await service.accept_invitation(
            db=deps.db,
            passwords=deps.passwords,
            tokens=deps.tokens,
            invite_code=body.invite_code,
            password=body.password,
            terms=body.consents.terms,
            discoverable=body.consents.discoverable,
            contact_by_x=body.consents.contact_by_x,
        )
    except (RuleBroken, service.RuleBrokenMany) as exc:
        raise _rules(exc) from exc
    except service.NotAuthenticated as exc:
        raise ProblemError(401, "This invite code is unknown, already used or expired. Ask your organiser.") from exc
    return TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@internal_router.post("/invited-accounts", response_model=InvitedAccountsOut)
async def invite_accounts(body: InviteAccountsIn, admin: Admin, deps: Deps) -> InvitedAccountsOut:
    """Create invited accounts for a supporter import; existing accounts are reported, never changed."""
    try:
        results = await service.invite_accounts(
            db=deps.db, actor=admin.user_id, accounts=[(a.email, a.display_name) for a in body.accounts]
        )
    except (RuleBroken, service.RuleBrokenMany) as exc:
        raise _rules(exc) from exc
    except service.Conflict as exc:
        raise ProblemError(409, str(exc)) from exc
    return InvitedAccountsOut(
        accounts=[
            InvitedAccountOut(email=r.email, user_id=r.user_id, status=r.status, invite_code=r.invite_code)  # type: ignore[arg-type]
            for r in results
        ]
    )


class XSignInIn(_Body):
    x_user_id: str = Field(pattern=r"^[0-9]{1,32}$", description="X's numeric user id, as a string.")
    handle: str = Field(pattern=r"^[A-Za-z0-9_]{1,50}$", description="The X username, without the `@`.")
    display_name: str = Field(max_length=1000, description="The name shown on X; cut to 80 characters.")
    user_id: uuid.UUID | None = Field(
        default=None,
        strict=False,  # a UUID arrives as a JSON string
        description="The account the gateway already knows is linked to this X account, if any.",
    )

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"x_user_id": "1580000000000000001", "handle": "sampatel", "display_name": "Sam Patel", "user_id": None}
            ]
        },
    )


class XSignInOut(TokenOut):
    user_id: uuid.UUID
    created: bool = Field(description="True when this sign-in created the account.")


def _x_sign_in_key(request: Request, deps: Deps) -> None:
    """Only the twitter gateway, presenting the shared key, may sign people in with X."""
    if deps.x_sign_in_key is None:
        raise ProblemError(404, "Signing in with X is not configured.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), deps.x_sign_in_key.encode()):
        raise ProblemError(401, "A valid internal key is required.", headers={"WWW-Authenticate": "Bearer"})


@internal_router.post(
    "/x-sign-in",
    response_model=XSignInOut,
    dependencies=[Depends(_x_sign_in_key)],
    responses={
        201: {"description": "Account created", "model": XSignInOut},
        401: {"description": "Missing or wrong internal key"},
        403: {"description": "The account cannot sign in (an invitation not yet claimed)"},
        404: {"description": "Not configured, or no such account"},
        422: {"description": "Invalid input"},
    },
)
async def x_sign_in(body: XSignInIn, response: Response, deps: Deps) -> XSignInOut:
    """Sign in someone the twitter gateway authenticated with X, creating their account on first sign-in."""
    try:
        result = await service.x_sign_in(
            db=deps.db,
            tokens=deps.tokens,
            x_user_id=body.x_user_id,
            handle=body.handle,
            display_name=body.display_name,
            user_id=body.user_id,
        )
    except RuleBroken as exc:
        raise _rules(exc) from exc
    except service.NotFound as exc:
        raise ProblemError(404, "No such user.") from exc
    except service.CannotSignIn as exc:
        raise ProblemError(
            403, "This account was invited and is not yet claimed; accept the invitation first."
        ) from exc
    except service.Conflict as exc:
        raise ProblemError(409, str(exc)) from exc
    response.status_code = 201 if result.created else 200
    pair = result.tokens
    return XSignInOut(
        user_id=result.user_id,
        created=result.created,
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


# -- consent wording -------------------------------------------------------------------------------


class ConsentWordingOut(BaseModel):
    purpose: Literal["terms", "discoverable", "contact_by_x"]
    version: str = Field(description="Stored with every consent given or withdrawn while this wording is in force.")
    text: str


class ConsentWordingsOut(BaseModel):
    items: list[ConsentWordingOut]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"purpose": "terms", "version": "terms-2026-11", "text": "I agree to the terms of use..."},
                    ]
                }
            ]
        }
    )


@router.get(
    "/consents/wording",
    summary="The wording of each consent",
    response_model=ConsentWordingsOut,
    tags=["auth"],
)
async def consent_wording(response: Response) -> ConsentWordingsOut:
    """What a person agrees to for each purpose (terms, discoverable, contact_by_x) and the version in force;
    registering, claiming an invitation and changing consents record that version. Anyone may read it."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return ConsentWordingsOut(
        items=[
            ConsentWordingOut(purpose=w.purpose, version=w.version, text=w.text)  # type: ignore[arg-type]
            for w in (CONSENT_WORDINGS[p] for p in CONSENT_PURPOSES)
        ]
    )


# -- access log --------------------------------------------------------------------------------------


class AccessEntryOut(BaseModel):
    at: datetime
    service: str = Field(description="The service that served the data and wrote the entry.")
    action: str = Field(
        description="`supporters.search`, `matches.view`, `users.search`, `role.grant`, `role.revoke`, "
        "`request.approve`, `request.reject`, `offer.accept`, `offer.decline`, `supporters.import`."
    )
    subjects: list[uuid.UUID] = Field(description="Whose data; an erased person shows as the nil uuid.")
    route: str
    resource: str | None = Field(description="What was acted on when it is not a person: a request or offer id.")
    request_id: str | None


class AccessLogPage(BaseModel):
    items: list[AccessEntryOut]
    next_cursor: str | None


_ACCESS_LOG_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_UNAUTHENTICATED,
    422: {"description": "Not a cursor from this list"},
    503: {"description": "A service could not give its part just now; try again after Retry-After seconds"},
}


async def _access_log(
    *, request: Request, deps: service.Deps, actor: uuid.UUID, cursor: str | None, limit: int
) -> AccessLogPage:
    try:
        after = access_log.decode_cursor(cursor) if cursor else None
    except access_log.BadCursor as exc:
        raise ProblemError(422, errors=[{"field": "cursor", "message": "Not a cursor from this list."}]) from exc
    params = {name: access_log.page_params(name, after, limit + 1) for name in deps.access_log_sources}
    if actor is not None:
        for p in params.values():
            p["actor"] = str(actor)
    try:
        sections = await gather_sections(
            deps.access_log_sources,
            authorization=request.headers["authorization"],
            request_id=request.headers.get("x-request-id"),
            timeout_s=deps.export_timeout_s,
            path=audit.ACCESS_LOG_PATH,
            params=params,
        )
        parts = [access_log.parse_items(name, body) for name, body in sections.items()]
    except (SectionsUnavailable, ValueError) as exc:
        names = exc.names if isinstance(exc, SectionsUnavailable) else [str(exc).split(":")[0]]
        raise ProblemError(
            503,
            f"The access log could not be gathered from every service just now ({', '.join(names)}). "
            "Try again in a minute.",
            headers={"Retry-After": "30"},
        ) from exc
    own_params = access_log.page_params("identity", after, limit + 1)
    own = await service.access_log(
        db=deps.db,
        actor=actor,
        before_at=after.at if after else None,
        before_id=int(own_params["before_id"]) if "before_id" in own_params else None,
        limit=limit + 1,
    )
    parts.append([access_log.Item("identity", e.id, e.at, audit.EntryOut.of(e).model_dump(mode="json")) for e in own])
    page, next_cursor = access_log.merge(parts, limit)
    return AccessLogPage(
        items=[
            AccessEntryOut(
                at=i.at,
                service=i.service,
                action=i.body["action"],
                subjects=i.body["subjects"],
                route=i.body["route"],
                resource=i.body.get("resource"),
                request_id=i.body.get("request_id"),
            )
            for i in page
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/me/access-log",
    summary="What I looked at or changed of other people's data",
    response_model=AccessLogPage,
    tags=["me"],
    responses=_ACCESS_LOG_RESPONSES,
)
async def my_access_log(
    principal: CurrentUser,
    request: Request,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> AccessLogPage:
    """Every time you, as an organiser or admin, searched supporters, viewed a request's matches, approved or
    rejected a request, accepted or declined someone's offer, searched users, changed roles or imported
    supporters: newest first, with whose data it was. A supporter's log is empty."""
    return await _access_log(request=request, deps=deps, actor=principal.user_id, cursor=cursor, limit=limit)


@router.get(
    "/admin/access-log",
    summary="What someone looked at or changed (admin)",
    response_model=AccessLogPage,
    tags=["admin"],
    responses={**_ACCESS_LOG_RESPONSES, **_ADMIN_ONLY},
)
async def admin_access_log(
    _: Admin,
    request: Request,
    deps: Deps,
    actor: Annotated[uuid.UUID, Query(description="The organiser or admin whose actions to show.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> AccessLogPage:
    """Anyone's access log, as `GET /api/v1/me/access-log` shows it to them."""
    return await _access_log(request=request, deps=deps, actor=actor, cursor=cursor, limit=limit)
