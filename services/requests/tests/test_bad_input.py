"""Bad input gets a problem+json 4xx naming the fields at fault, and nothing is written."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lx_devstack.testing import register_and_sign_in

from .conftest import PROBLEM, Cast, RequestsApi

pytestmark = pytest.mark.e2e


def _skill(slug: str, min_level: Any = 1, people: Any = 1) -> dict[str, Any]:
    return {"slug": slug, "min_level": min_level, "people": people}


def _bad_bodies(slugs: list[str]) -> list[tuple[str, dict[str, Any], set[str]]]:
    """(what is wrong, changes to a good body, fields the errors must name)."""
    a, b, _ = slugs
    return [
        ("unknown constituency", {"constituency_code": "E99999999"}, {"constituency_code"}),
        ("unknown skill", {"skills": [_skill("underwater-basket-weaving")]}, {"skills.0.slug"}),
        ("duplicate skill", {"skills": [_skill(a), _skill(b), _skill(a, 2)]}, {"skills.2.slug"}),
        ("zero people", {"skills": [_skill(a, people=0)]}, {"skills.0.people"}),
        ("negative people", {"skills": [_skill(a, people=-2)]}, {"skills.0.people"}),
        ("absurd people", {"skills": [_skill(a, people=51)]}, {"skills.0.people"}),
        ("level 0", {"skills": [_skill(a, min_level=0)]}, {"skills.0.min_level"}),
        ("level 6", {"skills": [_skill(a, min_level=6)]}, {"skills.0.min_level"}),
        ("no skills", {"skills": []}, {"skills"}),
        ("too many skills", {"skills": [_skill(f"{a}-{i}") for i in range(21)]}, {"skills"}),
        ("people as a string", {"skills": [_skill(a, people="2")]}, {"skills.0.people"}),
        ("skill without a slug", {"skills": [{"min_level": 1, "people": 1}]}, {"skills.0.slug"}),
        ("ends before it starts", {"ends_at": "2026-05-02T08:00:00Z"}, {"ends_at"}),
        ("ends as it starts", {"ends_at": "2026-05-02T09:00:00Z"}, {"ends_at"}),
        ("time without a timezone", {"starts_at": "2026-05-02T10:00:00"}, {"starts_at"}),
        ("a date, not a time", {"ends_at": "2026-05-09"}, {"ends_at"}),
        ("not a time", {"starts_at": "next Tuesday"}, {"starts_at"}),
        ("an impossible date", {"ends_at": "2026-02-30T10:00:00Z"}, {"ends_at"}),
        ("a time as a number", {"starts_at": 1767225600}, {"starts_at"}),
        ("title too long", {"title": "x" * 121}, {"title"}),
        ("empty title", {"title": ""}, {"title"}),
        ("blank title", {"title": "   "}, {"title"}),
        ("null title", {"title": None}, {"title"}),
        ("description too long", {"description": "x" * 4001}, {"description"}),
        ("unknown urgency", {"urgency": "yesterday"}, {"urgency"}),
        ("remote_ok as a string", {"remote_ok": "yes"}, {"remote_ok"}),
        ("status smuggled in", {"status": "filled"}, {"status"}),
        ("owner smuggled in", {"created_by": str(uuid.uuid4())}, {"created_by"}),
    ]


def test_every_bad_request_body_is_refused_and_nothing_is_written(api: RequestsApi) -> None:
    someone = register_and_sign_in(api.http)
    failures = []
    for what, changes, fields in _bad_bodies(api.skills()):
        r = api.http.post("/api/v1/requests", headers=someone.auth, json=api.body(**changes))
        named = {e["field"] for e in r.json().get("errors", [])} if r.status_code == 422 else set()
        if r.status_code != 422 or r.headers["content-type"] != PROBLEM or not fields <= named:
            failures.append((what, r.status_code, r.text[:300]))
    assert failures == []
    missing = api.body()
    del missing["title"], missing["constituency_code"], missing["skills"]
    r = api.http.post("/api/v1/requests", headers=someone.auth, json=missing)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"title", "constituency_code", "skills"}
    r = api.http.post(
        "/api/v1/requests", headers={**someone.auth, "content-type": "application/json"}, content=b"{not json"
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert api.scalar("SELECT count(*) FROM requests WHERE created_by = $1", uuid.UUID(someone.id)) == 0
    assert api.http.get("/api/v1/me/requests", headers=someone.auth).json()["items"] == []


def test_all_problems_in_one_body_are_reported_together(api: RequestsApi, cast: Cast) -> None:
    slugs = api.skills()
    body = api.body(
        title="",
        constituency_code="nowhere",
        skills=[_skill(slugs[0], people=0), _skill("no-such-skill")],
        ends_at="2020-01-01T00:00:00Z",
    )
    r = api.http.post("/api/v1/requests", headers=cast.owner.auth, json=body)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {
        "title",
        "constituency_code",
        "skills.0.people",
        "skills.1.slug",
        "ends_at",
    }
    assert all(e["message"] for e in r.json()["errors"])


def test_bad_edits_are_refused_and_change_nothing(api: RequestsApi, cast: Cast) -> None:
    created = api.create(cast.owner)
    rid = created["id"]
    slugs = api.skills()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"title": "x" * 121}, "title"),
        ({"title": None}, "title"),
        ({"skills": None}, "skills"),
        ({"skills": []}, "skills"),
        ({"skills": [_skill("no-such-skill")]}, "skills.0.slug"),
        ({"skills": [_skill(slugs[0]), _skill(slugs[0])]}, "skills.1.slug"),
        ({"skills": [_skill(slugs[0], people=0)]}, "skills.0.people"),
        ({"starts_at": "2026-06-01T00:00:00Z"}, "ends_at"),  # now after the existing end
        ({"constituency_code": "X1"}, "constituency_code"),
        ({"description": "x" * 4001}, "description"),
        ({"status": "filled"}, "status"),
        ({"people_accepted": 3}, "people_accepted"),
    ]
    for changes, field in bad:
        r = api.http.patch(f"/api/v1/requests/{rid}", headers=cast.owner.auth, json=changes)
        assert r.status_code == 422, (changes, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert field in {e["field"] for e in r.json()["errors"]}, (changes, r.text)
    assert api.get(rid).json() == created
    assert api.outbox_count(rid) == 1  # only request-opened


def test_bad_offers_are_refused_and_write_nothing(api: RequestsApi, cast: Cast) -> None:
    slugs = api.skills()
    rid = api.create(cast.owner, skills=[_skill(slugs[0])])["id"]
    helper = register_and_sign_in(api.http)
    url = f"/api/v1/requests/{rid}/offers"

    cases: list[tuple[Any, dict[str, Any], int, str | None]] = [
        (helper, {"message": "x", "skill": slugs[2]}, 422, "skill"),
        (helper, {"message": "x" * 1001}, 422, "message"),
        (helper, {"skill": slugs[0]}, 422, "message"),
        (helper, {"message": 5}, 422, "message"),
        (helper, {"message": "x", "status": "accepted"}, 422, "status"),
        (cast.owner, {"message": "I can do it myself"}, 403, None),
    ]
    for who, body, status, field in cases:
        r = api.http.post(url, headers=who.auth, json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == PROBLEM
        if field:
            assert field in {e["field"] for e in r.json()["errors"]}
    assert api.http.get(url, headers=cast.owner.auth).json()["items"] == []
    assert api.outbox_count(rid) == 1

    first = api.offer_ok(helper, rid, skill=slugs[0])
    second = api.offer(helper, rid)
    assert second.status_code == 409 and second.headers["content-type"] == PROBLEM
    assert api.act(cast.owner, rid, first["id"], "accept").status_code == 200
    assert api.offer(helper, rid).status_code == 409  # accepted is still live, and the request is filled
    late = api.offer(register_and_sign_in(api.http), rid)
    assert late.status_code == 409
    assert [o["id"] for o in api.http.get(url, headers=cast.owner.auth).json()["items"]] == [first["id"]]
    assert api.outbox_count(rid) == 4  # opened, offer made, offer accepted, updated (filled)


def test_unknown_ids_and_offers_of_other_requests_are_404(api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    other = api.create(cast.owner)["id"]
    offer = api.offer_ok(cast.supporter, other)
    nobody = str(uuid.uuid4())
    assert api.get(nobody).status_code == 404
    assert api.http.patch(f"/api/v1/requests/{nobody}", headers=cast.owner.auth, json={"title": "x"}).status_code == 404
    assert api.offer(cast.supporter, nobody).status_code == 404
    for action in ("accept", "decline"):
        assert api.act(cast.owner, rid, offer["id"], action).status_code == 404
        assert api.act(cast.owner, rid, nobody, action).status_code == 404
    assert api.act(cast.supporter, rid, offer["id"], "withdraw").status_code == 404
    assert api.get("not-a-uuid").status_code == 422


def test_closing_needs_a_known_outcome(api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    for body in ({"outcome": "rejected"}, {"outcome": "done"}, {}, {"outcome": None}):
        r = api.http.post(f"/api/v1/requests/{rid}/close", headers=cast.owner.auth, json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "outcome"
    assert api.get(rid).json()["status"] == "open"
