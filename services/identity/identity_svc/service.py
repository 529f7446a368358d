"""Identity use cases: each runs in one transaction and writes its events to the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg
from pydantic import BaseModel

from identity_svc import repository as repo
from identity_svc.domain import (
    ADMIN,
    CONSENT_PURPOSES,
    ERASURE_SERVICES,
    INVITED,
    NO_CONSENTS,
    Consents,
    Erasure,
    RoleGrant,
    RuleBroken,
    User,
    change_consents,
    check_password,
    check_role_grant,
    confirm_erasure,
    display_name_from_x,
    initial_consents,
    normalise_display_name,
    normalise_email,
)
from identity_svc.passwords import Passwords
from identity_svc.tokens import KeyRing, TokenPair, hash_opaque_token, issue_access_token, new_opaque_token
from lx_contracts import identity as ev
from lx_contracts import topics
from lx_contracts.identity import subject_hash
from lx_platform import audit
from lx_platform.outbox import enqueue
from lx_platform.sealing import KEYRING

SERVICE = "identity"


class NotAuthenticated(Exception):
    pass


class Throttled(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


class CannotSignIn(Exception):
    """The account exists but may not sign in this way (an invited account not yet claimed)."""


class RuleBrokenMany(Exception):
    """Several inputs break rules at once; all are reported together."""

    def __init__(self, errors: list[RuleBroken]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


T = TypeVar("T")


def _collect(errors: list[RuleBroken], check: Callable[[], T]) -> T | None:
    try:
        return check()
    except RuleBroken as exc:
        errors.append(exc)
        return None


@dataclass(frozen=True)
class TokenPolicy:
    keys: KeyRing
    issuer: str
    audience: str
    access_ttl_s: int
    refresh_ttl_s: int


@dataclass(frozen=True)
class ThrottlePolicy:
    limit: int
    window_s: int


@dataclass(frozen=True)
class Deps:
    """What the routes hand to the use cases."""

    db: asyncpg.Pool
    passwords: Passwords
    tokens: TokenPolicy
    throttle: ThrottlePolicy
    # The twitter gateway's key for the internal X sign-in; None turns that endpoint off.
    x_sign_in_key: str | None = None
    # Section name to base URL of the services asked for their part of a person's export.
    export_sources: dict[str, str] = field(default_factory=dict)
    export_timeout_s: float = 10.0
    # The export sources that keep an audit log, for a person's access log.
    access_log_sources: dict[str, str] = field(default_factory=dict)


def _consent_state(c: Consents) -> ev.ConsentState:
    return ev.ConsentState(discoverable=c.discoverable, contact_by_x=c.contact_by_x)


async def _emit(conn: asyncpg.Connection, topic: topics.Topic, user_id: uuid.UUID, data: BaseModel) -> None:
    await enqueue(conn, topic=topic.name, service=SERVICE, subject=str(user_id), data=data)


async def register(
    *,
    db: asyncpg.Pool,
    passwords: Passwords,
    email: str,
    password: str,
    display_name: str,
    terms: bool,
    discoverable: bool,
    contact_by_x: bool,
    admin: bool = False,
) -> User:
    errors: list[RuleBroken] = []
    email = _collect(errors, lambda: normalise_email(email)) or email
    display_name = _collect(errors, lambda: normalise_display_name(display_name)) or display_name
    _collect(errors, lambda: check_password(password))
    consents = _collect(
        errors, lambda: initial_consents(terms=terms, discoverable=discoverable, contact_by_x=contact_by_x)
    )
    if errors or consents is None:
        raise RuleBrokenMany(errors)
    password_hash = await passwords.hash(password)
    user_id = uuid.uuid4()
    async with db.acquire() as conn, conn.transaction():
        await repo.insert_user(
            conn,
            user_id=user_id,
            email=email,
            password_hash=password_hash,
            display_name=display_name,
            consents=consents,
        )
        await _emit(
            conn,
            topics.USER_REGISTERED,
            user_id,
            ev.UserRegistered(
                user_id=user_id, display_name=display_name, roles=["supporter"], consents=_consent_state(consents)
            ),
        )
        if admin:
            await repo.add_grant(conn, user_id, RoleGrant(ADMIN), granted_by=None)
            await _emit(conn, topics.ROLE_GRANTED, user_id, ev.RoleGranted(user_id=user_id, role=ADMIN))
        user = await repo.get_user(conn, user_id)
    assert user is not None
    return user


async def _issue_pair(conn: asyncpg.Connection, user: User, policy: TokenPolicy, *, family_id: uuid.UUID) -> TokenPair:
    refresh = new_opaque_token()
    await repo.insert_refresh_token(
        conn,
        token_hash=hash_opaque_token(refresh),
        family_id=family_id,
        user_id=user.id,
        expires_at=datetime.now(UTC) + timedelta(seconds=policy.refresh_ttl_s),
    )
    access = issue_access_token(
        policy.keys, user, issuer=policy.issuer, audience=policy.audience, ttl_s=policy.access_ttl_s
    )
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=policy.access_ttl_s)


async def sign_in(
    *,
    db: asyncpg.Pool,
    passwords: Passwords,
    tokens: TokenPolicy,
    throttle: ThrottlePolicy,
    email: str,
    password: str,
    source: str,
) -> TokenPair:
    """Exchange email and password for tokens; throttled per account and source address."""
    email = email.strip()[:254]
    async with db.acquire() as conn:
        failures = await repo.recent_failures(conn, email=email, source=source, window_s=throttle.window_s)
        if len(failures) >= throttle.limit:
            oldest = failures[-throttle.limit]
            wait = (oldest + timedelta(seconds=throttle.window_s)) - datetime.now(UTC)
            raise Throttled(max(1, int(wait.total_seconds()) + 1))
        found = await repo.get_credentials(conn, email)
    user, password_hash = found if found else (None, None)
    if not await passwords.verify(password_hash, password) or user is None:
        async with db.acquire() as conn:
            await repo.record_failure(conn, email=email, source=source)
        raise NotAuthenticated
    async with db.acquire() as conn, conn.transaction():
        await repo.clear_failures(conn, email=email, source=source)
        return await _issue_pair(conn, user, tokens, family_id=uuid.uuid4())


async def refresh(*, db: asyncpg.Pool, tokens: TokenPolicy, refresh_token: str) -> TokenPair:
    """Rotate a refresh token; presenting one already used revokes its whole family."""
    token_hash = hash_opaque_token(refresh_token)
    async with db.acquire() as conn:
        async with conn.transaction():
            row = await repo.use_refresh_token(conn, token_hash)
            if row is not None:
                user = await repo.get_user(conn, row["user_id"])
                if user is not None:
                    return await _issue_pair(conn, user, tokens, family_id=row["family_id"])
        seen = await repo.find_refresh_token(conn, token_hash)
        if seen is not None and seen["used_at"] is not None:
            # Reuse of a rotated token: someone else may hold the family. End it.
            await repo.revoke_family(conn, seen["family_id"])
    raise NotAuthenticated


async def logout(*, db: asyncpg.Pool, refresh_token: str, everywhere: bool = False) -> None:
    async with db.acquire() as conn:
        seen = await repo.find_refresh_token(conn, hash_opaque_token(refresh_token))
        if seen is None:
            return
        if everywhere and seen["used_at"] is None and seen["revoked_at"] is None:
            # Only a live token speaks for the account everywhere; an old copy ends just its own family.
            await repo.revoke_all_refresh_tokens(conn, seen["user_id"])
        else:
            await repo.revoke_family(conn, seen["family_id"])


async def get_user(*, db: asyncpg.Pool, user_id: uuid.UUID) -> User:
    async with db.acquire() as conn:
        user = await repo.get_user(conn, user_id)
    if user is None:
        raise NotFound
    return user


async def update_me(
    *, db: asyncpg.Pool, user_id: uuid.UUID, display_name: str | None, consent_changes: dict[str, bool]
) -> User:
    async with db.acquire() as conn, conn.transaction():
        user = await repo.get_user(conn, user_id, for_update=True)
        if user is None:
            raise NotFound
        name = normalise_display_name(display_name) if display_name is not None else user.display_name
        consents = change_consents(user.consents, consent_changes)
        if name == user.display_name and consents == user.consents:
            return user
        await repo.update_profile(conn, user_id, display_name=name, consents=consents)
        changed = tuple(p for p in CONSENT_PURPOSES if getattr(consents, p) != getattr(user.consents, p))
        if changed:
            await repo.record_consents(conn, user_id, consents, purposes=changed)
        await _emit(
            conn,
            topics.USER_UPDATED,
            user_id,
            ev.UserUpdated(user_id=user_id, display_name=name, consents=_consent_state(consents)),
        )
        updated = await repo.get_user(conn, user_id)
    assert updated is not None
    return updated


async def search_users(
    *,
    db: asyncpg.Pool,
    email: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    shown: int,
    who: audit.Access,
) -> list[User]:
    """An admin's search; the first `shown` people found (the page the admin sees) go in the audit log."""
    async with db.acquire() as conn, conn.transaction():
        found = await repo.search_users(conn, email=email, after=after, limit=limit)
        await audit.record(conn, who, "users.search", (u.id for u in found[:shown]))
        return found


async def grant_role(
    *,
    db: asyncpg.Pool,
    actor: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    constituency_code: str | None,
    who: audit.Access | None = None,
) -> User:
    grant = check_role_grant(role, constituency_code)
    async with db.acquire() as conn, conn.transaction():
        if await repo.get_user(conn, user_id, for_update=True) is None:
            raise NotFound
        if who is not None:
            await audit.record(conn, who, "role.grant", [user_id], resource=_grant_name(grant))
        if await repo.add_grant(conn, user_id, grant, granted_by=actor):
            await _emit(
                conn,
                topics.ROLE_GRANTED,
                user_id,
                ev.RoleGranted(user_id=user_id, role=grant.role, constituency_code=grant.constituency_code or None),
            )
        user = await repo.get_user(conn, user_id)
    assert user is not None
    return user


async def revoke_role(
    *,
    db: asyncpg.Pool,
    user_id: uuid.UUID,
    role: str,
    constituency_code: str | None,
    who: audit.Access | None = None,
) -> User:
    grant = check_role_grant(role, constituency_code)
    async with db.acquire() as conn, conn.transaction():
        user = await repo.get_user(conn, user_id, for_update=True)
        if user is None:
            raise NotFound
        if grant.role == ADMIN and user.is_admin and await repo.count_admins(conn) <= 1:
            raise Conflict("This is the last admin; grant admin to someone else first.")
        if who is not None:
            await audit.record(conn, who, "role.revoke", [user_id], resource=_grant_name(grant))
        if await repo.remove_grant(conn, user_id, grant):
            await _emit(
                conn,
                topics.ROLE_REVOKED,
                user_id,
                ev.RoleRevoked(user_id=user_id, role=grant.role, constituency_code=grant.constituency_code or None),
            )
        updated = await repo.get_user(conn, user_id)
    assert updated is not None
    return updated


def _grant_name(grant: RoleGrant) -> str:
    return f"{grant.role}:{grant.constituency_code}" if grant.constituency_code else grant.role


async def access_log(
    *, db: asyncpg.Pool, actor: uuid.UUID, before_at: datetime | None, before_id: int | None, limit: int
) -> list[audit.Entry]:
    """Identity's own part of someone's access log (their admin searches and role changes)."""
    async with db.acquire() as conn:
        return await audit.actions_of(conn, actor, before_at=before_at, before_id=before_id, limit=limit)


async def ensure_bootstrap_admin(*, db: asyncpg.Pool, passwords: Passwords, email: str, password: str) -> None:
    """Create the first admin from settings, or make sure the existing account holds the admin role."""
    async with db.acquire() as conn:
        found = await repo.get_credentials(conn, email)
    if found is None:
        try:
            await register(
                db=db,
                passwords=passwords,
                email=email,
                password=password,
                display_name="Admin",
                terms=True,
                discoverable=False,
                contact_by_x=False,
                admin=True,
            )
            return
        except repo.EmailTaken:  # another replica created it first
            return
    user, _ = found
    if not user.is_admin:
        await grant_role(db=db, actor=user.id, user_id=user.id, role=ADMIN, constituency_code=None)


async def housekeeping(*, db: asyncpg.Pool, throttle: ThrottlePolicy) -> None:
    async with db.acquire() as conn:
        await repo.prune(conn, failure_window_s=throttle.window_s)
        # Normally the first service's confirmation removes it; this catches those no service confirmed.
        await repo.drop_published_erasure_events(conn, topics.USER_ERASED.name, key=None)


INVITATION_TTL = timedelta(days=30)


@dataclass(frozen=True)
class InvitedAccount:
    email: str
    user_id: uuid.UUID
    status: str  # created | invited | registered
    invite_code: str | None


async def invite_accounts(
    *, db: asyncpg.Pool, actor: uuid.UUID, accounts: list[tuple[str, str]]
) -> list[InvitedAccount]:
    """Create invited accounts for an import, idempotently: existing accounts are reported, not changed."""
    errors: list[RuleBroken] = []
    clean: list[tuple[str, str]] = []
    for index, (email, display_name) in enumerate(accounts):
        row: list[RuleBroken] = []
        clean_email = _collect(row, lambda email=email: normalise_email(email))  # type: ignore[misc]
        clean_name = _collect(row, lambda name=display_name: normalise_display_name(name))  # type: ignore[misc]
        errors += [RuleBroken(f"accounts.{index}.{e.field}", e.message) for e in row]
        clean.append((clean_email or email, clean_name or display_name))
    if errors:
        raise RuleBrokenMany(errors)
    results: list[InvitedAccount] = []
    try:
        async with db.acquire() as conn, conn.transaction():
            for email, display_name in clean:
                found = await repo.get_credentials(conn, email)
                if found is not None:
                    user = found[0]
                    results.append(InvitedAccount(email, user.id, "invited" if user.invited else "registered", None))
                    continue
                user_id = uuid.uuid4()
                await repo.insert_user(
                    conn,
                    user_id=user_id,
                    email=email,
                    password_hash=None,
                    display_name=display_name,
                    consents=NO_CONSENTS,
                    status=INVITED,
                )
                await _emit(
                    conn,
                    topics.USER_REGISTERED,
                    user_id,
                    ev.UserRegistered(
                        user_id=user_id,
                        display_name=display_name,
                        roles=["supporter"],
                        consents=_consent_state(NO_CONSENTS),
                        invited=True,
                    ),
                )
                code = new_opaque_token()
                await repo.insert_invitation(
                    conn,
                    code_hash=hash_opaque_token(code),
                    user_id=user_id,
                    created_by=actor,
                    expires_at=datetime.now(UTC) + INVITATION_TTL,
                )
                results.append(InvitedAccount(email, user_id, "created", code))
    except repo.EmailTaken as exc:  # another import or registration took an email meanwhile
        raise Conflict("Some of these accounts were created meanwhile; run the import again.") from exc
    return results


async def accept_invitation(
    *,
    db: asyncpg.Pool,
    passwords: Passwords,
    tokens: TokenPolicy,
    invite_code: str,
    password: str,
    terms: bool,
    discoverable: bool,
    contact_by_x: bool,
) -> TokenPair:
    """Claim an invited account: set its password and consents, and sign in."""
    errors: list[RuleBroken] = []
    _collect(errors, lambda: check_password(password))
    consents = _collect(
        errors, lambda: initial_consents(terms=terms, discoverable=discoverable, contact_by_x=contact_by_x)
    )
    if errors or consents is None:
        raise RuleBrokenMany(errors)
    password_hash = await passwords.hash(password)
    async with db.acquire() as conn, conn.transaction():
        user_id = await repo.use_invitation(conn, hash_opaque_token(invite_code))
        if user_id is None:
            raise NotAuthenticated
        await repo.activate(conn, user_id, password_hash=password_hash, consents=consents)
        user = await repo.get_user(conn, user_id)
        assert user is not None
        await _emit(
            conn,
            topics.USER_UPDATED,
            user_id,
            ev.UserUpdated(user_id=user_id, display_name=user.display_name, consents=_consent_state(consents)),
        )
        return await _issue_pair(conn, user, tokens, family_id=uuid.uuid4())


# -- signing in with X -----------------------------------------------------------------------------

# A link identity records itself when it creates an account from an X sign-in is older than any link
# event: the twitter gateway's events are the record of who is linked to what.
_PROVISIONAL_LINK = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class XSignIn:
    user_id: uuid.UUID
    created: bool
    tokens: TokenPair


async def x_sign_in(
    *,
    db: asyncpg.Pool,
    tokens: TokenPolicy,
    x_user_id: str,
    handle: str,
    display_name: str,
    user_id: uuid.UUID | None,
) -> XSignIn:
    """Sign in someone the twitter gateway has authenticated with X: the account it names, or the account
    linked to this X account, or a new account (no email, no password, terms pending) linked to it."""
    if user_id is not None:
        return await _x_sign_in_existing(db=db, tokens=tokens, user_id=user_id)
    name = display_name_from_x(display_name, handle)
    for _ in range(3):
        try:
            async with db.acquire() as conn, conn.transaction():
                user = await repo.user_by_x_id(conn, x_user_id)
                if user is not None:
                    if user.invited:
                        raise CannotSignIn
                    return XSignIn(user.id, False, await _issue_pair(conn, user, tokens, family_id=uuid.uuid4()))
                return await _create_from_x(conn, tokens=tokens, x_user_id=x_user_id, handle=handle, name=name)
        except repo.XLinkTaken:
            continue  # a concurrent first sign-in with this X account won; this one was undone: sign in to it
    raise Conflict("This X account is being signed in elsewhere at this moment; try again.")


async def _x_sign_in_existing(*, db: asyncpg.Pool, tokens: TokenPolicy, user_id: uuid.UUID) -> XSignIn:
    async with db.acquire() as conn, conn.transaction():
        user = await repo.get_user(conn, user_id)
        if user is None:
            raise NotFound
        if user.invited:
            raise CannotSignIn
        return XSignIn(user.id, False, await _issue_pair(conn, user, tokens, family_id=uuid.uuid4()))


async def _create_from_x(
    conn: asyncpg.Connection, *, tokens: TokenPolicy, x_user_id: str, handle: str, name: str
) -> XSignIn:
    user_id = uuid.uuid4()
    await repo.insert_user(
        conn, user_id=user_id, email=None, password_hash=None, display_name=name, consents=NO_CONSENTS
    )
    # Raises XLinkTaken (and so undoes the account) when a concurrent first sign-in linked it first.
    await repo.insert_x_link(conn, user_id=user_id, x_user_id=x_user_id, handle=handle, as_of=_PROVISIONAL_LINK)
    await _emit(
        conn,
        topics.USER_REGISTERED,
        user_id,
        ev.UserRegistered(
            user_id=user_id,
            display_name=name,
            roles=["supporter"],
            consents=_consent_state(NO_CONSENTS),
            invited=False,
        ),
    )
    user = await repo.get_user(conn, user_id)
    assert user is not None
    return XSignIn(user_id, True, await _issue_pair(conn, user, tokens, family_id=uuid.uuid4()))


async def x_account_linked(
    conn: asyncpg.Connection, *, user_id: uuid.UUID, x_user_id: str, handle: str, at: datetime
) -> None:
    """Apply the twitter gateway's link event (inside the consumer's transaction)."""
    await repo.upsert_x_link(conn, user_id=user_id, x_user_id=x_user_id, handle=handle, as_of=at)


async def x_account_unlinked(conn: asyncpg.Connection, *, user_id: uuid.UUID, at: datetime) -> None:
    await repo.delete_x_link(conn, user_id=user_id, as_of=at)


# -- erasure ----------------------------------------------------------------------------------------


async def erase(*, db: asyncpg.Pool, user_id: uuid.UUID) -> Erasure:
    """Erase a person's account in one transaction and ask every other service to erase theirs.
    Asking again (a second click while the old access token still works) answers the same erasure."""
    key = subject_hash(user_id)
    async with db.acquire() as conn, conn.transaction():
        user = await repo.get_user(conn, user_id, for_update=True)
        if user is None:
            existing = await repo.get_erasure(conn, key)
            if existing is None:
                raise NotFound
            return existing
        if user.is_admin and await repo.count_admins(conn) <= 1:
            raise Conflict("You are the last admin; grant admin to someone else before deleting your account.")
        now = datetime.now(UTC)
        subject_key = await KEYRING.for_person(conn, user_id)
        await repo.erase_user(conn, user_id, email=user.email, kid=subject_key.kid if subject_key else None)
        await audit.forget(conn, user_id)
        erasure = Erasure(requested_at=now, services=ERASURE_SERVICES, confirmed=(), completed_at=None)
        await repo.insert_erasure(conn, key, erasure)
        await _emit(conn, topics.USER_ERASED, user_id, ev.UserErased(user_id=user_id, subject_hash=key, at=now))
    return erasure


async def erasure_confirmed(conn: asyncpg.Connection, *, user_id: uuid.UUID, service: str, at: datetime) -> None:
    """Apply one service's erasure-completed event (inside the consumer's transaction)."""
    key = subject_hash(user_id)
    erasure = await repo.get_erasure(conn, key, for_update=True)
    if erasure is None:
        return  # not an erasure identity asked for
    updated = confirm_erasure(erasure, service, at)
    if updated != erasure:
        await repo.save_erasure(conn, key, updated)
    # A service has read the erasure event, so it is on the broker: the outbox copy may go.
    subject_key = await KEYRING.for_person(conn, user_id)
    if subject_key is not None:
        await repo.drop_published_erasure_events(conn, topics.USER_ERASED.name, key=str(subject_key.kid))
    if updated.completed_at is not None:
        # Every service is done: destroy the person's key, and with it every sealed field the topics, the
        # dead-letter topics and any outbox still hold about them (ADR 15).
        await conn.execute("SELECT keyvault.shred($1)", user_id)
        KEYRING.forget(user_id)


async def erasure_status(*, db: asyncpg.Pool, user_id: uuid.UUID) -> Erasure:
    async with db.acquire() as conn:
        erasure = await repo.get_erasure(conn, subject_hash(user_id))
    if erasure is None:
        raise NotFound
    return erasure


async def export_identity(*, db: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, object]:
    """Identity's section of a person's export: the account, consents as given over time, roles, the X
    link and the sign-ins (refresh tokens, without the tokens) identity holds."""
    async with db.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        user = await repo.get_user(conn, user_id)
        if user is None:
            raise NotFound
        rows = await repo.export_rows(conn, user_id)
    [account] = rows["account"]
    links = rows["x_account"]
    return {
        "account": {
            "id": str(user.id),
            "email": user.email,
            "display_name": user.display_name,
            "status": user.status,
            "created_at": account["created_at"].isoformat(),
            "updated_at": account["updated_at"].isoformat(),
            "has_password": account["has_password"],
            "consents": user.consents.as_dict(),
        },
        "consents_history": [
            {
                "purpose": r["purpose"],
                "granted": r["granted"],
                "wording_version": r["wording_version"],
                "recorded_at": r["recorded_at"].isoformat(),
            }
            for r in rows["consents_history"]
        ],
        "roles": [
            {"role": "supporter", "constituency_code": None, "granted_at": account["created_at"].isoformat()},
            *(
                {
                    "role": r["role"],
                    "constituency_code": r["constituency_code"] or None,
                    "granted_at": r["granted_at"].isoformat(),
                }
                for r in rows["roles"]
            ),
        ],
        "x_account": ({"x_user_id": links[0]["x_user_id"], "handle": links[0]["handle"]} if links else None),
        "sign_ins": [
            {
                "issued_at": r["issued_at"].isoformat(),
                "expires_at": r["expires_at"].isoformat(),
                "used_at": r["used_at"].isoformat() if r["used_at"] else None,
                "revoked_at": r["revoked_at"].isoformat() if r["revoked_at"] else None,
            }
            for r in rows["sign_ins"]
        ],
    }
