"""Organiser search through the gateway: who may search where, and only discoverable people are found."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lx_devstack.testing import Person, make_organiser, register_and_sign_in
from lx_devstack.testkit import wait_until

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
# Constituencies kept to this module, so other tests' supporters never crowd the answers.
HERE = "E14001129"  # Brighton Kemptown and Peacehaven
ELSEWHERE = "W07000112"  # Ynys Môn
PAGED = "S14000067"  # Argyll, Bute and South Lochaber


def supporter(gateway: httpx.Client, code: str, *, discoverable: bool = True, name: str = "Sam Supporter",
              skills: list[dict[str, Any]] | None = None) -> Person:  # fmt: skip
    someone = register_and_sign_in(gateway, discoverable=discoverable, name=name)
    body = {"constituency_code": code, "skills": skills or [{"slug": "graphic-design", "level": 4}]}
    r = gateway.put("/api/v1/me/profile", headers=someone.auth, json=body)
    assert r.status_code == 200, r.text
    return someone


def search(gateway: httpx.Client, who: Person | None, **params: Any) -> httpx.Response:
    return gateway.get("/api/v1/supporters", params=params, headers=who.auth if who else {})


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["user_id"] for item in response.json()["items"]]


async def until_found(gateway: httpx.Client, who: Person, person: Person, **params: Any) -> None:
    """The people projection follows identity's events within moments; wait for it."""

    async def found() -> bool:
        return person.id in ids(search(gateway, who, **params))

    await wait_until(found, timeout_s=30, what=f"{person.display_name} to be found")


@pytest.fixture
def organiser(gateway: httpx.Client, admin: Person) -> Person:
    return make_organiser(gateway, admin, HERE)


async def test_who_may_search_a_constituency(gateway: httpx.Client, admin: Person, organiser: Person) -> None:
    someone = supporter(gateway, HERE, name="Dana Designer")
    await until_found(gateway, admin, someone, constituency=HERE)
    plain = register_and_sign_in(gateway)
    other_organiser = make_organiser(gateway, admin, ELSEWHERE)

    assert search(gateway, None, constituency=HERE).status_code == 401
    refused = search(gateway, plain, constituency=HERE)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert search(gateway, other_organiser, constituency=HERE).status_code == 403
    assert someone.id in ids(search(gateway, organiser, constituency=HERE))
    assert someone.id in ids(search(gateway, admin, constituency=HERE))


async def test_an_answer_names_the_supporter_their_place_and_skills(gateway: httpx.Client, organiser: Person) -> None:
    someone = supporter(
        gateway,
        HERE,
        name="Sky Skilled",
        skills=[{"slug": "leafleting", "level": 2, "note": "weekends only"}, {"slug": "video", "level": 5}],
    )
    await until_found(gateway, organiser, someone, constituency=HERE)
    [item] = [i for i in search(gateway, organiser, constituency=HERE).json()["items"] if i["user_id"] == someone.id]
    assert item == {
        "user_id": someone.id,
        "display_name": "Sky Skilled",
        "constituency_code": HERE,
        "skills": [{"slug": "video", "level": 5}, {"slug": "leafleting", "level": 2}],
    }


async def test_an_admin_may_search_everywhere(gateway: httpx.Client, admin: Person) -> None:
    someone = supporter(gateway, ELSEWHERE, skills=[{"slug": "welsh-language", "level": 5}])
    await until_found(gateway, admin, someone, skill="welsh-language", min_level=5)


def test_an_organiser_must_name_a_constituency(gateway: httpx.Client, organiser: Person) -> None:
    r = search(gateway, organiser)
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "constituency" and HERE in error["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"constituency": "E99999999"}, "constituency"),
        ({"constituency": HERE, "skill": "juggling"}, "skill"),
        ({"constituency": HERE, "min_level": 6}, "min_level"),
        ({"constituency": HERE, "min_level": 0}, "min_level"),
        ({"constituency": HERE, "limit": 101}, "limit"),
        ({"constituency": HERE, "cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_search_parameters_are_422(
    gateway: httpx.Client, organiser: Person, params: dict[str, Any], field: str
) -> None:
    r = search(gateway, organiser, **params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_people_who_are_not_discoverable_are_never_found(
    gateway: httpx.Client, admin: Person, organiser: Person
) -> None:
    hidden = supporter(gateway, HERE, discoverable=False, name="Hidden Person")
    visible = supporter(gateway, HERE, name="Visible Person")
    changes_mind = supporter(gateway, HERE, name="Changes Mind")
    await until_found(gateway, organiser, visible, constituency=HERE)
    await until_found(gateway, organiser, changes_mind, constituency=HERE)

    r = gateway.patch("/api/v1/me", headers=changes_mind.auth, json={"consents": {"discoverable": False}})
    assert r.status_code == 200

    async def gone() -> bool:
        return changes_mind.id not in ids(search(gateway, organiser, constituency=HERE))

    await wait_until(gone, timeout_s=30, what="a withdrawn consent to hide the person")
    for who, params in ((organiser, {"constituency": HERE}), (admin, {}), (admin, {"skill": "graphic-design"})):
        found = ids(search(gateway, who, limit=100, **params))
        assert hidden.id not in found and changes_mind.id not in found


async def test_people_without_a_profile_are_not_found(gateway: httpx.Client, organiser: Person) -> None:
    no_profile = register_and_sign_in(gateway, name="No Profile")
    marker = supporter(gateway, HERE, name="Has Profile")
    await until_found(gateway, organiser, marker, constituency=HERE)
    assert no_profile.id not in ids(search(gateway, organiser, constituency=HERE, limit=100))


async def test_skill_and_level_narrow_the_search(gateway: httpx.Client, organiser: Person) -> None:
    someone = supporter(gateway, HERE, skills=[{"slug": "graphic-design", "level": 4}])
    await until_found(gateway, organiser, someone, constituency=HERE, skill="graphic-design", min_level=4)
    assert someone.id not in ids(search(gateway, organiser, constituency=HERE, skill="graphic-design", min_level=5))
    assert someone.id not in ids(search(gateway, organiser, constituency=HERE, skill="video"))
    assert someone.id not in ids(search(gateway, organiser, constituency=HERE, min_level=5))


async def test_a_new_display_name_reaches_the_search(gateway: httpx.Client, organiser: Person) -> None:
    someone = supporter(gateway, HERE, name="Old Name")
    await until_found(gateway, organiser, someone, constituency=HERE)
    assert gateway.patch("/api/v1/me", headers=someone.auth, json={"display_name": "New Name"}).status_code == 200

    async def renamed() -> bool:
        items = search(gateway, organiser, constituency=HERE, limit=100).json()["items"]
        return any(i["user_id"] == someone.id and i["display_name"] == "New Name" for i in items)

    await wait_until(renamed, timeout_s=30, what="the new name to reach skills")


async def test_pages_follow_the_cursor_without_gaps_or_repeats(gateway: httpx.Client, admin: Person) -> None:
    organiser = make_organiser(gateway, admin, PAGED)
    people = [supporter(gateway, PAGED, name=f"Page Person {i}") for i in range(5)]
    for someone in people:
        await until_found(gateway, organiser, someone, constituency=PAGED, limit=100)
    seen: list[str] = []
    names: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"constituency": PAGED, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = search(gateway, organiser, **params).json()
        assert len(page["items"]) <= 2
        seen += [i["user_id"] for i in page["items"]]
        names += [i["display_name"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert {p.id for p in people} <= set(seen)
    assert names == sorted(names)
