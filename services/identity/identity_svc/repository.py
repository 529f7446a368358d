"""SQL for the identity schema. Nothing else knows table names."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from identity_svc.domain import (
    ACTIVE,
    CONSENT_PURPOSES,
    Consents,
    Erasure,
    RoleGrant,
    User,
    wording_version,
)


class EmailTaken(Exception):
    pass


class XLinkTaken(Exception):
    """This X account is already linked to an account (two first sign-ins raced)."""


def _user(row: asyncpg.Record, grants: list[asyncpg.Record]) -> User:
    c = row["consents"]
    return User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        consents=Consents(terms=c["terms"], discoverable=c["discoverable"], contact_by_x=c["contact_by_x"]),
        created_at=row["created_at"],
        grants=tuple(RoleGrant(g["role"], g["constituency_code"]) for g in grants),
        status=row["status"],
        x_handle=row["x_handle"],
    )


_USER_COLUMNS = """id, email, display_name, consents, created_at, password_hash, status,
    (SELECT l.handle FROM x_links l WHERE l.user_id = users.id) AS x_handle"""


async def _grants(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT role, constituency_code FROM user_roles WHERE user_id = $1 ORDER BY role, constituency_code",
        user_id,
    )


async def get_user(conn: asyncpg.Connection, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
    row = await conn.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1" + (" FOR UPDATE" if for_update else ""), user_id
    )
    return _user(row, await _grants(conn, user_id)) if row else None


async def get_credentials(conn: asyncpg.Connection, email: str) -> tuple[User, str | None] | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE email_lower = lower($1)", email)
    if row is None:
        return None
    return _user(row, await _grants(conn, row["id"])), row["password_hash"]


async def insert_user(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    email: str | None,
    password_hash: str | None,
    display_name: str,
    consents: Consents,
    status: str = ACTIVE,
) -> None:
    try:
        await conn.execute(
            """INSERT INTO users (id, email, password_hash, display_name, consents, status)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            user_id,
            email,
            password_hash,
            display_name,
            consents.as_dict(),
            status,
        )
    except asyncpg.UniqueViolationError as exc:
        raise EmailTaken from exc
    if status == ACTIVE:
        await record_consents(conn, user_id, consents, purposes=CONSENT_PURPOSES)


async def record_consents(
    conn: asyncpg.Connection, user_id: uuid.UUID, consents: Consents, *, purposes: tuple[str, ...]
) -> None:
    values = consents.as_dict()
    await conn.executemany(
        "INSERT INTO consent_records (user_id, purpose, granted, wording_version) VALUES ($1, $2, $3, $4)",
        [(user_id, p, values[p], wording_version(p)) for p in purposes],
    )


async def update_profile(
    conn: asyncpg.Connection, user_id: uuid.UUID, *, display_name: str, consents: Consents
) -> None:
    await conn.execute(
        "UPDATE users SET display_name = $2, consents = $3, updated_at = now() WHERE id = $1",
        user_id,
        display_name,
        consents.as_dict(),
    )


async def add_grant(
    conn: asyncpg.Connection, user_id: uuid.UUID, grant: RoleGrant, *, granted_by: uuid.UUID | None
) -> bool:
    """True if the grant is new."""
    status = await conn.execute(
        """INSERT INTO user_roles (user_id, role, constituency_code, granted_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        user_id,
        grant.role,
        grant.constituency_code,
        granted_by,
    )
    return status.endswith(" 1")


async def remove_grant(conn: asyncpg.Connection, user_id: uuid.UUID, grant: RoleGrant) -> bool:
    status = await conn.execute(
        "DELETE FROM user_roles WHERE user_id = $1 AND role = $2 AND constituency_code = $3",
        user_id,
        grant.role,
        grant.constituency_code,
    )
    return status.endswith(" 1")


async def count_admins(conn: asyncpg.Connection) -> int:
    # Locks the admin rows so two admins cannot demote each other at the same moment.
    rows = await conn.fetch("SELECT user_id FROM user_roles WHERE role = 'admin' FOR UPDATE")
    return len(rows)


async def search_users(
    conn: asyncpg.Connection, *, email: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[User]:
    rows = await conn.fetch(
        f"""SELECT {_USER_COLUMNS} FROM users
            WHERE ($1::text IS NULL OR email_lower LIKE '%' || lower($1) || '%')
              AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
            ORDER BY created_at DESC, id DESC
            LIMIT $4""",
        _escape_like(email) if email else None,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    grants = await conn.fetch(
        "SELECT user_id, role, constituency_code FROM user_roles WHERE user_id = ANY($1::uuid[])",
        [r["id"] for r in rows],
    )
    by_user: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for g in grants:
        by_user.setdefault(g["user_id"], []).append(g)
    return [_user(r, by_user.get(r["id"], [])) for r in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- X links ----------------------------------------------------------------------------------


async def user_by_x_id(conn: asyncpg.Connection, x_user_id: str) -> User | None:
    row = await conn.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE id = (SELECT user_id FROM x_links WHERE x_user_id = $1)",
        x_user_id,
    )
    return _user(row, await _grants(conn, row["id"])) if row else None


async def insert_x_link(
    conn: asyncpg.Connection, *, user_id: uuid.UUID, x_user_id: str, handle: str, as_of: datetime
) -> None:
    """Link a new account to its X account; XLinkTaken if another account holds that X account."""
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO x_links (user_id, x_user_id, handle, as_of) VALUES ($1, $2, $3, $4)",
                user_id,
                x_user_id,
                handle,
                as_of,
            )
    except asyncpg.UniqueViolationError as exc:
        raise XLinkTaken from exc


async def upsert_x_link(
    conn: asyncpg.Connection, *, user_id: uuid.UUID, x_user_id: str, handle: str, as_of: datetime
) -> None:
    """Link (or relink) a user to an X account, unless a newer link event was applied already. An X account
    moving to another user leaves the old user unlinked. Links of users identity does not know are skipped."""
    if not await conn.fetchval("SELECT true FROM users WHERE id = $1", user_id):
        return
    newest = await conn.fetchval(
        "SELECT max(as_of) FROM x_links WHERE user_id = $1 OR x_user_id = $2", user_id, x_user_id
    )
    if newest is not None and newest > as_of:
        return
    await conn.execute("DELETE FROM x_links WHERE x_user_id = $1 AND user_id <> $2", x_user_id, user_id)
    await conn.execute(
        """INSERT INTO x_links (user_id, x_user_id, handle, as_of) VALUES ($1, $2, $3, $4)
           ON CONFLICT (user_id) DO UPDATE SET x_user_id = $2, handle = $3, as_of = $4""",
        user_id,
        x_user_id,
        handle,
        as_of,
    )


async def delete_x_link(conn: asyncpg.Connection, *, user_id: uuid.UUID, as_of: datetime) -> None:
    await conn.execute("DELETE FROM x_links WHERE user_id = $1 AND as_of <= $2", user_id, as_of)


# -- refresh tokens ----------------------------------------------------------------------------


async def insert_refresh_token(
    conn: asyncpg.Connection, *, token_hash: bytes, family_id: uuid.UUID, user_id: uuid.UUID, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash,
        family_id,
        user_id,
        expires_at,
    )


async def use_refresh_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """Mark a live token used, atomically; None if it is unknown, used, revoked or expired."""
    return await conn.fetchrow(
        """UPDATE refresh_tokens SET used_at = now()
           WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
           RETURNING family_id, user_id""",
        token_hash,
    )


async def find_refresh_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT family_id, user_id, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1", token_hash
    )


async def revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL", family_id
    )


async def revoke_all_refresh_tokens(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
    )


# -- sign-in throttling ------------------------------------------------------------------------


async def recent_failures(conn: asyncpg.Connection, *, email: str, source: str, window_s: int) -> list[datetime]:
    rows = await conn.fetch(
        """SELECT failed_at FROM login_failures
           WHERE email_lower = lower($1) AND source = $2 AND failed_at > now() - make_interval(secs => $3)
           ORDER BY failed_at""",
        email,
        source,
        window_s,
    )
    return [r["failed_at"] for r in rows]


async def record_failure(conn: asyncpg.Connection, *, email: str, source: str) -> None:
    await conn.execute("INSERT INTO login_failures (email_lower, source) VALUES (lower($1), $2)", email[:254], source)


async def clear_failures(conn: asyncpg.Connection, *, email: str, source: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE email_lower = lower($1) AND source = $2", email, source)


async def prune(conn: asyncpg.Connection, *, failure_window_s: int) -> None:
    """Forget sign-in failures older than the throttling window and refresh tokens long expired."""
    await conn.execute(
        "DELETE FROM login_failures WHERE failed_at < now() - make_interval(secs => $1)", failure_window_s
    )
    await conn.execute("DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'")


# -- invitations --------------------------------------------------------------------------------


async def insert_invitation(
    conn: asyncpg.Connection, *, code_hash: bytes, user_id: uuid.UUID, created_by: uuid.UUID, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO invitations (code_hash, user_id, created_by, expires_at) VALUES ($1, $2, $3, $4)",
        code_hash,
        user_id,
        created_by,
        expires_at,
    )


async def use_invitation(conn: asyncpg.Connection, code_hash: bytes) -> uuid.UUID | None:
    """Mark a live code used, atomically; the invited user's id, or None."""
    user_id: uuid.UUID | None = await conn.fetchval(
        """UPDATE invitations i SET used_at = now()
           FROM users u
           WHERE i.code_hash = $1 AND i.used_at IS NULL AND i.expires_at > now()
             AND u.id = i.user_id AND u.status = 'invited'
           RETURNING i.user_id""",
        code_hash,
    )
    return user_id


async def activate(conn: asyncpg.Connection, user_id: uuid.UUID, *, password_hash: str, consents: Consents) -> None:
    await conn.execute(
        """UPDATE users SET password_hash = $2, consents = $3, status = 'active', updated_at = now()
           WHERE id = $1""",
        user_id,
        password_hash,
        consents.as_dict(),
    )
    await record_consents(conn, user_id, consents, purposes=CONSENT_PURPOSES)


# -- erasure ------------------------------------------------------------------------------------


async def erase_user(conn: asyncpg.Connection, user_id: uuid.UUID, *, email: str | None, kid: uuid.UUID | None) -> None:
    """Delete everything identity holds about a person: the account row and, through it, consents history,
    roles, refresh tokens, invitations and the X link; sign-in failures for their email; their name as the
    one who granted a role or made an invitation; and every outbox row about them or mentioning them
    (published ones have gone out already; unpublished ones are superseded by the erasure itself)."""
    if email is not None:
        await conn.execute("DELETE FROM login_failures WHERE email_lower = lower($1)", email)
    await conn.execute("UPDATE user_roles SET granted_by = NULL WHERE granted_by = $1", user_id)
    await conn.execute("UPDATE invitations SET created_by = NULL WHERE created_by = $1", user_id)
    await conn.execute("DELETE FROM users WHERE id = $1", user_id)
    # Events about the person are keyed by their subject key's id (sealed); older ones by their id.
    await conn.execute(
        """DELETE FROM outbox WHERE key = $1 OR key = $2
           OR strpos(payload::text, $1) > 0 OR strpos(headers::text, $1) > 0""",
        str(user_id),
        str(kid) if kid else str(user_id),
    )


def _erasure(row: asyncpg.Record) -> Erasure:
    return Erasure(
        requested_at=row["requested_at"],
        services=tuple(row["services"]),
        confirmed=tuple(row["confirmed"]),
        completed_at=row["completed_at"],
    )


async def get_erasure(conn: asyncpg.Connection, subject_hash: str, *, for_update: bool = False) -> Erasure | None:
    row = await conn.fetchrow(
        "SELECT requested_at, services, confirmed, completed_at FROM erasures WHERE subject_hash = $1"
        + (" FOR UPDATE" if for_update else ""),
        subject_hash,
    )
    return _erasure(row) if row else None


async def insert_erasure(conn: asyncpg.Connection, subject_hash: str, erasure: Erasure) -> None:
    await conn.execute(
        """INSERT INTO erasures (subject_hash, requested_at, services, confirmed, completed_at)
           VALUES ($1, $2, $3, $4, $5)""",
        subject_hash,
        erasure.requested_at,
        list(erasure.services),
        list(erasure.confirmed),
        erasure.completed_at,
    )


async def save_erasure(conn: asyncpg.Connection, subject_hash: str, erasure: Erasure) -> None:
    await conn.execute(
        "UPDATE erasures SET confirmed = $2, completed_at = $3 WHERE subject_hash = $1",
        subject_hash,
        list(erasure.confirmed),
        erasure.completed_at,
    )


async def drop_published_erasure_events(conn: asyncpg.Connection, topic: str, *, key: str | None) -> int:
    """Forget published erasure events (of one person by its Kafka key, or all): they are on the broker, and
    the outbox row is the last place in identity's schema that still holds anything about the person."""
    result = await conn.execute(
        """DELETE FROM outbox WHERE topic = $1 AND published_at IS NOT NULL AND ($2::text IS NULL OR key = $2)""",
        topic,
        key,
    )
    return int(result.split()[-1])


# -- export -------------------------------------------------------------------------------------


async def export_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, list[asyncpg.Record]]:
    """What identity holds about a person beyond the account row, for their export."""
    return {
        "consents_history": await conn.fetch(
            """SELECT purpose, granted, wording_version, recorded_at FROM consent_records
               WHERE user_id = $1 ORDER BY recorded_at, id""",
            user_id,
        ),
        "roles": await conn.fetch(
            """SELECT role, constituency_code, granted_at FROM user_roles
               WHERE user_id = $1 ORDER BY granted_at, role, constituency_code""",
            user_id,
        ),
        "x_account": await conn.fetch("SELECT x_user_id, handle, as_of FROM x_links WHERE user_id = $1", user_id),
        "sign_ins": await conn.fetch(
            """SELECT issued_at, expires_at, used_at, revoked_at FROM refresh_tokens
               WHERE user_id = $1 ORDER BY issued_at""",
            user_id,
        ),
        "account": await conn.fetch(
            "SELECT created_at, updated_at, (password_hash IS NOT NULL) AS has_password FROM users WHERE id = $1",
            user_id,
        ),
    }
