"""Races against the real database through the gateway: a request is never over-filled, and one
person never holds two live offers, however the calls interleave."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

import httpx
import pytest

from lx_contracts import topics
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in

from .conftest import Cast, RequestsApi

pytestmark = pytest.mark.e2e


async def _post_all(stack: Stack, calls: list[tuple[str, Person, dict[str, str] | None]]) -> list[httpx.Response]:
    """Send every call at once, each on its own connection."""
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, limits=limits) as client:
        return await asyncio.gather(*(client.post(url, headers=who.auth, json=body) for url, who, body in calls))


def _one_skill(api: RequestsApi, people: int) -> list[dict[str, object]]:
    return [{"slug": api.skills()[0], "min_level": 1, "people": people}]


def test_ten_accepts_racing_for_three_places_accept_exactly_three(stack: Stack, api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner, skills=_one_skill(api, 3))["id"]
    helpers = [register_and_sign_in(api.http, name=f"Racer {i}") for i in range(10)]
    offers = [api.offer_ok(h, rid)["id"] for h in helpers]
    # The owner, an organiser and an admin all click at once.
    deciders = [cast.owner, cast.organiser, cast.admin]
    calls = [(f"/api/v1/requests/{rid}/offers/{oid}/accept", deciders[i % 3], None) for i, oid in enumerate(offers)]

    answers = asyncio.run(_post_all(stack, calls))

    assert Counter(r.status_code for r in answers) == {200: 3, 409: 7}
    assert all(r.headers["content-type"] == "application/problem+json" for r in answers if r.status_code == 409)
    req = api.get(rid).json()
    assert (req["status"], req["people_accepted"], req["skills"][0]["people_accepted"]) == ("filled", 3, 3)
    listed = api.http.get(f"/api/v1/requests/{rid}/offers", headers=cast.owner.auth).json()["items"]
    assert Counter(o["status"] for o in listed) == {"accepted": 3, "pending": 7}
    assert api.scalar("SELECT count(*) FROM outbox WHERE key = $1 AND topic = $2", rid, topics.OFFER_ACCEPTED.name) == 3
    accepted_events = api.wait_events(topics.OFFER_ACCEPTED.name, rid, 3)
    assert len(accepted_events) == 3
    assert sorted(e["data"]["people_accepted"] for e in accepted_events) == [1, 2, 3]
    assert len(api.wait_events(topics.REQUEST_UPDATED.name, rid, 1)) == 1  # filled, once


def test_two_managers_accepting_the_last_place_at_once_fill_it_once(stack: Stack, api: RequestsApi, cast: Cast) -> None:
    for _ in range(3):
        rid = api.create(cast.owner, skills=_one_skill(api, 1))["id"]
        a, b = (api.offer_ok(register_and_sign_in(api.http), rid)["id"] for _ in range(2))
        answers = asyncio.run(
            _post_all(
                stack,
                [
                    (f"/api/v1/requests/{rid}/offers/{a}/accept", cast.owner, None),
                    (f"/api/v1/requests/{rid}/offers/{b}/accept", cast.organiser, None),
                ],
            )
        )
        assert sorted(r.status_code for r in answers) == [200, 409]
        assert api.get(rid).json()["people_accepted"] == 1


def test_offers_racing_a_request_as_it_fills_are_taken_only_while_it_is_open(
    stack: Stack, api: RequestsApi, cast: Cast
) -> None:
    rid = api.create(cast.owner, skills=_one_skill(api, 3))["id"]
    early = [api.offer_ok(register_and_sign_in(api.http), rid)["id"] for _ in range(3)]
    latecomers = [register_and_sign_in(api.http) for _ in range(7)]
    calls: list[tuple[str, Person, dict[str, str] | None]] = [
        (f"/api/v1/requests/{rid}/offers/{oid}/accept", cast.owner, None) for oid in early
    ]
    calls += [(f"/api/v1/requests/{rid}/offers", who, {"message": "Me too"}) for who in latecomers]

    answers = asyncio.run(_post_all(stack, calls))

    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    assert {r.status_code for r in answers[3:]} <= {201, 409}
    req = api.get(rid).json()
    assert (req["status"], req["people_accepted"]) == ("filled", 3)
    # Every offer that got in was made before the request filled (both times are taken under the row lock).
    filled_at = datetime.fromisoformat(req["updated_at"])
    taken = [r.json() for r in answers[3:] if r.status_code == 201]
    assert all(datetime.fromisoformat(o["created_at"]) < filled_at for o in taken)
    assert all(o["status"] == "pending" for o in taken)


def test_one_person_offering_twice_at_once_gets_one_live_offer(stack: Stack, api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    eager = register_and_sign_in(api.http)
    url = f"/api/v1/requests/{rid}/offers"
    answers = asyncio.run(_post_all(stack, [(url, eager, {"message": f"Take me {i}"}) for i in range(5)]))
    assert Counter(r.status_code for r in answers) == {201: 1, 409: 4}
    assert len(api.http.get(url, headers=cast.owner.auth).json()["items"]) == 1
