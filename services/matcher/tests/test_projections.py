"""The matcher's projections on a fresh copy of its schema, fed through the real inbox: duplicates,
out-of-order and older events change nothing they should not, and the statistics follow."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError

from lx_contracts import topics
from matcher_svc import repository as repo

from .conftest import CENTRAL, T0, WITHINGTON, Projection, event, offer, person, profile, request_state

pytestmark = pytest.mark.integration


async def supporters(p: Projection, code: str = WITHINGTON) -> dict[str, int]:
    return {
        r["slug"]: r["n"]
        for r in await p.rows("SELECT slug, n FROM stat_supporters WHERE constituency_code = $1", code)
    }


async def counts(p: Projection, code: str = WITHINGTON) -> dict[str, int]:
    return {
        r["status"]: r["n"]
        for r in await p.rows("SELECT status, n FROM stat_requests WHERE constituency_code = $1", code)
    }


async def test_a_discoverable_person_with_a_profile_becomes_a_candidate_in_either_order(projection: Projection) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await projection.feed(
        event(topics.USER_REGISTERED.name, person(first), at=T0),
        event(topics.PROFILE_UPDATED.name, profile(first), at=T0 + timedelta(seconds=1)),
        event(topics.PROFILE_UPDATED.name, profile(second), at=T0 + timedelta(seconds=1)),
        event(topics.USER_REGISTERED.name, person(second), at=T0),
    )
    rows = await projection.rows("SELECT user_id, slug, level, lat FROM candidates ORDER BY user_id")
    assert {r["user_id"] for r in rows} == {first, second}
    assert all(r["slug"] == "graphic-design" and r["level"] == 4 and r["lat"] is not None for r in rows)
    assert await supporters(projection) == {"graphic-design": 2}


async def test_hidden_and_invited_people_are_not_candidates_until_they_change(projection: Projection) -> None:
    hidden, invited = uuid.uuid4(), uuid.uuid4()
    await projection.feed(
        event(topics.USER_REGISTERED.name, person(hidden, discoverable=False), at=T0),
        event(topics.USER_REGISTERED.name, person(invited, discoverable=True, invited=True), at=T0),
        event(topics.PROFILE_UPDATED.name, profile(hidden), at=T0),
        event(topics.PROFILE_UPDATED.name, profile(invited), at=T0),
    )
    assert await projection.value("SELECT count(*) FROM candidates") == 0
    assert await supporters(projection) == {}
    # Claiming the invited account is an update; the hidden person opts in.
    await projection.feed(
        event(topics.USER_UPDATED.name, person(invited), at=T0 + timedelta(minutes=1)),
        event(topics.USER_UPDATED.name, person(hidden), at=T0 + timedelta(minutes=1)),
    )
    assert await projection.value("SELECT count(DISTINCT user_id) FROM candidates") == 2
    assert await supporters(projection) == {"graphic-design": 2}
    # Withdrawing consent takes them out again, and out of the counts.
    await projection.feed(
        event(topics.USER_UPDATED.name, person(hidden, discoverable=False), at=T0 + timedelta(minutes=2))
    )
    assert await supporters(projection) == {"graphic-design": 1}


async def test_an_older_profile_arriving_late_changes_nothing_and_replays_are_harmless(projection: Projection) -> None:
    uid = uuid.uuid4()
    newest = event(
        topics.PROFILE_UPDATED.name, profile(uid, code=CENTRAL, skills={"copywriting": 5}), at=T0 + timedelta(minutes=5)
    )
    older = event(topics.PROFILE_UPDATED.name, profile(uid, code=WITHINGTON), at=T0)
    registered = event(topics.USER_REGISTERED.name, person(uid), at=T0)
    for e in (registered, newest, older, newest, registered, older):
        await projection.feed(e)
    rows = await projection.rows("SELECT slug, constituency_code FROM candidates WHERE user_id = $1", uid)
    assert [(r["slug"], r["constituency_code"]) for r in rows] == [("copywriting", CENTRAL)]
    assert await supporters(projection, CENTRAL) == {"copywriting": 1}
    assert await supporters(projection, WITHINGTON) == {}


async def test_request_counts_follow_a_request_from_open_to_filled_to_completed(projection: Projection) -> None:
    rid, owner, helper = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    oid = uuid.uuid4()
    await projection.feed(event(topics.REQUEST_OPENED.name, request_state(rid, owner=owner), at=T0))
    assert await counts(projection) == {"open": 1}
    assert await projection.value("SELECT people FROM stat_demand WHERE slug = 'graphic-design'") == 1
    await projection.feed(
        event(topics.OFFER_MADE.name, offer(oid, rid, helper, at=T0 + timedelta(hours=2)), at=T0 + timedelta(hours=2)),
        event(
            topics.OFFER_ACCEPTED.name,
            offer(
                oid,
                rid,
                helper,
                at=T0 + timedelta(hours=3),
                people_accepted=1,
                people_needed=1,
                request_status="filled",
            ),
            at=T0 + timedelta(hours=3),
        ),
        event(
            topics.REQUEST_UPDATED.name,
            request_state(rid, owner=owner, status="filled", accepted=1),
            at=T0 + timedelta(hours=3),
        ),
    )
    assert await counts(projection) == {"filled": 1}
    assert await projection.value("SELECT count(*) FROM stat_demand") == 0
    row = (await projection.rows("SELECT first_offer_at, filled_at FROM requests WHERE request_id = $1", rid))[0]
    assert row["first_offer_at"] == T0 + timedelta(hours=2) and row["filled_at"] == T0 + timedelta(hours=3)
    closed = {"request_id": str(rid), "outcome": "completed", "closed_at": (T0 + timedelta(days=1)).isoformat()}
    await projection.feed(event(topics.REQUEST_CLOSED.name, closed, at=T0 + timedelta(days=1)))
    assert await counts(projection) == {"completed": 1}


async def test_events_about_a_request_before_it_arrives_are_kept_and_applied(projection: Projection) -> None:
    rid, owner, helper, oid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    closed = {"request_id": str(rid), "outcome": "cancelled", "closed_at": (T0 + timedelta(hours=5)).isoformat()}
    await projection.feed(
        event(topics.OFFER_MADE.name, offer(oid, rid, helper, at=T0 + timedelta(hours=1)), at=T0 + timedelta(hours=1)),
        event(topics.REQUEST_CLOSED.name, closed, at=T0 + timedelta(hours=5)),
    )
    assert await counts(projection) == {}
    await projection.feed(event(topics.REQUEST_OPENED.name, request_state(rid, owner=owner), at=T0))
    # The close wins over the older open state; the earlier offer counts as the first.
    assert await counts(projection) == {"cancelled": 1}
    assert await projection.value("SELECT first_offer_at FROM requests WHERE request_id = $1", rid) == T0 + timedelta(
        hours=1
    )
    assert await projection.value("SELECT count(*) FROM stat_demand") == 0


async def test_an_offer_status_older_than_the_stored_one_does_not_win(projection: Projection) -> None:
    rid, helper, oid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await projection.feed(
        event(
            topics.OFFER_DECLINED.name,
            offer(oid, rid, helper, at=T0 + timedelta(minutes=2)),
            at=T0 + timedelta(minutes=2),
        ),
        event(topics.OFFER_MADE.name, offer(oid, rid, helper, at=T0), at=T0),
    )
    row = (await projection.rows("SELECT status, made_at FROM offers WHERE offer_id = $1", oid))[0]
    assert row["status"] == "declined" and row["made_at"] == T0


async def test_malformed_payloads_fail_and_write_nothing(projection: Projection) -> None:
    with pytest.raises(ValidationError):
        await projection.feed(event(topics.PROFILE_UPDATED.name, {"user_id": "not-a-uuid"}, at=T0))
    with pytest.raises(ValidationError):
        await projection.feed(event(topics.REQUEST_OPENED.name, {"request_id": str(uuid.uuid4())}, at=T0))
    for table in repo.PROJECTION_TABLES:
        assert await projection.value(f"SELECT count(*) FROM {table}") == 0, table
    assert await projection.value("SELECT count(*) FROM inbox") == 0


async def test_unknown_fields_are_ignored(projection: Projection) -> None:
    uid = uuid.uuid4()
    await projection.feed(
        event(topics.USER_REGISTERED.name, {**person(uid), "pronouns": "they"}, at=T0),
        event(topics.PROFILE_UPDATED.name, {**profile(uid), "languages": ["cy"]}, at=T0),
    )
    assert await projection.value("SELECT count(*) FROM candidates WHERE user_id = $1", uid) == 1


async def test_a_fill_seen_before_its_request_still_dates_the_filling(projection: Projection) -> None:
    rid, owner, helper, oid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = T0 + timedelta(hours=4)
    accepted = offer(oid, rid, helper, at=at, people_accepted=1, people_needed=1, request_status="filled")
    await projection.feed(
        event(topics.OFFER_ACCEPTED.name, accepted, at=at),
        event(topics.REQUEST_OPENED.name, request_state(rid, owner=owner), at=T0),
        event(
            topics.REQUEST_UPDATED.name,
            request_state(rid, owner=owner, status="filled", accepted=1),
            at=at + timedelta(seconds=1),
        ),
    )
    assert await projection.value("SELECT filled_at FROM requests WHERE request_id = $1", rid) == at
    assert await counts(projection) == {"filled": 1}
