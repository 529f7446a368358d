"""A help request's life through the gateway: ask, browse, offer, accept, fill, withdraw, close."""

from __future__ import annotations

import uuid

import httpx
import pytest

from lx_devstack.testing import Person, register_and_sign_in

from .conftest import CENTRAL, WITHINGTON, Cast, RequestsApi

pytestmark = pytest.mark.e2e


def test_a_request_is_created_open_with_every_field_in_utc(api: RequestsApi, cast: Cast) -> None:
    api.wait_known(cast.owner)
    created = api.create(cast.owner)
    slugs = api.skills()
    assert created["status"] == "open" and created["source"] == "web" and created["outcome"] is None
    assert created["created_by"] == cast.owner.id and created["created_by_name"] == "Olive Owner"
    assert created["constituency_code"] == WITHINGTON and created["constituency_name"] == "Manchester Withington"
    assert created["starts_at"] == "2026-05-02T09:00:00Z" and created["ends_at"] == "2026-05-09T18:00:00Z"
    assert created["skills"] == [
        {"slug": slugs[0], "min_level": 3, "people": 1, "people_accepted": 0},
        {"slug": slugs[1], "min_level": 1, "people": 2, "people_accepted": 0},
    ]
    assert (created["people_needed"], created["people_accepted"]) == (3, 0)
    assert created["created_at"].endswith("Z") and created["created_at"] == created["updated_at"]
    assert api.get(created["id"]).json() == created


def test_full_lifecycle_offer_accept_fill_withdraw_reopen_complete(api: RequestsApi, cast: Cast) -> None:
    slugs = api.skills()
    req = api.create(cast.owner, skills=[{"slug": slugs[0], "min_level": 2, "people": 2}])
    rid = req["id"]
    helpers = [register_and_sign_in(api.http, name=f"Helper {i}") for i in range(3)]
    offers = [api.offer_ok(h, rid, skill=slugs[0]) for h in helpers[:2]]
    assert offers[0]["status"] == "pending" and offers[0]["user_id"] == helpers[0].id

    first = api.act(cast.owner, rid, offers[0]["id"], "accept")
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    assert api.get(rid).json()["status"] == "open" and api.get(rid).json()["people_accepted"] == 1

    second = api.act(cast.organiser, rid, offers[1]["id"], "accept")
    assert second.status_code == 200
    filled = api.get(rid).json()
    assert (filled["status"], filled["people_accepted"], filled["skills"][0]["people_accepted"]) == ("filled", 2, 2)
    assert api.offer(helpers[2], rid).status_code == 409

    withdrawn = api.act(helpers[1], rid, offers[1]["id"], "withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    reopened = api.get(rid).json()
    assert (reopened["status"], reopened["people_accepted"]) == ("open", 1)

    # Reopened, it takes offers again, and the withdrawn helper may offer anew.
    third = api.offer_ok(helpers[2], rid)
    assert api.offer(helpers[1], rid).status_code == 201
    assert api.act(cast.admin, rid, third["id"], "accept").json()["status"] == "accepted"
    assert api.get(rid).json()["status"] == "filled"

    done = api.http.post(f"/api/v1/requests/{rid}/close", headers=cast.owner.auth, json={"outcome": "completed"})
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["outcome"]) == ("completed", "completed")
    assert done.json()["closed_at"] is not None
    again = api.http.post(f"/api/v1/requests/{rid}/close", headers=cast.owner.auth, json={"outcome": "cancelled"})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"


def test_declined_offer_frees_the_person_to_offer_again(api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    helper = register_and_sign_in(api.http)
    offer = api.offer_ok(helper, rid)
    declined = api.act(cast.owner, rid, offer["id"], "decline")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert api.act(cast.owner, rid, offer["id"], "accept").status_code == 409
    assert api.act(cast.owner, rid, offer["id"], "decline").status_code == 409
    assert api.act(helper, rid, offer["id"], "withdraw").status_code == 409
    assert api.offer(helper, rid).status_code == 201


def test_an_offer_without_a_skill_counts_against_the_first_skill_with_room(api: RequestsApi, cast: Cast) -> None:
    slugs = api.skills()
    rid = api.create(cast.owner)["id"]  # slugs[0] needs 1 person, slugs[1] needs 2
    helpers = [register_and_sign_in(api.http) for _ in range(3)]
    named = api.offer_ok(helpers[0], rid, skill=slugs[0])
    unnamed = api.offer_ok(helpers[1], rid)
    assert api.act(cast.owner, rid, named["id"], "accept").status_code == 200
    assert api.act(cast.owner, rid, unnamed["id"], "accept").status_code == 200
    skills = api.get(rid).json()["skills"]
    assert [s["people_accepted"] for s in skills] == [1, 1]
    # The first skill is full: another offer naming it cannot be accepted, though the request is open.
    late = api.offer_ok(helpers[2], rid, skill=slugs[0])
    refused = api.act(cast.owner, rid, late["id"], "accept")
    assert refused.status_code == 409 and slugs[0] in refused.json()["detail"]


def test_editing_changes_fields_and_refuses_fewer_people_than_accepted(api: RequestsApi, cast: Cast) -> None:
    slugs = api.skills()
    rid = api.create(cast.owner)["id"]  # slugs[0] needs 1 person, slugs[1] needs 2
    for _ in range(2):
        offer = api.offer_ok(register_and_sign_in(api.http), rid, skill=slugs[1])
        assert api.act(cast.owner, rid, offer["id"], "accept").status_code == 200

    r = api.http.patch(
        f"/api/v1/requests/{rid}", headers=cast.organiser.auth, json={"title": "A new title", "ends_at": None}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["title"], r.json()["ends_at"], r.json()["description"]) == (
        "A new title",
        None,
        "A5 double-sided; copy and photos are ready.",
    )
    assert r.json()["updated_at"] > r.json()["created_at"]

    too_few = [{"slug": slugs[0], "min_level": 3, "people": 1}, {"slug": slugs[1], "min_level": 1, "people": 1}]
    r = api.http.patch(f"/api/v1/requests/{rid}", headers=cast.owner.auth, json={"skills": too_few})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "skills.1.people", "message": "2 people are already accepted for this skill."}
    ]
    dropped = [{"slug": slugs[0], "min_level": 3, "people": 1}]
    r = api.http.patch(f"/api/v1/requests/{rid}", headers=cast.owner.auth, json={"skills": dropped})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "skills"
    kept = api.get(rid).json()
    assert (kept["title"], kept["people_needed"], kept["people_accepted"]) == ("A new title", 3, 2)

    # Cutting the need to the people accepted fills the request; a filled request cannot be edited.
    r = api.http.patch(
        f"/api/v1/requests/{rid}",
        headers=cast.owner.auth,
        json={"skills": [{"slug": slugs[1], "min_level": 1, "people": 2}]},
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["people_needed"]) == ("filled", 2)
    r = api.http.patch(f"/api/v1/requests/{rid}", headers=cast.owner.auth, json={"title": "Too late"})
    assert r.status_code == 409


def test_cancelling_an_open_request_stops_offers(api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    helper = register_and_sign_in(api.http)
    offer = api.offer_ok(helper, rid)
    r = api.http.post(f"/api/v1/requests/{rid}/close", headers=cast.organiser.auth, json={"outcome": "cancelled"})
    assert r.status_code == 200 and (r.json()["status"], r.json()["outcome"]) == ("cancelled", "cancelled")
    assert api.offer(register_and_sign_in(api.http), rid).status_code == 409
    assert api.act(cast.owner, rid, offer["id"], "accept").status_code == 409
    assert api.act(helper, rid, offer["id"], "withdraw").status_code == 409
    for outcome in ("completed", "cancelled"):
        r = api.http.post(f"/api/v1/requests/{rid}/close", headers=cast.owner.auth, json={"outcome": outcome})
        assert r.status_code == 409


# -- browsing ----------------------------------------------------------------------------------


def _ids(gateway: httpx.Client, params: dict[str, str | int], who: Person | None = None) -> list[str]:
    r = gateway.get("/api/v1/requests", params=params, headers=who.auth if who else {})
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def test_browse_filters_by_status_constituency_skill_and_words(api: RequestsApi, cast: Cast) -> None:
    slugs = api.skills()
    word = f"zx{uuid.uuid4().hex[:8]}"  # a word only these requests use
    designing = api.create(
        cast.owner,
        title=f"Posters for the {word} rally",
        skills=[{"slug": slugs[0], "min_level": 1, "people": 1}],
    )
    elsewhere = api.create(
        cast.owner,
        title=f"Leaflets for {word} in the centre",
        constituency_code=CENTRAL,
        skills=[{"slug": slugs[1], "min_level": 1, "people": 1}],
    )
    described = api.create(cast.owner, title="Help wanted", description=f"Painting {word} banners")
    closed = api.create(cast.owner, title=f"Old {word} job")
    api.http.post(f"/api/v1/requests/{closed['id']}/close", headers=cast.owner.auth, json={"outcome": "completed"})

    newest_first = [described["id"], elsewhere["id"], designing["id"]]
    assert _ids(api.http, {"q": word}) == newest_first
    assert _ids(api.http, {"q": word, "status": "open"}) == newest_first
    assert _ids(api.http, {"q": word, "status": "completed"}) == [closed["id"]]
    assert _ids(api.http, {"q": word, "status": "any"}) == [closed["id"], *newest_first]
    assert _ids(api.http, {"q": word, "constituency": CENTRAL}) == [elsewhere["id"]]
    assert _ids(api.http, {"q": word, "constituency": WITHINGTON}) == [described["id"], designing["id"]]
    assert _ids(api.http, {"q": word, "skill": slugs[0]}) == [described["id"], designing["id"]]
    assert _ids(api.http, {"q": word, "skill": slugs[1], "constituency": CENTRAL}) == [elsewhere["id"]]
    # English stemming: "banner" finds "banners"; words match anywhere in title or description.
    assert _ids(api.http, {"q": f"{word} banner"}) == [described["id"]]
    assert _ids(api.http, {"q": f"{word} nothing-like-this"}) == []
    # Only stop words: no filter rather than no match.
    assert _ids(api.http, {"q": "the and", "limit": 3}) == _ids(api.http, {"limit": 3}) == newest_first


def test_browse_pages_newest_first_with_a_cursor(api: RequestsApi, cast: Cast) -> None:
    word = f"zp{uuid.uuid4().hex[:8]}"
    made = [api.create(cast.owner, title=f"Page test {word} {i}")["id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"q": word, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = api.http.get("/api/v1/requests", params=params)
        assert r.status_code == 200
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made)) and pages == 3


def test_browse_shows_no_personal_data_beyond_display_names(api: RequestsApi, cast: Cast) -> None:
    word = f"zd{uuid.uuid4().hex[:8]}"
    api.wait_known(cast.owner)
    api.create(cast.owner, title=f"Data check {word}")
    r = api.http.get("/api/v1/requests", params={"q": word})
    item = r.json()["items"][0]
    assert item["created_by_name"] == "Olive Owner"
    assert cast.owner.email not in r.text and "email" not in r.text


def test_browse_refuses_bad_filters(api: RequestsApi) -> None:
    for params in ({"status": "nope"}, {"constituency": "E99999999"}, {"limit": 0}, {"limit": 101}, {"cursor": "??"}):
        r = api.http.get("/api/v1/requests", params=params)
        assert r.status_code == 422, params
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] in params


# -- mine --------------------------------------------------------------------------------------


def test_my_requests_offers_and_invitations_list_my_own_with_request_title_and_status(
    api: RequestsApi, cast: Cast
) -> None:
    me = register_and_sign_in(api.http, name="Mia Mine")
    other = register_and_sign_in(api.http)
    mine = [api.create(me, title=f"Mine {i}")["id"] for i in range(3)]
    theirs = api.create(other, title="Theirs to fill")
    offer = api.offer_ok(me, theirs["id"])
    api.wait_known(me)
    invited = api.http.post(f"/api/v1/requests/{theirs['id']}/invitations", headers=other.auth, json={"user_id": me.id})
    assert invited.status_code == 201

    r = api.http.get("/api/v1/me/requests", headers=me.auth, params={"limit": 2})
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [mine[2], mine[1]]
    r = api.http.get("/api/v1/me/requests", headers=me.auth, params={"cursor": r.json()["next_cursor"]})
    assert [i["id"] for i in r.json()["items"]] == [mine[0]] and r.json()["next_cursor"] is None

    offers = api.http.get("/api/v1/me/offers", headers=me.auth).json()
    assert [(o["id"], o["request_title"], o["request_status"], o["display_name"]) for o in offers["items"]] == [
        (offer["id"], "Theirs to fill", "open", "Mia Mine")
    ]
    invitations = api.http.get("/api/v1/me/invitations", headers=me.auth).json()
    assert [
        (i["request_id"], i["request_title"], i["request_status"], i["invited_by"]) for i in invitations["items"]
    ] == [(theirs["id"], "Theirs to fill", "open", other.id)]
    assert api.http.get("/api/v1/me/invitations", headers=other.auth).json()["items"] == []


def test_invitations_refuse_the_owner_strangers_repeats_and_closed_requests(api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    guest = register_and_sign_in(api.http, name="Gus Guest")
    api.wait_known(guest)
    url = f"/api/v1/requests/{rid}/invitations"
    r = api.http.post(url, headers=cast.owner.auth, json={"user_id": guest.id})
    assert r.status_code == 201
    assert r.json()["user_id"] == guest.id and r.json()["invited_by"] == cast.owner.id
    assert r.json()["request_id"] == rid and r.json()["display_name"] == "Gus Guest"
    assert api.http.post(url, headers=cast.organiser.auth, json={"user_id": guest.id}).status_code == 409
    for user_id in (cast.owner.id, str(uuid.uuid4())):
        r = api.http.post(url, headers=cast.owner.auth, json={"user_id": user_id})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "user_id"
    r = api.http.post(url, headers=cast.owner.auth, json={"user_id": "not-a-uuid"})
    assert r.status_code == 422
    api.http.post(f"/api/v1/requests/{rid}/close", headers=cast.owner.auth, json={"outcome": "cancelled"})
    later = register_and_sign_in(api.http)
    api.wait_known(later)
    assert api.http.post(url, headers=cast.owner.auth, json={"user_id": later.id}).status_code == 409
    assert api.outbox_count(rid) == 3  # opened, one invitation, closed
