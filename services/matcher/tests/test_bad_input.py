"""Bad events on the real topics, consumed by the running matcher: unknown fields, unknown people,
duplicates and late arrivals are absorbed; malformed ones go to the dead-letter topic and the
matcher carries on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from lx_contracts import topics
from lx_devstack.stack import Stack
from lx_devstack.testkit import envelope, produce, read_all, wait_until

from .conftest import offer, profile

pytestmark = pytest.mark.integration


async def fetch(stack: Stack, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.dsns["matcher"], server_settings={"search_path": "matcher"})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_odd_but_valid_events_are_absorbed_and_malformed_ones_dead_lettered(stack: Stack) -> None:
    stranger = uuid.uuid4()  # identity never told the matcher about this person
    oid, rid, late = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with_extra = envelope(
        topics.PROFILE_UPDATED.name,
        {**profile(stranger, skills={"mt-bad-input": 5}), "added_later": {"x": 1}},
        subject=str(stranger),
    )
    now = datetime.now(UTC)
    offered = envelope(topics.OFFER_MADE.name, offer(oid, rid, late, at=now), subject=str(rid))
    declined_id = uuid.uuid4()
    declined = envelope(
        topics.OFFER_DECLINED.name,
        offer(oid, rid, late, at=now + timedelta(seconds=1)),
        subject=str(rid),
        event_id=declined_id,
    )
    # Other readers of these topics decode every record, so the broken ones still look like events:
    # one whose envelope is invalid (no usable time), one whose payload is (no usable offer time).
    broken_rid = uuid.uuid4()
    bad_envelope = envelope(
        topics.OFFER_MADE.name, offer(uuid.uuid4(), broken_rid, uuid.uuid4(), at=now), subject=str(broken_rid)
    ).replace(b'"time": "', b'"time": "yesterday, ')
    bad_payload = envelope(
        topics.OFFER_MADE.name,
        {**offer(uuid.uuid4(), broken_rid, uuid.uuid4(), at=now), "at": "not a time"},
        subject=str(broken_rid),
    )

    await produce(
        stack.bootstrap_servers, topics.PROFILE_UPDATED.name, [with_extra, with_extra], key=str(stranger).encode()
    )
    # The decline is published first, on another topic, so either may be handled first: whichever
    # order they arrive in, the older "made" must not win over the newer decline.
    await produce(stack.bootstrap_servers, topics.OFFER_DECLINED.name, [declined], key=str(rid).encode())
    await produce(
        stack.bootstrap_servers, topics.OFFER_MADE.name, [offered, offered, bad_envelope, bad_payload], key=b"k"
    )

    async def absorbed() -> bool:
        rows = await fetch(stack, "SELECT status, made_at FROM offers WHERE offer_id = $1", oid)
        have_profile = await fetch(stack, "SELECT 1 FROM profiles WHERE user_id = $1", stranger)
        decline_handled = await fetch(stack, "SELECT 1 FROM inbox WHERE event_id = $1", declined_id)
        return bool(rows and rows[0]["made_at"] is not None and have_profile and decline_handled)

    # The matcher may still be working through what earlier tests published, hence the generous deadline.
    await wait_until(absorbed, timeout_s=120, what="the matcher to absorb the events")
    assert [r["status"] for r in await fetch(stack, "SELECT status FROM offers WHERE offer_id = $1", oid)] == [
        "declined"
    ]
    # A profile without a known person is kept but matches nobody until identity's event arrives.
    assert await fetch(stack, "SELECT 1 FROM candidates WHERE user_id = $1", stranger) == []
    assert (
        len(
            await fetch(
                stack, "SELECT 1 FROM inbox WHERE consumer = 'matcher' AND topic = $1", topics.PROFILE_UPDATED.name
            )
        )
        >= 1
    )

    async def dead_lettered() -> bool:
        records = await read_all(stack.bootstrap_servers, topics.OFFER_MADE.dlq, timeout_s=10)
        mine = {r.value for r in records if dict(r.headers).get("dlq-consumer") == b"matcher"}  # type: ignore[attr-defined]
        return {bad_envelope, bad_payload} <= mine

    await wait_until(dead_lettered, timeout_s=120, what="the malformed events on the dead-letter topic")
