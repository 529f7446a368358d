"""Use cases behind the HTTP API: sign in or link with X, unlink, the admin's settings and status.
Each state change is one transaction with its events (outbox). Tokens and codes are never logged."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from lx_contracts import topics, twitter
from lx_platform import erasure
from lx_platform.outbox import enqueue
from twitter_svc import repository as repo
from twitter_svc.crypto import TokenBox, TokenBoxError
from twitter_svc.domain import SCOPES, STREAMS, AdminSettings, id_after, month_of
from twitter_svc.settings import TwitterSettings
from twitter_svc.xapi import RateState, TokenSet, XApi, XAuthError, XError, XRateLimited, XUser

log = logging.getLogger(__name__)

SERVICE = "twitter-gateway"


@dataclass
class Deps:
    """What the use cases and loops need; built once by the composition root."""

    settings: TwitterSettings
    x: XApi | None
    box: TokenBox | None
    pool: asyncpg.Pool | None = None
    # The campaign account, resolved once (`XApi.account()`).
    campaign: XUser | None = None
    # Why the loops are idle or failing, for the admin's status (no secrets).
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> asyncpg.Pool:
        assert self.pool is not None, "the service has not started"
        return self.pool


class Refused(Exception):
    """A use case refused: the API answers with this status and detail."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def _require_x(deps: Deps) -> tuple[XApi, TokenBox]:
    if deps.x is None or deps.box is None or not deps.settings.sign_in_configured:
        raise Refused(503, "Signing in with X is not configured on this server.", {"Retry-After": "3600"})
    return deps.x, deps.box


def _hash_state(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def _ctx(*parts: object) -> bytes:
    return ":".join(str(p) for p in parts).encode("utf-8")


# -- OAuth ---------------------------------------------------------------------------------------
async def begin_authorization(
    *, deps: Deps, mode: str, user_id: uuid.UUID | None, redirect_uri: str | None = None
) -> str:
    """Remember a fresh state with its sealed PKCE verifier; the URL of X's consent page."""
    from twitter_svc.xapi import pkce_pair

    x, box = _require_x(deps)
    redirect_uri = redirect_uri or deps.settings.oauth_redirect_uri
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    state_hash = _hash_state(state)
    async with deps.db.acquire() as conn:
        await repo.insert_state(
            conn,
            state_hash=state_hash,
            verifier_sealed=box.seal(verifier, context=_ctx("oauth-state", state_hash)),
            mode=mode,
            user_id=user_id,
            expires_at=datetime.now(UTC) + timedelta(seconds=deps.settings.oauth_state_ttl_s),
            redirect_uri=redirect_uri,
        )
        if secrets.randbelow(20) == 0:
            await repo.prune_states(conn)
    return x.authorization_url(redirect_uri=redirect_uri, state=state, code_challenge=challenge, scopes=SCOPES)


@dataclass(frozen=True)
class SignedIn:
    user_id: uuid.UUID
    created: bool
    handle: str
    tokens: dict[str, Any]


@dataclass(frozen=True)
class LinkedResult:
    user_id: uuid.UUID
    handle: str


async def complete_authorization(
    *, deps: Deps, state: str | None, code: str | None, error: str | None
) -> SignedIn | LinkedResult:
    x, box = _require_x(deps)
    if not state:
        raise Refused(400, "The sign-in with X has no state; start again.")
    state_hash = _hash_state(state)
    async with deps.db.acquire() as conn:
        row = await repo.take_state(conn, state_hash=state_hash)
    if row is None:
        raise Refused(400, "This sign-in with X is unknown, expired or already used; start again.")
    if error or not code:
        raise Refused(400, "X did not grant access (the request was declined); nothing was changed.")
    try:
        verifier = box.open(row["code_verifier_sealed"], context=_ctx("oauth-state", state_hash))
    except TokenBoxError as exc:
        raise Refused(400, "This sign-in with X can no longer be completed; start again.") from exc
    try:
        redirect_uri = row["redirect_uri"] or deps.settings.oauth_redirect_uri
        tokens = await x.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=verifier)
        who = await x.me(tokens.access_token)
    except XAuthError as exc:
        raise Refused(400, "X did not accept the authorization code; start again.") from exc
    except XRateLimited as exc:
        raise Refused(503, "X is rate limiting us; try again shortly.", _retry_after(exc.reset_at)) from exc
    except XError as exc:
        log.warning("X sign-in failed", extra={"kind": exc.kind})
        raise Refused(502, "X did not answer as expected; try again shortly.") from exc
    if row["mode"] == "link":
        return await _link(deps=deps, box=box, user_id=row["user_id"], who=who, tokens=tokens)
    return await _login(deps=deps, box=box, who=who, tokens=tokens)


def _retry_after(reset_at: datetime | None) -> dict[str, str]:
    seconds = 60 if reset_at is None else max(1, int((reset_at - datetime.now(UTC)).total_seconds()) + 1)
    return {"Retry-After": str(seconds)}


async def _login(*, deps: Deps, box: TokenBox, who: XUser, tokens: TokenSet) -> SignedIn:
    async with deps.db.acquire() as conn:
        known = await repo.account_by_x_user(conn, who.id)
    answer = await _identity_sign_in(deps, who=who, user_id=known.user_id if known else None)
    try:
        user_id = uuid.UUID(str(answer["user_id"]))
        issued = {
            "access_token": answer["access_token"],
            "refresh_token": answer["refresh_token"],
            "token_type": answer.get("token_type", "bearer"),
            "expires_in": answer["expires_in"],
        }
        created = bool(answer.get("created", False))
    except (KeyError, ValueError, TypeError) as exc:
        raise Refused(502, "Identity's answer was not the documented shape.") from exc
    await _store_link(deps=deps, box=box, user_id=user_id, who=who, tokens=tokens)
    return SignedIn(user_id=user_id, created=created, handle=who.username, tokens=issued)


async def _identity_sign_in(deps: Deps, *, who: XUser, user_id: uuid.UUID | None) -> dict[str, Any]:
    """Identity's internal X sign-in (docs/internal-api.md): a token pair, creating the account if new."""
    key = deps.settings.secret("identity_internal_key")
    try:
        async with httpx.AsyncClient(timeout=deps.settings.identity_timeout_s) as client:
            response = await client.post(
                f"{deps.settings.identity_url}/internal/v1/x-sign-in",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "x_user_id": who.id,
                    "handle": who.username,
                    "display_name": who.name,
                    "user_id": str(user_id) if user_id else None,
                },
            )
    except httpx.HTTPError as exc:
        log.warning("identity did not answer the X sign-in", extra={"error": type(exc).__name__})
        raise Refused(503, "Signing in is not available right now; try again shortly.") from exc
    if response.status_code in (200, 201):
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise Refused(502, "Identity's answer was not JSON.") from exc
        return body
    if response.status_code in (401, 404) and user_id is None:
        log.error("identity refused the X sign-in key or has it switched off", extra={"status": response.status_code})
        raise Refused(503, "Signing in with X is not configured on this server.")
    if response.status_code in (403, 404):
        raise Refused(403, "The account linked to this X account cannot sign in.")
    log.warning("identity refused the X sign-in", extra={"status": response.status_code})
    raise Refused(502, f"Identity answered {response.status_code}; try again shortly.")


async def _link(*, deps: Deps, box: TokenBox, user_id: uuid.UUID, who: XUser, tokens: TokenSet) -> LinkedResult:
    await _store_link(deps=deps, box=box, user_id=user_id, who=who, tokens=tokens)
    return LinkedResult(user_id=user_id, handle=who.username)


async def _store_link(*, deps: Deps, box: TokenBox, user_id: uuid.UUID, who: XUser, tokens: TokenSet) -> None:
    """Store (or refresh) the link with sealed tokens and publish it, in one transaction. An X account
    linked to someone else is a 409; a different X account replacing this person's old one is revoked."""
    now = datetime.now(UTC)
    try:
        async with deps.db.acquire() as conn, conn.transaction():
            if await erasure.is_erased(conn, user_id):  # a token of an erased account, still within its minutes
                raise Refused(403, "This account has been erased.")
            other = await repo.account_by_x_user(conn, who.id)
            if other is not None and other.user_id != user_id:
                raise Refused(409, "This X account is already linked to another Labour Exchange account.")
            previous = await repo.account_of(conn, user_id, lock=True)
            if previous is not None and previous.x_user_id != who.id:
                await _enqueue_revoke(conn, box, previous, reason="replaced")
            await repo.upsert_account(
                conn,
                user_id=user_id,
                x_user_id=who.id,
                handle=who.username,
                access_sealed=box.seal(tokens.access_token, context=_ctx("x-account", user_id, "access")),
                refresh_sealed=(
                    box.seal(tokens.refresh_token, context=_ctx("x-account", user_id, "refresh"))
                    if tokens.refresh_token
                    else None
                ),
                expires_at=tokens.expires_at,
                scopes=list(tokens.scopes),
                at=now,
            )
            await enqueue(
                conn,
                topic=topics.ACCOUNT_LINKED.name,
                service=SERVICE,
                subject=str(user_id),
                data=twitter.AccountLinked(user_id=user_id, x_user_id=who.id, handle=who.username, at=now),
            )
    except asyncpg.UniqueViolationError as exc:  # linked elsewhere at the same moment
        raise Refused(409, "This X account is already linked to another Labour Exchange account.") from exc


async def _enqueue_revoke(conn: asyncpg.Connection, box: TokenBox, linked: repo.Linked, *, reason: str) -> None:
    """Queue the revocation of a link's tokens, resealed for the queue (the row itself is going away)."""
    plain: list[str] = []
    for kind, sealed in (("access", linked.access_token_sealed), ("refresh", linked.refresh_token_sealed)):
        if not sealed:
            continue
        try:
            plain.append(box.open(sealed, context=_ctx("x-account", linked.user_id, kind)))
        except TokenBoxError:
            log.warning("a stored X token no longer opens; it cannot be revoked", extra={"token_kind": kind})
    if not plain:
        return
    # An erasure's revocation names no one: the row outlives the link, and erasure leaves nothing naming
    # the person (earlier ones are resealed under such a key by `rekey_revokes`).
    key = (
        f"revoke:{uuid.uuid4()}" if reason == "erased" else f"revoke:{linked.user_id}:{linked.x_user_id}:{uuid.uuid4()}"
    )
    await repo.enqueue_outgoing(
        conn,
        kind="revoke",
        dedupe_key=key,
        payload={"reason": reason},
        sealed=box.seal(json.dumps(plain), context=_ctx("outgoing", key)),
    )


async def unlink(*, deps: Deps, user_id: uuid.UUID, reason: str = "unlinked") -> bool:
    """Forget a person's X link: delete it, queue the revocation, publish, all at once. False if none."""
    async with deps.db.acquire() as conn, conn.transaction():
        return await unlink_in(conn, deps=deps, user_id=user_id, reason=reason)


async def unlink_in(conn: asyncpg.Connection, *, deps: Deps, user_id: uuid.UUID, reason: str) -> bool:
    linked = await repo.delete_account(conn, user_id)
    if linked is None:
        return False
    if deps.box is not None:
        await _enqueue_revoke(conn, deps.box, linked, reason=reason)
    await enqueue(
        conn,
        topic=topics.ACCOUNT_UNLINKED.name,
        service=SERVICE,
        subject=str(user_id),
        data=twitter.AccountUnlinked(user_id=user_id, at=datetime.now(UTC)),
    )
    return True


async def rekey_revokes(conn: asyncpg.Connection, *, deps: Deps, user_id: uuid.UUID) -> None:
    """Erasure: revocations queued under keys that named the person (before keys stopped doing so) are
    resealed under a key that does not, if still to be sent; closed ones go."""
    for row in await repo.revokes_naming(conn, user_id):
        if row["closed_at"] is not None or deps.box is None:
            await repo.delete_outgoing(conn, row["id"])
            continue
        try:
            tokens = open_revoke(deps.box, dedupe_key=row["dedupe_key"], sealed=row["sealed"] or "")
        except TokenBoxError:
            await repo.delete_outgoing(conn, row["id"])  # cannot be sent anyway
            continue
        key = f"revoke:{uuid.uuid4()}"
        sealed = deps.box.seal(json.dumps(tokens), context=_ctx("outgoing", key))
        await repo.rekey_outgoing(conn, row["id"], dedupe_key=key, sealed=sealed)


async def export(*, deps: Deps, user_id: uuid.UUID) -> dict[str, Any]:
    async with deps.db.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await repo.export_of(conn, user_id)


def open_revoke(box: TokenBox, *, dedupe_key: str, sealed: str) -> list[str]:
    tokens = json.loads(box.open(sealed, context=_ctx("outgoing", dedupe_key)))
    return [str(t) for t in tokens]


# -- admin ---------------------------------------------------------------------------------------
async def get_settings(*, deps: Deps) -> tuple[AdminSettings, asyncpg.Record]:
    return await repo.load_settings(deps.db)


async def put_settings(*, deps: Deps, value: AdminSettings, by: uuid.UUID) -> AdminSettings:
    async with deps.db.acquire() as conn, conn.transaction():
        await repo.save_settings(conn, value, by=by)
    log.info("X settings changed", extra={"by": str(by)})
    return value


def lowest_rate_state(states: list[RateState]) -> RateState | None:
    """The read endpoint closest to its limit (lowest remaining; ties: the latest reset)."""
    known = [s for s in states if s.remaining is not None]
    if not known:
        return None
    return min(known, key=lambda s: (s.remaining, -(s.reset_at.timestamp() if s.reset_at else 0)))


# The endpoints polling and the deletion check use (XApi's names); the status reports the tightest of them.
READ_ENDPOINTS = frozenset({"mentions", "search_recent", "tweets_lookup"})


async def status(*, deps: Deps) -> dict[str, Any]:
    now = datetime.now(UTC)
    value, _ = await repo.load_settings(deps.db)
    async with deps.db.acquire() as conn:
        cursors = await repo.cursors(conn)
        reads, posts = await repo.usage(conn, month_of(now))
        backlog = await repo.outgoing_backlog(conn)
    since: str | None = None
    last_poll: datetime | None = None
    streams: dict[str, Any] = {}
    for stream in STREAMS:
        row = cursors.get(stream)
        sid = row["since_id"] if row else None
        polled = row["last_poll_at"] if row else None
        since = id_after(since, sid)
        if polled is not None and (last_poll is None or polled > last_poll):
            last_poll = polled
        streams[stream] = {"since_id": sid, "last_poll_at": polled}
    states = deps.x.rate_states() if deps.x is not None else []
    reads_states = [s for s in states if s.endpoint in READ_ENDPOINTS]
    lowest = lowest_rate_state(reads_states)
    return {
        "x_configured": deps.settings.x_configured and deps.x is not None,
        "campaign_account": deps.campaign.username if deps.campaign else None,
        "last_poll_at": last_poll,
        "since_id": since,
        "streams": streams,
        "reads_used": reads,
        "posts_used": posts,
        "read_budget_exhausted": reads >= value.monthly_read_budget,
        "post_budget_exhausted": posts >= value.monthly_post_budget,
        "rate_limit_remaining": lowest.remaining if lowest else None,
        "rate_limit_reset": lowest.reset_at if lowest else None,
        "rate_limit_endpoint": lowest.endpoint if lowest else None,
        "outgoing_queued": backlog,
        "notes": dict(deps.notes),
    }
