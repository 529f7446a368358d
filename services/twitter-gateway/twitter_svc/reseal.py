"""Seal again with the current token key whatever is still sealed with an older one.

After a rotation (a new key first in `TWITTER_TOKEN_KEYS`, the old one kept after it) new values are sealed
with the new key, but stored X tokens and queued revocations stay on the old key until this moves them. It
runs every few minutes, in small batches, each in its own transaction with the rows locked, and exports how
many values still need an older key: when `lx_twitter_sealed_on_old_keys` is 0 the old key can go.
OAuth states are not moved: they live ten minutes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import asyncpg
from prometheus_client import Counter, Gauge

from twitter_svc.crypto import TokenBox, TokenBoxError
from twitter_svc.service import _ctx

log = logging.getLogger(__name__)

SEALED_ON_OLD_KEYS = Gauge(
    "lx_twitter_sealed_on_old_keys",
    "Stored X tokens and queued revocations still sealed with a token key other than the current one",
)
RESEALED = Counter("lx_twitter_resealed_total", "Sealed values moved to the current token key")
UNOPENABLE = Gauge(
    "lx_twitter_sealed_unopenable",
    "Sealed values no configured token key opens (their key was removed): those links must be made again",
)


@dataclass
class Resealed:
    moved: int = 0
    unopenable: int = 0
    left: int = 0


def _prefix(box: TokenBox) -> str:
    return f"v1.{box.current_kid}."


async def reseal(pool: asyncpg.Pool, box: TokenBox, *, batch: int = 200) -> Resealed:
    """Move every value on an older key to the current one; count what no key opens."""
    result = Resealed()
    await _accounts(pool, box, batch, result)
    await _outgoing(pool, box, batch, result)
    prefix = _prefix(box)
    async with pool.acquire() as conn:
        result.left = await conn.fetchval(
            """SELECT (SELECT count(*) FROM x_accounts
                        WHERE left(access_token_sealed, length($1)) <> $1
                           OR left(coalesce(refresh_token_sealed, $1), length($1)) <> $1)
                    + (SELECT count(*) FROM outgoing
                        WHERE sealed IS NOT NULL AND closed_at IS NULL AND left(sealed, length($1)) <> $1)""",
            prefix,
        )
    SEALED_ON_OLD_KEYS.set(result.left)
    UNOPENABLE.set(result.unopenable)
    if result.moved or result.unopenable:
        log.info(
            "token values sealed again with the current key",
            extra={"moved": result.moved, "unopenable": result.unopenable, "left": result.left},
        )
    return result


async def _accounts(pool: asyncpg.Pool, box: TokenBox, batch: int, result: Resealed) -> None:
    prefix = _prefix(box)
    after = uuid.UUID(int=0)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT user_id, access_token_sealed, refresh_token_sealed FROM x_accounts
                   WHERE user_id > $2
                     AND (left(access_token_sealed, length($1)) <> $1
                          OR left(coalesce(refresh_token_sealed, $1), length($1)) <> $1)
                   ORDER BY user_id LIMIT $3 FOR UPDATE SKIP LOCKED""",
                prefix,
                after,
                batch,
            )
            for row in rows:
                user_id = row["user_id"]
                try:
                    access = _again(box, row["access_token_sealed"], _ctx("x-account", user_id, "access"))
                    refresh = row["refresh_token_sealed"] and _again(
                        box, row["refresh_token_sealed"], _ctx("x-account", user_id, "refresh")
                    )
                except TokenBoxError:
                    result.unopenable += 1
                    continue
                await conn.execute(
                    """UPDATE x_accounts SET access_token_sealed = $2, refresh_token_sealed = $3, updated_at = now()
                       WHERE user_id = $1""",
                    user_id,
                    access,
                    refresh,
                )
                result.moved += 1
                RESEALED.inc()
        if len(rows) < batch:
            return
        after = rows[-1]["user_id"]


async def _outgoing(pool: asyncpg.Pool, box: TokenBox, batch: int, result: Resealed) -> None:
    prefix = _prefix(box)
    after = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, dedupe_key, sealed FROM outgoing
                   WHERE id > $2 AND sealed IS NOT NULL AND closed_at IS NULL AND left(sealed, length($1)) <> $1
                   ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED""",
                prefix,
                after,
                batch,
            )
            for row in rows:
                try:
                    sealed = _again(box, row["sealed"], _ctx("outgoing", row["dedupe_key"]))
                except TokenBoxError:
                    result.unopenable += 1
                    continue
                await conn.execute("UPDATE outgoing SET sealed = $2 WHERE id = $1", row["id"], sealed)
                result.moved += 1
                RESEALED.inc()
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


def _again(box: TokenBox, sealed: str, context: bytes) -> str:
    return sealed if box.is_current(sealed) else box.seal(box.open(sealed, context=context), context=context)
