"""Volunteer profiles through the gateway: read, replace, refuse bad input whole, announce each change once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lx_devstack.testing import Person
from lx_devstack.testkit import wait_until

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
TOPIC = "skills.profile-updated.v1"
WITHINGTON = "E14001354"

GOOD: dict[str, Any] = {
    "constituency_code": WITHINGTON,
    "travel_radius_km": 10,
    "remote_ok": True,
    "max_hours_per_week": 6,
    "availability": [
        {"day": "sat", "start": "10:00", "end": "13:00"},
        {"day": "tue", "start": "18:30", "end": "24:00"},
        {"day": "tue", "start": "07:00", "end": "08:30"},
    ],
    "skills": [
        {"slug": "leafleting", "level": 2, "note": ""},
        {"slug": "graphic-design", "level": 4, "note": "Canva and InDesign"},
    ],
}


def put(gateway: httpx.Client, who: Person, body: dict[str, Any]) -> httpx.Response:
    return gateway.put("/api/v1/me/profile", headers=who.auth, json=body)


def test_someone_without_a_profile_gets_the_empty_one(gateway: httpx.Client, person: Person) -> None:
    r = gateway.get("/api/v1/me/profile", headers=person.auth)
    assert r.status_code == 200
    assert r.json() == {
        "constituency_code": None,
        "travel_radius_km": 0,
        "remote_ok": False,
        "max_hours_per_week": None,
        "availability": [],
        "skills": [],
    }


def test_a_saved_profile_reads_back_in_canonical_order(gateway: httpx.Client, person: Person) -> None:
    saved = put(gateway, person, GOOD)
    assert saved.status_code == 200, saved.text
    expected = {
        **GOOD,
        "availability": [
            {"day": "tue", "start": "07:00", "end": "08:30"},
            {"day": "tue", "start": "18:30", "end": "24:00"},
            {"day": "sat", "start": "10:00", "end": "13:00"},
        ],
        "skills": [
            {"slug": "graphic-design", "level": 4, "note": "Canva and InDesign"},
            {"slug": "leafleting", "level": 2, "note": ""},
        ],
    }
    assert saved.json() == expected
    assert gateway.get("/api/v1/me/profile", headers=person.auth).json() == expected


def test_put_replaces_the_whole_profile(gateway: httpx.Client, person: Person) -> None:
    assert put(gateway, person, GOOD).status_code == 200
    r = put(gateway, person, {"constituency_code": "e14001354", "skills": [{"slug": "video", "level": 1}]})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "constituency_code": WITHINGTON,
        "travel_radius_km": 0,
        "remote_ok": False,
        "max_hours_per_week": None,
        "availability": [],
        "skills": [{"slug": "video", "level": 1, "note": ""}],
    }


def test_profiles_need_a_signed_in_user(gateway: httpx.Client) -> None:
    assert gateway.get("/api/v1/me/profile").status_code == 401
    r = gateway.put("/api/v1/me/profile", json=GOOD)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


def _with(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def _window(day: str, start: str, end: str) -> dict[str, str]:
    return {"day": day, "start": start, "end": end}


BAD_PROFILES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown skill", _with(skills=[{"slug": "juggling", "level": 3}]), "skills.0.slug"),
    ("unknown constituency", _with(constituency_code="E99999999"), "constituency_code"),
    ("level 0", _with(skills=[{"slug": "video", "level": 0}]), "skills.0.level"),
    ("level 6", _with(skills=[{"slug": "video", "level": 3}, {"slug": "canvassing", "level": 6}]), "skills.1.level"),
    ("level as text", _with(skills=[{"slug": "video", "level": "3"}]), "skills.0.level"),
    ("start after end", _with(availability=[_window("mon", "09:00", "10:00"), _window("mon", "22:00", "02:00")]),
     "availability.1.end"),
    ("start equals end", _with(availability=[_window("mon", "09:00", "09:00")]), "availability.0.end"),
    ("malformed start", _with(availability=[_window("mon", "9:00", "10:00")]), "availability.0.start"),
    ("start at 24:00", _with(availability=[_window("mon", "24:00", "24:00")]), "availability.0.start"),
    ("malformed end", _with(availability=[_window("wed", "09:00", "25:00")]), "availability.0.end"),
    ("unknown day", _with(availability=[_window("monday", "09:00", "10:00")]), "availability.0.day"),
    ("overlapping windows", _with(availability=[_window("sat", "10:00", "13:00"), _window("sat", "12:00", "14:00")]),
     "availability.1"),
    ("too many windows", _with(availability=[_window("mon", f"{h:02d}:00", f"{h:02d}:30") for h in range(24)]
                               + [_window("tue", f"{h:02d}:00", f"{h:02d}:30") for h in range(5)]), "availability"),
    ("skill twice", _with(skills=[{"slug": "video", "level": 3}, {"slug": "video", "level": 4}]), "skills.1.slug"),
    ("too many skills", _with(skills=[{"slug": "video", "level": 3}] * 51), "skills"),
    ("negative radius", _with(travel_radius_km=-1), "travel_radius_km"),
    ("absurd radius", _with(travel_radius_km=20_000), "travel_radius_km"),
    ("radius as text", _with(travel_radius_km="10"), "travel_radius_km"),
    ("too many hours", _with(max_hours_per_week=169), "max_hours_per_week"),
    ("long note", _with(skills=[{"slug": "video", "level": 3, "note": "x" * 501}]), "skills.0.note"),
    ("unknown field", _with(phone="07700 900000"), "phone"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "field"), BAD_PROFILES, ids=[c[0] for c in BAD_PROFILES])
def test_a_bad_profile_is_refused_with_its_field_and_the_old_one_is_kept(
    gateway: httpx.Client, person: Person, case: str, body: dict[str, Any], field: str
) -> None:
    assert put(gateway, person, GOOD).status_code == 200
    before = gateway.get("/api/v1/me/profile", headers=person.auth).json()
    r = put(gateway, person, body)
    assert r.status_code == 422, f"{case}: {r.text}"
    assert r.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert gateway.get("/api/v1/me/profile", headers=person.auth).json() == before


def test_a_bad_first_profile_leaves_none(gateway: httpx.Client, person: Person) -> None:
    r = put(gateway, person, _with(constituency_code="nowhere", skills=[{"slug": "nope", "level": 9}]))
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"constituency_code", "skills.0.slug", "skills.0.level"}
    assert gateway.get("/api/v1/me/profile", headers=person.auth).json()["skills"] == []


async def test_each_change_is_announced_once_and_without_notes(
    gateway: httpx.Client, person: Person, events_for: Any
) -> None:
    first = _with(skills=[{"slug": "graphic-design", "level": 4, "note": "private: call me on 07700 900000"}])
    assert put(gateway, person, first).status_code == 200
    assert put(gateway, person, first).status_code == 200, "the same profile again changes nothing"
    reordered = _with(availability=list(reversed(GOOD["availability"])), skills=first["skills"])
    assert put(gateway, person, reordered).status_code == 200, "nor does the same profile in another order"
    note_only = _with(skills=[{"slug": "graphic-design", "level": 4, "note": "a different note"}])
    assert put(gateway, person, note_only).status_code == 200, "a note never leaves the service"
    assert put(gateway, person, _with(travel_radius_km=-3)).status_code == 422
    second = _with(skills=[{"slug": "graphic-design", "level": 5}], remote_ok=False)
    assert put(gateway, person, second).status_code == 200

    async def second_published() -> bool:
        found = await events_for(TOPIC, person.id)
        return any(e["data"]["remote_ok"] is False for e in found)

    # Events about one person share a partition and keep their order, so once the second change is
    # there, everything before it is too.
    await wait_until(second_published, timeout_s=30, what="the second profile change to be published")
    events = await events_for(TOPIC, person.id)
    assert [e["data"]["skills"] for e in events] == [
        [{"slug": "graphic-design", "level": 4}],
        [{"slug": "graphic-design", "level": 5}],
    ]
    first_event = events[0]
    assert first_event["type"] == TOPIC and first_event["source"] == "/services/skills"
    assert first_event["subject"] == person.id
    assert first_event["data"] == {
        "user_id": person.id,
        "constituency_code": WITHINGTON,
        "travel_radius_km": 10,
        "remote_ok": True,
        "max_hours_per_week": 6,
        "availability": [
            {"day": "tue", "start": "07:00", "end": "08:30"},
            {"day": "tue", "start": "18:30", "end": "24:00"},
            {"day": "sat", "start": "10:00", "end": "13:00"},
        ],
        "skills": [{"slug": "graphic-design", "level": 4}],
    }
    assert "07700" not in str(events) and "note" not in str(events)
