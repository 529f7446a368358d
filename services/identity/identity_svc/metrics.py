"""Identity's own metrics: how erasures are getting on (a legal duty with a deadline, and until one
completes the person's data and key are still held somewhere)."""

from __future__ import annotations

import asyncpg
from prometheus_client import Gauge

ERASURES_PENDING = Gauge("lx_identity_erasures_pending", "Erasures asked for that not every service has confirmed yet")
ERASURE_OLDEST_PENDING = Gauge(
    "lx_identity_erasure_oldest_pending_seconds",
    "Age of the oldest erasure not every service has confirmed yet (0 when none is pending)",
)


async def observe_erasures(db: asyncpg.Pool) -> None:
    """Read the pending erasures (identity's `erasures` table, by its partial index) into the gauges."""
    async with db.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(requested_at)), 0) AS oldest
               FROM erasures WHERE completed_at IS NULL"""
        )
    assert row is not None
    ERASURES_PENDING.set(row["pending"])
    ERASURE_OLDEST_PENDING.set(float(row["oldest"]))
