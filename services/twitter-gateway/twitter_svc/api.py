"""The twitter gateway's HTTP routes: sign in or link with X, unlink, the admin's X settings and status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lx_platform.auth import Principal, optional_principal, require_admin, require_principal
from lx_platform.http import ProblemError
from twitter_svc import service
from twitter_svc.domain import MAX_HASHTAGS, MAX_POLL_S, MIN_POLL_S, validate_settings
from twitter_svc.service import Deps, LinkedResult, Refused

router = APIRouter(prefix="/api/v1", tags=["X (Twitter)"])
# Called by identity for the person's own data export (docs/internal-api.md); the gateway never routes here.
internal_router = APIRouter(prefix="/internal/v1", include_in_schema=False)


async def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(_deps)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]
User = Annotated[Principal, Depends(require_principal)]
Admin = Annotated[Principal, Depends(require_admin)]


def _refused(exc: Refused) -> ProblemError:
    return ProblemError(exc.status, exc.detail, headers=exc.headers)


# -- OAuth ---------------------------------------------------------------------------------------
class XAccountOut(BaseModel):
    handle: str = Field(description="The X username, without the `@`.", examples=["sam_helps"])


class SignedInOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(description="Seconds the access token lives.")
    created: bool = Field(description="True when this sign-in created the account (its consents are pending).")
    x_account: XAccountOut

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIs…",
                    "refresh_token": "rt_9c1b…",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "created": True,
                    "x_account": {"handle": "sam_helps"},
                }
            ]
        }
    )


class LinkedOut(BaseModel):
    x_account: XAccountOut

    model_config = ConfigDict(json_schema_extra={"examples": [{"x_account": {"handle": "sam_helps"}}]})


@router.get(
    "/auth/x/authorize",
    status_code=302,
    response_class=RedirectResponse,
    summary="Start signing in with X, or linking X to your account",
    description=(
        "Answers 302 to X's OAuth 2.0 consent page (PKCE `S256`, a single-use `state` valid 10 minutes, scopes "
        "`tweet.read users.read dm.write offline.access`). `mode=login` is for anyone; `mode=link` needs a "
        "signed-in user (401 otherwise). X sends the browser back to `/api/v1/auth/x/callback`."
    ),
    responses={
        302: {"description": "To X's consent page", "headers": {"Location": {"schema": {"type": "string"}}}},
        401: {"description": "`mode=link` without a valid access token"},
        503: {"description": "X is not configured on this server"},
    },
)
async def authorize(
    deps: DepsDep,
    principal: MaybeUser,
    mode: Annotated[Literal["login", "link"], Query(description="`login` (default) or `link`")] = "login",
    redirect_uri: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Where X sends the browser back: the API's callback (default) or another address "
            "registered in `TWITTER_OAUTH_EXTRA_REDIRECT_URIS`, such as the web client's `/login/x/callback`, "
            "which then calls `/api/v1/auth/x/callback` itself.",
        ),
    ] = None,
) -> RedirectResponse:
    if mode == "link" and principal is None:
        raise ProblemError(401, "Sign in first to link an X account.", headers={"WWW-Authenticate": "Bearer"})
    if redirect_uri is not None and redirect_uri not in deps.settings.allowed_redirect_uris:
        raise ProblemError(
            422,
            "This address is not registered for signing in with X.",
            errors=[{"field": "redirect_uri", "message": "not a registered redirect address"}],
        )
    try:
        url = await service.begin_authorization(
            deps=deps,
            mode=mode,
            user_id=principal.user_id if mode == "link" and principal else None,
            redirect_uri=redirect_uri,
        )
    except Refused as exc:
        raise _refused(exc) from exc
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.get(
    "/auth/x/callback",
    summary="Finish signing in with X (X redirects here)",
    description=(
        "Completes the authorization started by `/auth/x/authorize`. For `login`: signs the X user in, creating "
        "an account with pending consents if none is linked to that X account (`created: true`; accept the terms "
        "with `PATCH /api/v1/me`), and answers a token pair like `POST /api/v1/auth/token`. For `link`: links the "
        "X account to the user who started it and answers `{x_account: {handle}}`; an X account already linked to "
        "someone else is 409. An unknown, expired or already used `state`, or `error=access_denied`, is 400."
    ),
    response_model=SignedInOut | LinkedOut,
    responses={
        400: {"description": "Unknown, expired or used state; declined; code refused by X"},
        403: {"description": "The linked account cannot sign in"},
        409: {"description": "The X account is linked to another account"},
        502: {"description": "X or identity answered unexpectedly"},
        503: {"description": "X is not configured, or is rate limiting"},
    },
)
async def callback(
    deps: DepsDep,
    state: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    try:
        result = await service.complete_authorization(deps=deps, state=state, code=code, error=error)
    except Refused as exc:
        raise _refused(exc) from exc
    if isinstance(result, LinkedResult):
        return {"x_account": {"handle": result.handle}}
    return {**result.tokens, "created": result.created, "x_account": {"handle": result.handle}}


@router.delete(
    "/me/x",
    status_code=204,
    summary="Unlink your X account",
    description="Deletes the link and its tokens here and revokes the tokens at X. 404 if no X account is linked.",
    responses={401: {"description": "Not signed in"}, 404: {"description": "No X account is linked"}},
)
async def unlink(deps: DepsDep, principal: User) -> Response:
    if not await service.unlink(deps=deps, user_id=principal.user_id):
        raise ProblemError(404, "No X account is linked to your account.")
    return Response(status_code=204)


# -- admin ---------------------------------------------------------------------------------------
_SETTINGS_EXAMPLE: dict[str, Any] = {
    "hashtags": ["LabourExchange", "LabourVolunteers"],
    "poll_interval_s": 60,
    "monthly_read_budget": 10000,
    "monthly_post_budget": 1500,
    "posting_enabled": True,
}


class XSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [_SETTINGS_EXAMPLE]})

    hashtags: list[Annotated[str, Field(max_length=101)]] = Field(
        max_length=MAX_HASHTAGS * 4,
        description=f"1-{MAX_HASHTAGS} hashtags to watch, `[A-Za-z0-9_]{{1,100}}`; a leading `#` is accepted and "
        "dropped; case-insensitive duplicates are dropped.",
    )
    poll_interval_s: int = Field(description=f"Seconds between polls of X, {MIN_POLL_S}-{MAX_POLL_S}.")
    monthly_read_budget: int = Field(description="Tweets that may be read from X per calendar month (UTC), >= 0.")
    monthly_post_budget: int = Field(description="Replies and DMs that may be sent per calendar month (UTC), >= 0.")
    posting_enabled: bool = Field(description="Whether replies to tweets and DMs are sent at all.")


class XSettingsOut(BaseModel):
    hashtags: list[str]
    poll_interval_s: int
    monthly_read_budget: int
    monthly_post_budget: int
    posting_enabled: bool
    updated_at: datetime | None = None


class StreamStatus(BaseModel):
    since_id: str | None
    last_poll_at: datetime | None


class XStatusOut(BaseModel):
    x_configured: bool = Field(description="False when no X credentials are set: the loops idle, sign-in is 503.")
    campaign_account: str | None = Field(description="Handle of the account whose mentions are read, once resolved.")
    last_poll_at: datetime | None = Field(description="The latest poll of either stream.")
    since_id: str | None = Field(description="The newest tweet id handled (the higher of the two streams).")
    streams: dict[str, StreamStatus] = Field(description="`mentions` and `search`, each with its own cursor.")
    reads_used: int = Field(description="Tweets read this calendar month (UTC).")
    posts_used: int = Field(description="Replies and DMs sent this calendar month (UTC).")
    read_budget_exhausted: bool = Field(description="Polling is paused until next month.")
    post_budget_exhausted: bool = Field(description="Replies and DMs wait in the queue until next month.")
    rate_limit_remaining: int | None = Field(
        description="Calls left in the current window of the read endpoint closest to its limit (None: not yet known)."
    )
    rate_limit_reset: datetime | None = Field(description="When that endpoint's window resets.")
    rate_limit_endpoint: str | None = Field(description="Which endpoint that is.")
    outgoing_queued: int = Field(description="Replies, DMs and revocations waiting to be sent.")
    notes: dict[str, str] = Field(description="Why a loop is idle or failing, per loop (no secrets).")


class XAdminOut(BaseModel):
    settings: XSettingsOut
    status: XStatusOut

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "settings": {**_SETTINGS_EXAMPLE, "updated_at": "2026-05-01T09:00:00Z"},
                    "status": {
                        "x_configured": True,
                        "campaign_account": "LabourExchange",
                        "last_poll_at": "2026-05-01T09:12:00Z",
                        "since_id": "1786000000000000042",
                        "streams": {
                            "mentions": {"since_id": "1786000000000000042", "last_poll_at": "2026-05-01T09:12:00Z"},
                            "search": {"since_id": "1786000000000000040", "last_poll_at": "2026-05-01T09:12:00Z"},
                        },
                        "reads_used": 412,
                        "posts_used": 9,
                        "read_budget_exhausted": False,
                        "post_budget_exhausted": False,
                        "rate_limit_remaining": 178,
                        "rate_limit_reset": "2026-05-01T09:15:00Z",
                        "rate_limit_endpoint": "GET /2/tweets/search/recent",
                        "outgoing_queued": 0,
                        "notes": {},
                    },
                }
            ]
        }
    )


async def _admin_view(deps: Deps) -> dict[str, Any]:
    value, row = await service.get_settings(deps=deps)
    return {
        "settings": {
            "hashtags": value.hashtags,
            "poll_interval_s": value.poll_interval_s,
            "monthly_read_budget": value.monthly_read_budget,
            "monthly_post_budget": value.monthly_post_budget,
            "posting_enabled": value.posting_enabled,
            "updated_at": row["updated_at"],
        },
        "status": await service.status(deps=deps),
    }


_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Not an admin"},
}


@router.get(
    "/admin/x",
    response_model=XAdminOut,
    summary="X settings and ingestion status",
    description="`settings` as the admin set them and `status` of polling, budgets and X's rate limits.",
    responses=_ADMIN_ERRORS,
)
async def get_admin(deps: DepsDep, _: Admin) -> dict[str, Any]:
    return await _admin_view(deps)


@router.put(
    "/admin/x",
    response_model=XAdminOut,
    summary="Change the X settings",
    description="Replaces all five settings; invalid values are 422 with an `errors` entry per field. Takes effect "
    "at the next poll.",
    responses={**_ADMIN_ERRORS, 422: {"description": "Invalid settings"}},
)
async def put_admin(deps: DepsDep, body: XSettingsIn, principal: Admin) -> dict[str, Any]:
    value, errors = validate_settings(
        hashtags=body.hashtags,
        poll_interval_s=body.poll_interval_s,
        monthly_read_budget=body.monthly_read_budget,
        monthly_post_budget=body.monthly_post_budget,
        posting_enabled=body.posting_enabled,
    )
    if value is None:
        raise ProblemError(
            422, "Some settings are invalid.", errors=[{"field": e.field, "message": e.message} for e in errors]
        )
    await service.put_settings(deps=deps, value=value, by=principal.user_id)
    return await _admin_view(deps)


# -- export (identity's GET /api/v1/me/export gathers this) ----------------------------------------


@internal_router.get("/me/export")
async def export_me(principal: User, deps: DepsDep) -> dict[str, Any]:
    """What the gateway holds about the caller: their X link (never its tokens), their copy of consent to
    DMs, the tweets of theirs it stored (with text unless deleted), and DMs queued or sent to them."""
    return await service.export(deps=deps, user_id=principal.user_id)
