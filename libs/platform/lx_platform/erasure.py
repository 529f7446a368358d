"""What every service's erasure shares: the tombstone, the outbox scrub, the completion event, the sweeper.

The tables (`erased_people`, `outbox_purge`) come with the platform's own migrations in every schema.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from lx_contracts import identity, topics
from lx_contracts.identity import subject_hash
from lx_platform import audit
from lx_platform.outbox import enqueue
from lx_platform.sealing import KEYRING


async def is_erased(conn: asyncpg.Connection, user_id: uuid.UUID | None) -> bool:
    """Whether this person was erased here: an event about them must not re-create anything."""
    if user_id is None:
        return False
    return bool(await conn.fetchval("SELECT true FROM erased_people WHERE subject_hash = $1", subject_hash(user_id)))


async def erased_among(conn: asyncpg.Connection, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these people were erased."""
    by_hash = {subject_hash(u): u for u in user_ids}
    rows = await conn.fetch(
        "SELECT subject_hash FROM erased_people WHERE subject_hash = ANY($1::text[])", list(by_hash)
    )
    return {by_hash[r["subject_hash"]] for r in rows}


async def record_tombstone(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO erased_people (subject_hash) VALUES ($1) ON CONFLICT DO NOTHING", subject_hash(user_id)
    )


async def scrub_outbox(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Published rows that name the person (as key or anywhere in the payload) are deleted now; unpublished
    ones still go out, in order, and are deleted once published (`sweep_purged`). Unpublished rows are
    listed first, so a row the relay publishes meanwhile is caught by the second statement."""
    needle = str(user_id)
    # Events about the person are keyed by their subject key's id, their fields sealed (ADR 15); events
    # written before sealing carry the id itself.
    subject_key = await KEYRING.for_person(conn, user_id)
    kid = str(subject_key.kid) if subject_key else needle
    await conn.execute(
        """INSERT INTO outbox_purge (event_id)
           SELECT event_id FROM outbox
           WHERE published_at IS NULL AND (key = $1 OR key = $2 OR strpos(payload::text, $1) > 0)
           ON CONFLICT DO NOTHING""",
        needle,
        kid,
    )
    await conn.execute(
        """DELETE FROM outbox WHERE published_at IS NOT NULL
           AND (key = $1 OR key = $2 OR strpos(payload::text, $1) > 0)""",
        needle,
        kid,
    )


async def complete(
    conn: asyncpg.Connection, *, source: str, service: str, topic: topics.Topic, user_id: uuid.UUID
) -> None:
    """Finish a service's erasure, after it deleted or anonymised its own rows: scrub its outbox of the person,
    record the tombstone and confirm to identity (`service` as identity names this service), keyed by the
    person; the confirmation itself names them, so its outbox row is deleted once published. Audit rows naming
    the person (as actor or subject) stay, naming no one."""
    await scrub_outbox(conn, user_id)
    await record_tombstone(conn, user_id)
    await audit.forget(conn, user_id)
    event = await enqueue(
        conn,
        topic=topic.name,
        service=source,
        subject=str(user_id),
        data=identity.ErasureCompleted(user_id=user_id, service=service, at=datetime.now(UTC)),
    )
    if event is not None:  # None: identity already destroyed the key, so every service had confirmed
        await conn.execute("INSERT INTO outbox_purge (event_id) VALUES ($1) ON CONFLICT DO NOTHING", event.id)
    KEYRING.forget(user_id)


async def sweep_purged(pool: asyncpg.Pool) -> int:
    """Delete the listed outbox rows that have been published, and forget entries whose row is gone."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM outbox_purge)"):
            return 0
        deleted = await conn.fetch(
            """DELETE FROM outbox o USING outbox_purge p
               WHERE o.event_id = p.event_id AND o.published_at IS NOT NULL RETURNING o.event_id"""
        )
        # Those just deleted, and any whose row went another way (pruned, or scrubbed by a later erasure).
        await conn.execute(
            "DELETE FROM outbox_purge p WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = p.event_id)"
        )
        return len(deleted)
