"""Moving stored X tokens to the current token key after a rotation, in a schema of this test's own (so the
running service, which knows only its own key, keeps opening everyone else's tokens)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from lx_devstack.testing import migrated_pool
from twitter_svc.crypto import TokenBox, TokenBoxError, generate_key
from twitter_svc.reseal import SEALED_ON_OLD_KEYS, reseal
from twitter_svc.service import _ctx

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@pytest.fixture
async def pool(scratch_schema: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    p = await migrated_pool(*scratch_schema, MIGRATIONS, application_name="test-reseal")
    yield p
    await p.close()


async def link(pool: asyncpg.Pool, box: TokenBox, *, refresh: bool = True) -> uuid.UUID:
    user_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO x_accounts (user_id, x_user_id, handle, access_token_sealed, refresh_token_sealed,
                                   expires_at, linked_at)
           VALUES ($1, $2, $3, $4, $5, $6, now())""",
        user_id,
        str(uuid.uuid4().int)[:18],
        "h" + uuid.uuid4().hex[:10],
        box.seal(f"access-{user_id}", context=_ctx("x-account", user_id, "access")),
        box.seal(f"refresh-{user_id}", context=_ctx("x-account", user_id, "refresh")) if refresh else None,
        datetime.now(UTC) + timedelta(hours=2),
    )
    return user_id


async def queue_revocation(pool: asyncpg.Pool, box: TokenBox, *, sent: bool = False) -> str:
    key = f"revoke:{uuid.uuid4()}"
    await pool.execute(
        "INSERT INTO outgoing (kind, sealed, dedupe_key, closed_at) VALUES ('revoke', $1, $2, $3)",
        box.seal('["a-token"]', context=_ctx("outgoing", key)),
        key,
        datetime.now(UTC) if sent else None,
    )
    return key


async def test_after_a_rotation_every_stored_token_moves_to_the_new_key(pool: asyncpg.Pool) -> None:
    old_entry, new_entry, lost_entry = generate_key("old"), generate_key("new"), generate_key("lost")
    old, lost = TokenBox.from_setting(old_entry), TokenBox.from_setting(lost_entry)
    people = [await link(pool, old) for _ in range(3)] + [await link(pool, old, refresh=False)]
    revocation = await queue_revocation(pool, old)
    done = await queue_revocation(pool, old, sent=True)  # closed: left as it is
    orphan = await link(pool, lost)  # sealed with a key that was removed: nothing opens it

    rotated = TokenBox.from_setting(f"{new_entry},{old_entry}")
    result = await reseal(pool, rotated, batch=2)  # several batches
    assert (result.moved, result.unopenable) == (5, 1)
    assert result.left == 1 and SEALED_ON_OLD_KEYS._value.get() == 1  # noqa: SLF001 - the orphan only

    # The new key alone opens every moved value, with the same contexts as before.
    new_only = TokenBox.from_setting(new_entry)
    for user_id in people:
        row = await pool.fetchrow("SELECT * FROM x_accounts WHERE user_id = $1", user_id)
        assert new_only.open(row["access_token_sealed"], context=_ctx("x-account", user_id, "access")) == (
            f"access-{user_id}"
        )
        if row["refresh_token_sealed"] is not None:
            assert new_only.open(row["refresh_token_sealed"], context=_ctx("x-account", user_id, "refresh")) == (
                f"refresh-{user_id}"
            )
    sealed = await pool.fetchval("SELECT sealed FROM outgoing WHERE dedupe_key = $1", revocation)
    assert new_only.open(sealed, context=_ctx("outgoing", revocation)) == '["a-token"]'
    closed = await pool.fetchval("SELECT sealed FROM outgoing WHERE dedupe_key = $1", done)
    assert closed.startswith("v1.old.")
    orphaned = await pool.fetchval("SELECT access_token_sealed FROM x_accounts WHERE user_id = $1", orphan)
    assert orphaned.startswith("v1.lost.")
    with pytest.raises(TokenBoxError):
        new_only.open(orphaned, context=_ctx("x-account", orphan, "access"))

    # Nothing left to move: a second run changes nothing.
    again = await reseal(pool, rotated)
    assert (again.moved, again.unopenable, again.left) == (0, 1, 1)
