"""Constituencies and the skill taxonomy through the gateway, and the taxonomy's announcements."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person
from lx_devstack.testkit import wait_until

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"

REQUIRED_SKILLS = {
    "canvassing",
    "phone-banking",
    "leafleting",
    "data-entry",
    "social-media",
    "graphic-design",
    "video",
    "copywriting",
    "press",
    "translation",
    "events",
    "fundraising",
    "volunteer-coordination",
    "legal",
    "accounting",
    "it-support",
    "web-development",
    "driving",
    "printing",
    "childcare",
    "photography",
    "public-speaking",
    "first-aid",
    "british-sign-language",
    "welsh-language",
}


def test_all_650_constituencies_are_listed_by_name(gateway: httpx.Client) -> None:
    r = gateway.get("/api/v1/constituencies")
    assert r.status_code == 200
    everything = r.json()
    assert len(everything) == 650
    assert set(everything[0]) == {"code", "name", "nation", "region"}
    assert [c["name"] for c in everything] == sorted(c["name"] for c in everything)
    assert len({c["code"] for c in everything}) == 650


def test_searching_withington_finds_manchester_withington(gateway: httpx.Client) -> None:
    r = gateway.get("/api/v1/constituencies", params={"q": "withington"})
    assert r.status_code == 200
    assert r.json() == [
        {"code": "E14001354", "name": "Manchester Withington", "nation": "England", "region": "North West"}
    ]


def test_search_ignores_case_punctuation_and_and(gateway: httpx.Client) -> None:
    names = [c["name"] for c in gateway.get("/api/v1/constituencies", params={"q": "ARGYLL BUTE & SOUTH"}).json()]
    assert names == ["Argyll, Bute and South Lochaber"]
    assert gateway.get("/api/v1/constituencies", params={"q": "atlantis"}).json() == []


def test_an_overlong_search_is_refused(gateway: httpx.Client) -> None:
    r = gateway.get("/api/v1/constituencies", params={"q": "x" * 101})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "q"


def test_the_taxonomy_holds_the_seeded_campaign_skills(gateway: httpx.Client) -> None:
    r = gateway.get("/api/v1/skills")
    assert r.status_code == 200
    skills = {s["slug"]: s for s in r.json()}
    assert REQUIRED_SKILLS <= set(skills)
    design = skills["graphic-design"]
    assert design["name"] == "Graphic design" and design["category"] == "creative" and design["description"]
    assert {"designer", "design leaflets", "graphics", "poster design"} <= set(design["synonyms"])
    assert all(s["description"] and s["category"] for s in skills.values())


async def test_every_skill_in_the_taxonomy_is_announced_once(gateway: httpx.Client, events_on: Any) -> None:
    slugs = {s["slug"] for s in gateway.get("/api/v1/skills").json()}

    async def announced() -> dict[str, list[dict[str, Any]]]:
        by_slug: dict[str, list[dict[str, Any]]] = {}
        for event in await events_on("skills.skill-added.v1"):
            by_slug.setdefault(event["_key"], []).append(event["data"])
        return by_slug

    async def all_announced() -> bool:
        return slugs <= set(await announced())

    await wait_until(all_announced, timeout_s=30, what="every skill to be announced")
    found = await announced()
    assert {slug: len(found[slug]) for slug in slugs} == dict.fromkeys(slugs, 1)
    design = found["graphic-design"][0]
    assert design["name"] == "Graphic design" and design["category"] == "creative"
    assert {"designer", "graphics", "poster design"} <= set(design["synonyms"])


def _new_skill(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": f"podcasting-{uuid.uuid4().hex[:8]}",
        "name": f"Podcasting {uuid.uuid4().hex[:6]}",
        "category": "creative",
        "description": "Recording and editing audio.",
        "synonyms": ["Podcast", "audio editing"],
    }
    body.update(changes)
    return body


async def test_an_admin_adds_a_skill_and_it_is_announced(gateway: httpx.Client, admin: Person, events_for: Any) -> None:
    body = _new_skill()
    r = gateway.post("/api/v1/skills", headers=admin.auth, json=body)
    assert r.status_code == 201, r.text
    assert r.json() == {**body, "synonyms": ["podcast", "audio editing"]}
    assert body["slug"] in {s["slug"] for s in gateway.get("/api/v1/skills").json()}

    async def announced() -> bool:
        return bool(await events_for("skills.skill-added.v1", body["slug"]))

    await wait_until(announced, timeout_s=30, what="the new skill to be announced")
    [event] = await events_for("skills.skill-added.v1", body["slug"])
    assert event["data"] == {
        "slug": body["slug"],
        "name": body["name"],
        "category": "creative",
        "synonyms": ["podcast", "audio editing"],
    }


def test_a_new_skill_may_be_used_in_a_profile_at_once(gateway: httpx.Client, admin: Person, person: Person) -> None:
    body = _new_skill()
    assert gateway.post("/api/v1/skills", headers=admin.auth, json=body).status_code == 201
    r = gateway.put("/api/v1/me/profile", headers=person.auth, json={"skills": [{"slug": body["slug"], "level": 2}]})
    assert r.status_code == 200, r.text


def test_a_duplicate_slug_or_name_conflicts(gateway: httpx.Client, admin: Person) -> None:
    r = gateway.post("/api/v1/skills", headers=admin.auth, json=_new_skill(slug="graphic-design"))
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert r.json()["errors"] == [{"field": "slug", "message": "Already in the taxonomy."}]
    r = gateway.post("/api/v1/skills", headers=admin.auth, json=_new_skill(name="GRAPHIC design"))
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "Web Design"}, "slug"),
        ({"slug": "web--design"}, "slug"),
        ({"name": ""}, "name"),
        ({"category": "Not A Slug"}, "category"),
        ({"description": "x" * 501}, "description"),
        ({"synonyms": ["ok", ""]}, "synonyms.1"),
        ({"synonyms": "designer"}, "synonyms"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_skill_is_refused_with_its_field(
    gateway: httpx.Client, admin: Person, change: dict[str, Any], field: str
) -> None:
    body = _new_skill(**change)
    r = gateway.post("/api/v1/skills", headers=admin.auth, json=body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    if isinstance(body["slug"], str):
        assert body["slug"] not in {s["slug"] for s in gateway.get("/api/v1/skills").json()}


def test_only_admins_may_add_skills(gateway: httpx.Client, person: Person) -> None:
    body = _new_skill()
    assert gateway.post("/api/v1/skills", json=body).status_code == 401
    r = gateway.post("/api/v1/skills", headers=person.auth, json=body)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    assert body["slug"] not in {s["slug"] for s in gateway.get("/api/v1/skills").json()}


async def test_a_restart_announces_no_skill_twice(
    stack: Stack, gateway: httpx.Client, admin: Person, events_for: Any, events_on: Any
) -> None:
    stack.stop_service("skills")
    stack.start_service("skills")
    # The relay sends outbox rows in order and waits for each batch to be acknowledged, so once a skill
    # added after the restart is on the topic, anything the start-up announced is there too.
    marker = _new_skill()
    assert gateway.post("/api/v1/skills", headers=admin.auth, json=marker).status_code == 201

    async def marker_announced() -> bool:
        return bool(await events_for("skills.skill-added.v1", marker["slug"]))

    await wait_until(marker_announced, timeout_s=30, what="the marker skill to be announced")
    counts: dict[str, int] = {}
    for event in await events_on("skills.skill-added.v1"):
        counts[event["_key"]] = counts.get(event["_key"], 0) + 1
    assert {slug: n for slug, n in counts.items() if n != 1} == {}, "announced more than once"
    assert REQUIRED_SKILLS <= set(counts)
