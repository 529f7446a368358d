"""SQL of the twitter gateway (asyncpg, parameterised). Nothing else knows the table names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from twitter_svc.domain import AdminSettings


# -- OAuth states --------------------------------------------------------------------------------
async def insert_state(
    conn: asyncpg.Connection,
    *,
    state_hash: str,
    verifier_sealed: str,
    mode: str,
    user_id: uuid.UUID | None,
    expires_at: datetime,
    redirect_uri: str,
) -> None:
    await conn.execute(
        """INSERT INTO oauth_states (state_hash, code_verifier_sealed, mode, user_id, expires_at, redirect_uri)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        state_hash,
        verifier_sealed,
        mode,
        user_id,
        expires_at,
        redirect_uri,
    )


async def take_state(conn: asyncpg.Connection, *, state_hash: str) -> asyncpg.Record | None:
    """Consume a live state (single use): deleted whatever happens next."""
    return await conn.fetchrow(
        """DELETE FROM oauth_states WHERE state_hash = $1 AND expires_at > now()
           RETURNING code_verifier_sealed, mode, user_id, redirect_uri""",
        state_hash,
    )


async def prune_states(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM oauth_states WHERE expires_at <= now()")


# -- linked accounts -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Linked:
    user_id: uuid.UUID
    x_user_id: str
    handle: str
    access_token_sealed: str
    refresh_token_sealed: str | None


def _linked(row: asyncpg.Record | None) -> Linked | None:
    if row is None:
        return None
    return Linked(
        row["user_id"], row["x_user_id"], row["handle"], row["access_token_sealed"], row["refresh_token_sealed"]
    )


_LINKED_COLS = "user_id, x_user_id, handle, access_token_sealed, refresh_token_sealed"


async def account_by_x_user(conn: asyncpg.Connection, x_user_id: str) -> Linked | None:
    return _linked(await conn.fetchrow(f"SELECT {_LINKED_COLS} FROM x_accounts WHERE x_user_id = $1", x_user_id))


async def account_of(conn: asyncpg.Connection, user_id: uuid.UUID, *, lock: bool = False) -> Linked | None:
    suffix = " FOR UPDATE" if lock else ""
    return _linked(await conn.fetchrow(f"SELECT {_LINKED_COLS} FROM x_accounts WHERE user_id = $1{suffix}", user_id))


async def upsert_account(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    x_user_id: str,
    handle: str,
    access_sealed: str,
    refresh_sealed: str | None,
    expires_at: datetime,
    scopes: list[str],
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO x_accounts (user_id, x_user_id, handle, access_token_sealed, refresh_token_sealed,
                                   expires_at, scopes, linked_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
           ON CONFLICT (user_id) DO UPDATE SET
               x_user_id = EXCLUDED.x_user_id, handle = EXCLUDED.handle,
               access_token_sealed = EXCLUDED.access_token_sealed,
               refresh_token_sealed = EXCLUDED.refresh_token_sealed,
               expires_at = EXCLUDED.expires_at, scopes = EXCLUDED.scopes, updated_at = EXCLUDED.updated_at,
               linked_at = CASE WHEN x_accounts.x_user_id = EXCLUDED.x_user_id
                                THEN x_accounts.linked_at ELSE EXCLUDED.linked_at END""",
        user_id,
        x_user_id,
        handle,
        access_sealed,
        refresh_sealed,
        expires_at,
        scopes,
        at,
    )


async def delete_account(conn: asyncpg.Connection, user_id: uuid.UUID) -> Linked | None:
    return _linked(await conn.fetchrow(f"DELETE FROM x_accounts WHERE user_id = $1 RETURNING {_LINKED_COLS}", user_id))


async def linked_users(conn: asyncpg.Connection, x_user_ids: list[str]) -> dict[str, uuid.UUID]:
    rows = await conn.fetch("SELECT x_user_id, user_id FROM x_accounts WHERE x_user_id = ANY($1::text[])", x_user_ids)
    return {r["x_user_id"]: r["user_id"] for r in rows}


# -- projections ---------------------------------------------------------------------------------
async def upsert_person(conn: asyncpg.Connection, *, user_id: uuid.UUID, contact_by_x: bool, as_of: datetime) -> None:
    await conn.execute(
        """INSERT INTO people (user_id, contact_by_x, as_of) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE SET contact_by_x = EXCLUDED.contact_by_x, as_of = EXCLUDED.as_of
           WHERE people.as_of <= EXCLUDED.as_of""",
        user_id,
        contact_by_x,
        as_of,
    )


async def delete_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM people WHERE user_id = $1", user_id)


async def contact_by_x(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT contact_by_x FROM people WHERE user_id = $1", user_id))


async def upsert_skill(conn: asyncpg.Connection, *, slug: str, name: str, synonyms: list[str], as_of: datetime) -> None:
    await conn.execute(
        """INSERT INTO skills (slug, name, synonyms, as_of) VALUES ($1, $2, $3, $4)
           ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, synonyms = EXCLUDED.synonyms, as_of = EXCLUDED.as_of
           WHERE skills.as_of <= EXCLUDED.as_of""",
        slug,
        name,
        synonyms,
        as_of,
    )


async def skills(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch("SELECT slug, name, synonyms FROM skills ORDER BY slug")
    return rows


async def skills_version(conn: asyncpg.Connection) -> tuple[int, datetime | None]:
    row = await conn.fetchrow("SELECT count(*) AS n, max(as_of) AS latest FROM skills")
    return int(row["n"]), row["latest"]


async def upsert_request(
    conn: asyncpg.Connection,
    *,
    request_id: uuid.UUID,
    title: str,
    status: str,
    source: str,
    source_ref: str | None,
    as_of: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO requests (request_id, title, status, source, source_ref, as_of) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (request_id) DO UPDATE SET title = EXCLUDED.title, status = EXCLUDED.status,
               source = EXCLUDED.source, source_ref = EXCLUDED.source_ref, as_of = EXCLUDED.as_of
           WHERE requests.as_of <= EXCLUDED.as_of""",
        request_id,
        title,
        status,
        source,
        source_ref,
        as_of,
    )


async def request_title(conn: asyncpg.Connection, request_id: uuid.UUID) -> str | None:
    value = await conn.fetchval("SELECT title FROM requests WHERE request_id = $1", request_id)
    return str(value) if value is not None else None


# -- tweets --------------------------------------------------------------------------------------
async def insert_tweet(
    conn: asyncpg.Connection,
    *,
    tweet_id: str,
    text: str,
    author_user_id: uuid.UUID | None,
    intent: str,
    skills: list[str],
    constituency_code: str | None,
    posted_at: datetime,
    received_at: datetime,
) -> bool:
    """Store a tweet once; False if it was already stored (read by the other stream, or before)."""
    inserted = await conn.fetchval(
        """INSERT INTO tweets (tweet_id, text, author_user_id, intent, skills, constituency_code, posted_at,
                               received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tweet_id) DO NOTHING RETURNING true""",
        tweet_id,
        text,
        author_user_id,
        intent,
        skills,
        constituency_code,
        posted_at,
        received_at,
    )
    return bool(inserted)


async def tweet_for_reply(conn: asyncpg.Connection, tweet_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT tweet_id, text, deleted_at, replied_tweet_id FROM tweets WHERE tweet_id = $1 FOR UPDATE", tweet_id
    )


async def set_request_of_tweet(conn: asyncpg.Connection, *, tweet_id: str, request_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE tweets SET request_id = COALESCE(request_id, $2) WHERE tweet_id = $1", tweet_id, request_id
    )


async def set_replied(conn: asyncpg.Connection, *, tweet_id: str, reply_id: str) -> None:
    await conn.execute("UPDATE tweets SET replied_tweet_id = $2 WHERE tweet_id = $1", tweet_id, reply_id)


async def tweets_to_check(conn: asyncpg.Connection, *, limit: int, recheck_after_s: float) -> list[str]:
    rows = await conn.fetch(
        """SELECT tweet_id FROM tweets
           WHERE text IS NOT NULL
             AND (last_checked_at IS NULL OR last_checked_at < now() - make_interval(secs => $2))
           ORDER BY last_checked_at NULLS FIRST, tweet_id LIMIT $1""",
        limit,
        recheck_after_s,
    )
    return [r["tweet_id"] for r in rows]


async def mark_checked(conn: asyncpg.Connection, tweet_ids: list[str], at: datetime) -> None:
    await conn.execute("UPDATE tweets SET last_checked_at = $2 WHERE tweet_id = ANY($1::text[])", tweet_ids, at)


async def scrub_tweets(conn: asyncpg.Connection, tweet_ids: list[str], at: datetime) -> list[str]:
    """Remove the text of these tweets (deleted on X); the ids that still had text."""
    rows = await conn.fetch(
        """UPDATE tweets SET text = NULL, deleted_at = $2, last_checked_at = $2
           WHERE tweet_id = ANY($1::text[]) AND text IS NOT NULL RETURNING tweet_id""",
        tweet_ids,
        at,
    )
    return [r["tweet_id"] for r in rows]


async def scrub_author(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[str]:
    """Erasure: remove the text and the author link of a person's tweets; the ids scrubbed."""
    rows = await conn.fetch(
        """UPDATE tweets SET text = NULL, author_user_id = NULL WHERE author_user_id = $1 RETURNING tweet_id""",
        user_id,
    )
    return [r["tweet_id"] for r in rows]


async def forget_dms_to(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    """Erasure: every DM addressed to the person goes, queued or not; how many were still queued."""
    rows = await conn.fetch(
        "DELETE FROM outgoing WHERE kind = 'dm' AND payload->>'user_id' = $1 RETURNING closed_at", str(user_id)
    )
    return sum(1 for r in rows if r["closed_at"] is None)


async def revokes_naming(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    """Revocations queued before their keys stopped naming the person (`revoke:<user id>:...`)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, dedupe_key, sealed, closed_at FROM outgoing WHERE kind = 'revoke' AND starts_with(dedupe_key, $1)",
        f"revoke:{user_id}:",
    )
    return rows


async def rekey_outgoing(conn: asyncpg.Connection, row_id: int, *, dedupe_key: str, sealed: str) -> None:
    await conn.execute("UPDATE outgoing SET dedupe_key = $2, sealed = $3 WHERE id = $1", row_id, dedupe_key, sealed)


async def delete_outgoing(conn: asyncpg.Connection, row_id: int) -> None:
    await conn.execute("DELETE FROM outgoing WHERE id = $1", row_id)


async def forget_user_elsewhere(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Erasure: sign-ins in progress of theirs go; admin settings they saved no longer name them."""
    await conn.execute("DELETE FROM oauth_states WHERE user_id = $1", user_id)
    await conn.execute("UPDATE x_settings SET updated_by = NULL WHERE updated_by = $1", user_id)


async def export_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any]:
    """What the gateway holds about the person; never a token."""
    account = await conn.fetchrow(
        "SELECT x_user_id, handle, scopes, linked_at, updated_at FROM x_accounts WHERE user_id = $1", user_id
    )
    person = await conn.fetchrow("SELECT contact_by_x FROM people WHERE user_id = $1", user_id)
    tweets = await conn.fetch(
        """SELECT tweet_id, text, intent, skills, constituency_code, posted_at, received_at, request_id,
                  replied_tweet_id
           FROM tweets WHERE author_user_id = $1 ORDER BY posted_at, tweet_id""",
        user_id,
    )
    dms = await conn.fetch(
        """SELECT payload->>'text' AS text, created_at, sent_at, outcome FROM outgoing
           WHERE kind = 'dm' AND payload->>'user_id' = $1 ORDER BY created_at, id""",
        str(user_id),
    )
    return {
        "x_account": dict(account) if account else None,
        "consent_copy": dict(person) if person else None,
        "tweets": [dict(r) for r in tweets],
        "direct_messages": [dict(r) for r in dms],
    }


# -- cursors, settings, usage --------------------------------------------------------------------
async def cursors(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    return {r["stream"]: r for r in await conn.fetch("SELECT stream, since_id, last_poll_at, updated_at FROM cursors")}


async def since_id(conn: asyncpg.Connection, stream: str) -> str | None:
    value = await conn.fetchval("SELECT since_id FROM cursors WHERE stream = $1", stream)
    return str(value) if value is not None else None


async def advance_cursor(conn: asyncpg.Connection, *, stream: str, since_id: str | None) -> None:
    await conn.execute(
        """INSERT INTO cursors (stream, since_id, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (stream) DO UPDATE SET since_id = EXCLUDED.since_id, updated_at = now()""",
        stream,
        since_id,
    )


async def mark_polled(conn: asyncpg.Connection, *, stream: str, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO cursors (stream, last_poll_at) VALUES ($1, $2)
           ON CONFLICT (stream) DO UPDATE SET last_poll_at = EXCLUDED.last_poll_at""",
        stream,
        at,
    )


async def ensure_settings(conn: asyncpg.Connection, defaults: AdminSettings) -> None:
    await conn.execute(
        """INSERT INTO x_settings (hashtags, poll_interval_s, monthly_read_budget, monthly_post_budget,
                                   posting_enabled)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING""",
        defaults.hashtags,
        defaults.poll_interval_s,
        defaults.monthly_read_budget,
        defaults.monthly_post_budget,
        defaults.posting_enabled,
    )


async def load_settings(conn: asyncpg.Connection | asyncpg.Pool) -> tuple[AdminSettings, asyncpg.Record]:
    row = await conn.fetchrow("SELECT * FROM x_settings WHERE id")
    if row is None:
        raise LookupError("x_settings has no row")
    return (
        AdminSettings(
            list(row["hashtags"]),
            row["poll_interval_s"],
            row["monthly_read_budget"],
            row["monthly_post_budget"],
            row["posting_enabled"],
        ),
        row,
    )


async def save_settings(conn: asyncpg.Connection, value: AdminSettings, *, by: uuid.UUID) -> None:
    await conn.execute(
        """UPDATE x_settings SET hashtags = $1, poll_interval_s = $2, monthly_read_budget = $3,
               monthly_post_budget = $4, posting_enabled = $5, updated_by = $6, updated_at = now() WHERE id""",
        value.hashtags,
        value.poll_interval_s,
        value.monthly_read_budget,
        value.monthly_post_budget,
        value.posting_enabled,
        by,
    )


async def usage(conn: asyncpg.Connection | asyncpg.Pool, month: date) -> tuple[int, int]:
    row = await conn.fetchrow("SELECT reads, posts FROM usage WHERE month = $1", month)
    return (row["reads"], row["posts"]) if row else (0, 0)


async def count_usage(conn: asyncpg.Connection, month: date, *, reads: int = 0, posts: int = 0) -> None:
    if reads == 0 and posts == 0:
        return
    await conn.execute(
        """INSERT INTO usage (month, reads, posts) VALUES ($1, $2, $3)
           ON CONFLICT (month) DO UPDATE SET reads = usage.reads + $2, posts = usage.posts + $3""",
        month,
        reads,
        posts,
    )


# -- outgoing ------------------------------------------------------------------------------------
async def enqueue_outgoing(
    conn: asyncpg.Connection,
    *,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any] | None = None,
    sealed: str | None = None,
) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO outgoing (kind, payload, sealed, dedupe_key) VALUES ($1, $2, $3, $4)
           ON CONFLICT (dedupe_key) DO NOTHING RETURNING true""",
        kind,
        payload or {},
        sealed,
        dedupe_key,
    )
    return bool(inserted)


async def due_outgoing(conn: asyncpg.Connection, *, limit: int) -> list[asyncpg.Record]:
    """Due rows, locked for this sender (another replica skips them)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, kind, payload, sealed, dedupe_key, attempts FROM outgoing
           WHERE closed_at IS NULL AND next_attempt_at <= now()
           ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return rows


async def close_outgoing(conn: asyncpg.Connection, row_id: int, *, outcome: str, error: str | None = None) -> None:
    await conn.execute(
        """UPDATE outgoing SET closed_at = now(), outcome = $2, sent_at = CASE WHEN $2 = 'sent' THEN now() END,
               last_error = COALESCE($3, last_error), sealed = NULL,
               payload = CASE WHEN kind = 'dm' THEN payload - 'text' ELSE payload END,
               attempts = attempts + (($2 <> 'cancelled')::int)
           WHERE id = $1""",
        row_id,
        outcome,
        error,
    )


async def retry_outgoing(
    conn: asyncpg.Connection, row_id: int, *, at: datetime, error: str, count_attempt: bool = True
) -> None:
    await conn.execute(
        """UPDATE outgoing SET next_attempt_at = $2, last_error = $3, attempts = attempts + $4::int WHERE id = $1""",
        row_id,
        at,
        error,
        int(count_attempt),
    )


async def outgoing_backlog(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outgoing WHERE closed_at IS NULL"))
