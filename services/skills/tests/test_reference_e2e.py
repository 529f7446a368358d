"""Constituencies and the skill taxonomy through the gateway, and the taxonomy's announcements."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

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


async def test_every_seeded_skill_is_announced_on_skill_added(
    gateway: httpx.Client, events_for: Any, stack: Any
) -> None:
    slugs = [s["slug"] for s in gateway.get("/api/v1/skills").json()]

    async def all_announced() -> bool:
        found = [await events_for("skills.skill-added.v1", slug) for slug in REQUIRED_SKILLS]
        return all(found)

    await wait_until(all_announced, timeout_s=30, what="the seeded skills to be announced")
    for slug in slugs[:5] + ["graphic-design"]:
        events = await events_for("skills.skill-added.v1", slug)
        assert len(events) == 1, f"{slug} announced {len(events)} times"
        data = events[0]["data"]
        assert data["slug"] == slug and data["name"] and data["category"]
    design = (await events_for("skills.skill-added.v1", "graphic-design"))[0]["data"]
    assert "designer" in design["synonyms"]


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
