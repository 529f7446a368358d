"""Erasing again after a database restore: the erasure events still on the topic bring back nobody."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from identity_svc import redo_erasures
from lx_contracts import identity as ev
from lx_contracts import topics
from lx_contracts.envelope import new_event
from lx_contracts.identity import subject_hash
from lx_devstack.stack import Stack
from lx_devstack.testing import register_and_sign_in
from lx_devstack.testkit import produce, wait_until
from lx_platform.db import create_pool
from lx_platform.sealing import KEYRING, seal


async def publish_erasure_as_identity_did(stack: Stack, user_id: uuid.UUID, at: datetime) -> str:
    """The erasure event identity published before the restore (sealed with the person's key, which the
    restored database holds again), without the erasure itself, which the restore undid."""
    conn = await asyncpg.connect(stack.dsns["identity"])
    try:
        payload = ev.UserErased(user_id=user_id, subject_hash=subject_hash(user_id), at=at)
        async with conn.transaction():
            sealed = await seal(conn, payload, subject=str(user_id))
    finally:
        await conn.close()
    event = new_event(topic=topics.USER_ERASED.name, service="identity", subject=sealed.subject, data=sealed.data)
    value = event.model_dump_json().encode()
    await produce(stack.bootstrap_servers, topics.USER_ERASED.name, [value], key=sealed.subject.encode())
    return str(event.id)


async def account_exists(stack: Stack, user_id: str) -> bool:
    conn = await asyncpg.connect(stack.dsns["identity"])
    try:
        return bool(await conn.fetchval("SELECT 1 FROM users WHERE id = $1", uuid.UUID(user_id)))
    finally:
        await conn.close()


@pytest.mark.e2e
def test_people_erased_after_the_recovery_point_are_erased_again_and_no_one_else(
    stack: Stack, gateway: httpx.Client
) -> None:
    restored_to = datetime.now(UTC) - timedelta(minutes=5)
    back = register_and_sign_in(gateway, name="Back From Backup")
    kept = register_and_sign_in(gateway, name="Erased Before The Backup")
    back_event = asyncio.run(publish_erasure_as_identity_did(stack, uuid.UUID(back.id), datetime.now(UTC)))
    kept_event = asyncio.run(
        publish_erasure_as_identity_did(stack, uuid.UUID(kept.id), restored_to - timedelta(hours=1))
    )

    async def run(dry_run: bool) -> dict[str, str]:
        db = await create_pool(stack.dsns["identity"], schema="identity", application_name="test-redo")
        try:
            values = await redo_erasures.erasure_events(stack.bootstrap_servers)
            # Only this test's two events: the topic also holds other tests' made-up erasures of people
            # whose accounts other tests still use.
            ours = [v for v in values if any(e.encode() in v for e in (back_event, kept_event))]
            assert len(ours) == 2, "both events were read from the topic"
            outcomes = await redo_erasures.redo(db, ours, since=restored_to, dry_run=dry_run)
        finally:
            await db.close()
        return {o.event_id: o.action for o in outcomes}

    # A dry run says who would go and changes nothing.
    first = asyncio.run(run(dry_run=True))
    assert first[back_event] == "would-erase" and first[kept_event] == "before"
    assert asyncio.run(account_exists(stack, back.id))

    done = asyncio.run(run(dry_run=False))
    assert done[back_event] == "erased" and done[kept_event] == "before"
    assert not asyncio.run(account_exists(stack, back.id))
    assert asyncio.run(account_exists(stack, kept.id))  # erased before the recovery point: not this tool's to redo

    # The new erasure runs its course: every service confirms and the key is destroyed again.
    async def key_gone() -> bool:
        conn = await asyncpg.connect(stack.dsns["identity"])
        try:
            return not await conn.fetchval("SELECT 1 FROM keyvault.subject_keys WHERE user_id = $1", uuid.UUID(back.id))
        finally:
            await conn.close()

    asyncio.run(wait_until(key_gone, timeout_s=90, what="every service to confirm and the key to be destroyed"))

    # Run again, as a new process would (no keys cached): nobody is left to erase, and no key opens it.
    KEYRING.clear()
    again = asyncio.run(run(dry_run=False))
    assert again == {back_event: "unreadable", kept_event: "before"}


@pytest.mark.unit
def test_the_recovery_time_must_carry_its_zone() -> None:
    with pytest.raises(SystemExit):
        redo_erasures.main(["--since", "2026-05-07T18:00:00"])
