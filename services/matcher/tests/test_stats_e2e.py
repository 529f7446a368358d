"""Campaign statistics through the gateway: they move as requests open, fill and close, and only
organisers of the constituency and admins see them."""

from __future__ import annotations

from typing import Any

import pytest

from lx_devstack.testing import Person, make_organiser, register_and_sign_in

from .conftest import CENTRAL, PROBLEM, WITHINGTON, Gateway

pytestmark = pytest.mark.e2e


def figures(gw: Gateway, who: Person, code: str = WITHINGTON) -> dict[str, Any]:
    r = gw.stats(who, code)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def supporters_of(body: dict[str, Any], slug: str) -> int:
    return next((s["supporters"] for s in body["supporters_by_skill"] if s["slug"] == slug), 0)


def test_statistics_move_as_a_request_opens_fills_and_completes(gw: Gateway, module_admin: Person) -> None:
    organiser = make_organiser(gw.http, module_admin, WITHINGTON)
    skill = gw.new_skill(module_admin, "Stall building")
    rare = gw.new_skill(module_admin, "Sign writing")
    helper = gw.supporter("Hana Helper", skills={skill: 4})
    owner = register_and_sign_in(gw.http, name="Otto Owner")
    gw.wait_projected(helper)
    gw.wait_for("the supporter to be counted", lambda: supporters_of(figures(gw, organiser), skill) == 1)

    before = figures(gw, organiser)["requests"]
    rid = gw.open_request(
        owner,
        skills=[{"slug": skill, "min_level": 2, "people": 1}, {"slug": rare, "min_level": 1, "people": 2}],
    )
    gw.wait_for(
        "the request to count as open", lambda: figures(gw, organiser)["requests"]["open"] == before["open"] + 1
    )
    now = figures(gw, organiser)
    assert {"slug": rare, "people_needed": 2, "supporters": 0} in now["missing_skills"]
    assert skill not in [m["slug"] for m in now["missing_skills"]]

    # Cut the request to the one skill, then fill it.
    r = gw.http.patch(
        f"/api/v1/requests/{rid}", headers=owner.auth, json={"skills": [{"slug": skill, "min_level": 2, "people": 1}]}
    )
    assert r.status_code == 200, r.text
    offer = gw.offer(helper, rid)
    gw.act(owner, rid, offer, "accept")

    def filled() -> bool:
        now = figures(gw, organiser)
        return now["requests"]["filled"] == before["filled"] + 1 and now["requests"]["open"] == before["open"]

    gw.wait_for("the request to count as filled", filled)
    now = figures(gw, organiser)
    assert now["median_hours_to_first_offer"] is not None and now["median_hours_to_first_offer"] >= 0
    assert now["median_hours_to_filled"] is not None
    assert rare not in [m["slug"] for m in now["missing_skills"]]

    gw.close(owner, rid, "completed")
    gw.wait_for(
        "the request to count as completed",
        lambda: (
            figures(gw, organiser)["requests"]["completed"] == before["completed"] + 1
            and figures(gw, organiser)["requests"]["filled"] == before["filled"]
        ),
    )

    national = gw.http.get("/api/v1/stats/national", headers=module_admin.auth)
    assert national.status_code == 200, national.text
    seat = next(s for s in national.json()["constituencies"] if s["constituency_code"] == WITHINGTON)
    assert seat["requests"]["completed"] >= 1 and supporters_of(seat, skill) == 1
    england = next(n for n in national.json()["nations"] if n["nation"] == "England")
    assert england["requests"]["completed"] >= seat["requests"]["completed"]
    region = next(x for x in national.json()["regions"] if x["region"] == "North West")
    assert supporters_of(region, skill) == 1 and supporters_of(national.json()["total"], skill) == 1


def test_cancelled_requests_are_counted_apart(gw: Gateway, module_admin: Person) -> None:
    organiser = make_organiser(gw.http, module_admin, CENTRAL)
    skill = gw.new_skill(module_admin, "Banner painting")
    owner = register_and_sign_in(gw.http, name="Cass Canceller")
    before = figures(gw, organiser, CENTRAL)["requests"]
    rid = gw.open_request(owner, constituency_code=CENTRAL, skills=[{"slug": skill, "min_level": 1, "people": 1}])
    gw.close(owner, rid, "cancelled")
    gw.wait_for(
        "the request to count as cancelled",
        lambda: figures(gw, organiser, CENTRAL)["requests"]["cancelled"] == before["cancelled"] + 1,
    )
    assert figures(gw, organiser, CENTRAL)["requests"]["open"] == before["open"]


def test_only_organisers_of_the_constituency_and_admins_see_its_statistics(gw: Gateway, module_admin: Person) -> None:
    organiser = make_organiser(gw.http, module_admin, WITHINGTON)
    elsewhere = make_organiser(gw.http, module_admin, CENTRAL)
    supporter = register_and_sign_in(gw.http, name="Sue Porter")
    assert gw.stats(organiser, WITHINGTON).status_code == 200
    assert gw.stats(module_admin, WITHINGTON).status_code == 200
    for refused in (elsewhere, supporter):
        r = gw.stats(refused, WITHINGTON)
        assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    assert gw.stats(None, WITHINGTON).status_code == 401
    assert gw.stats(module_admin, "E99999999").status_code == 404


def test_only_admins_see_national_statistics(gw: Gateway, module_admin: Person) -> None:
    organiser = make_organiser(gw.http, module_admin, WITHINGTON)
    r = gw.http.get("/api/v1/stats/national", headers=organiser.auth)
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    assert gw.http.get("/api/v1/stats/national").status_code == 401
    body = gw.http.get("/api/v1/stats/national", headers=module_admin.auth).json()
    assert {n["nation"] for n in body["nations"]} <= {"England", "Scotland", "Wales", "Northern Ireland"}
    assert set(body["total"]["requests"]) == {"open", "filled", "completed", "cancelled", "pending"}
