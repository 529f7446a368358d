"""Requests recorded from tweets: the twitter gateway's events produced to the real broker, the outcome
read through the gateway, the service's schema and its topics."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lx_contracts import topics
from lx_contracts.topics import dlq_of
from lx_devstack.stack import Stack
from lx_devstack.testkit import envelope, produce, read_all
from requests_svc.domain import DELETED_TWEET_NOTE, description_from_tweet, title_for_x

from .conftest import WITHINGTON, Cast, RequestsApi

KEY = b"tweets-under-test"  # one key, one partition: events are handled in the order produced


def tweet_id() -> str:
    return str(random.randrange(10**18, 10**19))


def received(tid: str, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    data: dict[str, Any] = {
        "tweet_id": tid,
        "url": f"https://x.com/someone/status/{tid}",
        "text": "Anyone in Withington good at graphic design? Need a leaflet by Friday #LabourExchange",
        "user_id": None,
        "intent": "ask",
        "skills": ["graphic-design"],
        "constituency_code": WITHINGTON,
        "posted_at": now,
        "received_at": now,
    }
    data.update(overrides)
    return data


def send(stack: Stack, topic: topics.Topic, *datas: dict[str, Any]) -> None:
    values = [envelope(topic.name, d) for d in datas]
    asyncio.run(produce(stack.bootstrap_servers, topic.name, values, key=KEY))


def request_of(api: RequestsApi, tid: str) -> str:
    api.wait_for(f"a request from tweet {tid}", "SELECT 1 FROM requests WHERE source_ref = $1", tid)
    return str(api.scalar("SELECT id FROM requests WHERE source_ref = $1", tid))


def ignored(stack: Stack) -> dict[str, float]:
    text = httpx.get(f"{stack.url_of('requests')}/metrics").text
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^lx_requests_tweets_ignored_total\{reason="(\w+)"\} (\S+)$', text, re.M)
    }


@pytest.mark.unit
def test_titles_name_the_skills_and_the_place_and_fit_the_limit() -> None:
    assert title_for_x(["Graphic design"], "Manchester Withington") == "Graphic design needed in Manchester Withington"
    assert (
        title_for_x(["Graphic design", "Leafleting", "SEO"], "Bath")
        == "Graphic design, leafleting and SEO needed in Bath"
    )
    long = title_for_x([f"Skill number {i} with a long name" for i in range(10)], "Manchester Withington")
    assert len(long) <= 120 and long.endswith("more needed in Manchester Withington")


@pytest.mark.unit
def test_descriptions_keep_the_text_without_invisible_characters_and_link_the_tweet() -> None:
    assert description_from_tweet("Help\u200b please\x07", "https://x.com/a/status/1") == (
        "Help please\n\nFrom X: https://x.com/a/status/1"
    )
    assert len(description_from_tweet("x" * 5000, "https://x.com/a/status/1")) <= 4000


@pytest.mark.integration
def test_a_linked_authors_tweet_becomes_their_open_request(
    stack: Stack, api: RequestsApi, cast: Cast, module_gateway: httpx.Client
) -> None:
    api.skills()
    tid = tweet_id()
    send(stack, topics.TWEET_RECEIVED, received(tid, user_id=cast.owner.id))
    rid = request_of(api, tid)
    r = api.get(rid)
    assert r.status_code == 200, r.text
    body = r.json()
    name = api.scalar("SELECT name FROM skills WHERE slug = 'graphic-design'")
    assert body["title"] == f"{name} needed in Manchester Withington"
    assert body["description"] == (
        "Anyone in Withington good at graphic design? Need a leaflet by Friday #LabourExchange"
        f"\n\nFrom X: https://x.com/someone/status/{tid}"
    )
    assert body["status"] == "open" and body["source"] == "x" and body["source_ref"] == tid
    assert body["created_by"] == cast.owner.id
    assert body["skills"] == [{"slug": "graphic-design", "min_level": 1, "people": 1, "people_accepted": 0}]
    assert body["urgency"] == "normal" and body["remote_ok"] is False
    assert body["starts_at"] is None and body["ends_at"] is None
    # It is theirs: it lists among their requests.
    mine = module_gateway.get("/api/v1/me/requests", headers=cast.owner.auth).json()["items"]
    assert rid in [m["id"] for m in mine]

    [opened] = api.wait_events(topics.REQUEST_OPENED.name, rid, 1)
    assert opened["data"]["source"] == "x" and opened["data"]["source_ref"] == tid
    assert opened["data"]["status"] == "open"
    assert "Withington good at" not in str(opened["data"])


@pytest.mark.integration
def test_an_author_not_yet_known_to_requests_still_owns_the_request(stack: Stack, api: RequestsApi) -> None:
    api.skills()
    stranger = str(uuid.uuid4())  # an account requests has not heard of (yet)
    tid = tweet_id()
    send(stack, topics.TWEET_RECEIVED, received(tid, user_id=stranger))
    rid = request_of(api, tid)
    body = api.get(rid).json()
    assert body["status"] == "open" and body["created_by"] == stranger and body["created_by_name"] is None


@pytest.mark.integration
def test_an_unknown_authors_tweet_waits_for_the_constituencys_organiser(
    stack: Stack, api: RequestsApi, cast: Cast
) -> None:
    api.skills()
    tid = tweet_id()
    send(stack, topics.TWEET_RECEIVED, received(tid))
    rid = request_of(api, tid)
    seen = api.get(rid, cast.organiser)
    assert seen.status_code == 200 and seen.json()["status"] == "pending" and seen.json()["created_by"] is None
    assert api.get(rid, cast.admin).status_code == 200
    for who in (None, cast.supporter, cast.other_organiser):
        assert api.get(rid, who).status_code == 404
    [opened] = api.wait_events(topics.REQUEST_OPENED.name, rid, 1)
    assert opened["data"]["status"] == "pending" and opened["data"]["source_ref"] == tid


@pytest.mark.integration
def test_the_same_tweet_received_twice_makes_one_request(stack: Stack, api: RequestsApi) -> None:
    api.skills()
    tid, marker = tweet_id(), tweet_id()
    # Two events (two event ids: the inbox alone would not stop the second), then a marker behind them.
    send(stack, topics.TWEET_RECEIVED, received(tid), received(tid), received(marker))
    request_of(api, marker)
    assert api.scalar("SELECT count(*) FROM requests WHERE source_ref = $1", tid) == 1


@pytest.mark.integration
def test_tweets_that_are_not_asks_for_known_skills_in_a_place_are_ignored(stack: Stack, api: RequestsApi) -> None:
    api.skills()
    before = ignored(stack)
    offer, other, no_skill, unknown_skill, no_place, bad_place, marker = (tweet_id() for _ in range(7))
    send(
        stack,
        topics.TWEET_RECEIVED,
        received(offer, intent="offer"),
        received(other, intent="other"),
        received(no_skill, skills=[]),
        received(unknown_skill, skills=["no-such-skill"]),
        received(no_place, constituency_code=None),
        received(bad_place, constituency_code="E99999999"),
        received(marker),
    )
    request_of(api, marker)
    for tid in (offer, other, no_skill, unknown_skill, no_place, bad_place):
        assert api.scalar("SELECT count(*) FROM requests WHERE source_ref = $1", tid) == 0
    after = ignored(stack)

    def grew(reason: str) -> float:
        return after.get(reason, 0) - before.get(reason, 0)

    assert grew("not_an_ask") >= 2 and grew("no_known_skill") >= 2 and grew("no_constituency") >= 2
    # Nothing went to the dead-letter topic: ignoring is not failing.
    dead = asyncio.run(read_all(stack.bootstrap_servers, dlq_of(topics.TWEET_RECEIVED.name), timeout_s=5))
    assert not [r for r in dead if any(t.encode() in r.value for t in (offer, no_skill, no_place))]  # type: ignore[attr-defined]


@pytest.mark.integration
def test_a_deleted_tweet_leaves_no_text_and_its_pending_request_is_rejected(
    stack: Stack, api: RequestsApi, cast: Cast
) -> None:
    api.skills()
    pending_tid, open_tid = tweet_id(), tweet_id()
    send(stack, topics.TWEET_RECEIVED, received(pending_tid), received(open_tid, user_id=cast.owner.id))
    pending_id, open_id = request_of(api, pending_tid), request_of(api, open_tid)
    at = datetime.now(UTC).isoformat()
    send(stack, topics.TWEET_DELETED, {"tweet_id": pending_tid, "at": at}, {"tweet_id": open_tid, "at": at})
    api.wait_for(
        "both descriptions scrubbed",
        "SELECT 1 FROM requests WHERE source_ref = ANY($1::text[]) AND description = $2 HAVING count(*) = 2",
        [pending_tid, open_tid],
        DELETED_TWEET_NOTE,
    )

    rejected = api.get(pending_id, cast.organiser).json()
    assert rejected["status"] == "cancelled" and rejected["outcome"] == "rejected"
    assert rejected["description"] == DELETED_TWEET_NOTE
    still_open = api.get(open_id).json()
    assert still_open["status"] == "open" and still_open["description"] == DELETED_TWEET_NOTE
    assert (
        api.scalar(
            "SELECT count(*) FROM requests WHERE search @@ plainto_tsquery('english', 'leaflet Friday')"
            " AND source_ref = ANY($1::text[])",
            [pending_tid, open_tid],
        )
        == 0
    )

    [closed] = api.wait_events(topics.REQUEST_CLOSED.name, pending_id, 1)
    assert closed["data"]["outcome"] == "rejected"

    # Deleted again (a second event): nothing more happens.
    send(stack, topics.TWEET_DELETED, {"tweet_id": pending_tid, "at": at}, {"tweet_id": open_tid, "at": at})
    marker = tweet_id()
    send(stack, topics.TWEET_DELETED, {"tweet_id": marker, "at": at})
    api.wait_for("the marker deletion", "SELECT 1 FROM deleted_tweets WHERE tweet_id = $1", marker)
    assert api.outbox_count(pending_id) == 2  # opened, closed
    assert api.outbox_count(open_id) == 1  # opened only: the description is in no event


@pytest.mark.integration
def test_a_tweet_deleted_before_it_arrives_never_becomes_a_request(stack: Stack, api: RequestsApi) -> None:
    api.skills()
    tid, marker = tweet_id(), tweet_id()
    send(stack, topics.TWEET_DELETED, {"tweet_id": tid, "at": datetime.now(UTC).isoformat()})
    api.wait_for("the deletion", "SELECT 1 FROM deleted_tweets WHERE tweet_id = $1", tid)
    send(stack, topics.TWEET_RECEIVED, received(tid), received(marker))
    request_of(api, marker)
    assert api.scalar("SELECT count(*) FROM requests WHERE source_ref = $1", tid) == 0
