"""Ranked, explained matches through the gateway: who appears, in what order, why, and who may ask."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from lx_devstack.testing import Person, make_organiser, register_and_sign_in

from .conftest import CENTRAL, GLASGOW, PROBLEM, WITHINGTON, Gateway

pytestmark = pytest.mark.e2e

SATURDAY = {"starts_at": "2026-05-02T10:00:00+01:00", "ends_at": "2026-05-02T16:00:00+01:00"}


@dataclass
class Cast:
    skill: str
    owner: Person
    best: Person  # Withington, level 5, free on Saturdays
    near: Person  # Central (9 km), radius 15, level 3
    hidden: Person  # not discoverable
    too_far: Person  # Central, radius 5
    remote: Person  # Glasgow, remote
    weak: Person  # Withington, level 2 (below the minimum)
    organiser: Person
    other_organiser: Person
    admin: Person
    stranger: Person


@pytest.fixture(scope="module")
def cast(gw: Gateway, module_admin: Person) -> Cast:
    skill = gw.new_skill(module_admin, "Leaflet design")
    saturday = [{"day": "sat", "start": "10:00", "end": "16:00"}]
    c = Cast(
        skill=skill,
        owner=gw.supporter("Olive Owner", skills={skill: 5}),
        best=gw.supporter("Bea Best", skills={skill: 5}, availability=saturday),
        near=gw.supporter("Ned Near", skills={skill: 3}, code=CENTRAL, radius=15),
        hidden=gw.supporter("Hal Hidden", skills={skill: 5}, discoverable=False),
        too_far=gw.supporter("Fay Far", skills={skill: 5}, code=CENTRAL, radius=5),
        remote=gw.supporter("Rae Remote", skills={skill: 4}, code=GLASGOW, radius=0, remote=True),
        weak=gw.supporter("Wes Weak", skills={skill: 2}),
        organiser=make_organiser(gw.http, module_admin, WITHINGTON),
        other_organiser=make_organiser(gw.http, module_admin, CENTRAL),
        admin=module_admin,
        stranger=register_and_sign_in(gw.http, name="Stan Stranger"),
    )
    gw.wait_projected(c.owner, c.best, c.near, c.too_far, c.remote, c.weak)
    gw.wait_projected(c.hidden, candidates=False)
    return c


def open_request(gw: Gateway, c: Cast, **over: object) -> str:
    body: dict[str, object] = {"skills": [{"slug": c.skill, "min_level": 3, "people": 2}], **SATURDAY, **over}
    rid = gw.open_request(c.owner, **body)
    gw.wait_request(rid)
    return rid


def test_matches_come_best_first_with_readable_reasons(gw: Gateway, cast: Cast) -> None:
    rid = open_request(gw, cast)
    r = gw.matches(cast.owner, rid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [m["user_id"] for m in body["items"]] == [cast.best.id, cast.near.id]
    assert body["next_cursor"] is None
    best, near = body["items"]
    assert best["display_name"] == "Bea Best" and best["constituency_code"] == WITHINGTON
    assert 0 < near["score"] < best["score"] <= 1
    details = {(x["kind"], x["detail"]) for x in best["reasons"]}
    assert ("location", "Same constituency") in details
    assert ("availability", "Free Saturdays 10:00\u201316:00") in details
    assert ("load", "No other commitments") in details
    assert any(k == "skill" and d.endswith("level 5 (needs 3)") and "Leaflet design" in d for k, d in details)
    assert ("location", "9.1 km away, within 15 km") in {(x["kind"], x["detail"]) for x in near["reasons"]}


def test_hidden_weak_out_of_reach_and_the_owner_never_appear(gw: Gateway, cast: Cast) -> None:
    rid = open_request(gw, cast)
    ids = gw.match_ids(cast.admin, rid)
    assert cast.best.id in ids
    for absent in (cast.hidden, cast.weak, cast.too_far, cast.owner, cast.remote):
        assert absent.id not in ids, absent.display_name


def test_a_remote_request_reaches_remote_supporters_anywhere(gw: Gateway, cast: Cast) -> None:
    rid = open_request(gw, cast, remote_ok=True)
    ids = gw.match_ids(cast.organiser, rid)
    assert cast.remote.id in ids and ids.index(cast.remote.id) > ids.index(cast.best.id)
    item = next(m for m in gw.matches(cast.organiser, rid).json()["items"] if m["user_id"] == cast.remote.id)
    assert {"kind": "location", "detail": "Can help remotely"} in item["reasons"]


def test_people_who_offered_or_were_declined_leave_the_matches(gw: Gateway, cast: Cast) -> None:
    rid = open_request(gw, cast)
    offer = gw.offer(cast.near, rid)
    gw.act(cast.owner, rid, offer, "decline")
    gw.offer(cast.best, rid)
    gw.wait_for(
        "offers to reach the matcher",
        lambda: cast.best.id not in gw.match_ids(cast.owner, rid) and cast.near.id not in gw.match_ids(cast.owner, rid),
    )
    assert gw.match_ids(cast.owner, rid) == []


def test_a_supporter_busy_elsewhere_ranks_lower_and_says_so(gw: Gateway, cast: Cast) -> None:
    busy_with = open_request(gw, cast)
    offer = gw.offer(cast.best, busy_with)
    gw.act(cast.owner, busy_with, offer, "accept")
    rid = open_request(gw, cast, starts_at=None, ends_at=None)

    def busy_noted() -> bool:
        items = gw.matches(cast.owner, rid).json()["items"]
        best = next((m for m in items if m["user_id"] == cast.best.id), None)
        return best is not None and any(
            x["kind"] == "load" and "Already helping" in x["detail"] for x in best["reasons"]
        )

    gw.wait_for("the accepted offer to count against the supporter", busy_noted)


def test_matches_page_with_a_cursor(gw: Gateway, cast: Cast) -> None:
    rid = open_request(gw, cast)
    first = gw.matches(cast.owner, rid, limit=1).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = gw.matches(cast.owner, rid, limit=1, cursor=first["next_cursor"]).json()
    assert [m["user_id"] for m in first["items"] + second["items"]] == gw.match_ids(cast.owner, rid)[:2]
    assert gw.matches(cast.owner, rid, limit=101).status_code == 422
    bad = gw.matches(cast.owner, rid, cursor="not-a-cursor")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)


def test_only_the_owner_its_organisers_and_admins_see_matches(gw: Gateway, cast: Cast) -> None:
    rid = open_request(gw, cast)
    for allowed in (cast.owner, cast.organiser, cast.admin):
        assert gw.matches(allowed, rid).status_code == 200, allowed.display_name
    for refused in (cast.stranger, cast.other_organiser, cast.best):
        r = gw.matches(refused, rid)
        assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM), refused.display_name
    anonymous = gw.matches(None, rid)
    assert anonymous.status_code == 401 and anonymous.headers["content-type"].startswith(PROBLEM)
    assert gw.matches(cast.admin, str(uuid.uuid4())).status_code == 404
    assert gw.matches(cast.admin, "not-a-uuid").status_code == 422


def test_opportunities_rank_open_requests_for_a_supporter(gw: Gateway, cast: Cast) -> None:
    rid = open_request(gw, cast)
    r = gw.opportunities(cast.best, limit=100)
    assert r.status_code == 200, r.text
    item = next(o for o in r.json()["items"] if o["request_id"] == rid)
    assert item["title"] == "Help wanted" and item["constituency_code"] == WITHINGTON and 0 < item["score"] <= 1
    assert {"kind": "location", "detail": "Same constituency"} in item["reasons"]
    # Not the owner's own, not out of reach, not once offered.
    assert rid not in [o["request_id"] for o in gw.opportunities(cast.owner, limit=100).json()["items"]]
    assert rid not in [o["request_id"] for o in gw.opportunities(cast.too_far, limit=100).json()["items"]]
    gw.offer(cast.best, rid)
    gw.wait_for(
        "the offer to reach the matcher",
        lambda: rid not in [o["request_id"] for o in gw.opportunities(cast.best, limit=100).json()["items"]],
    )
    assert gw.opportunities(None).status_code == 401
    assert gw.opportunities(cast.stranger).json() == {"items": [], "next_cursor": None}
