"""The marketplace end to end: a Withington designer offers, the owner accepts, the request fills,
and each step is published exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import asyncpg
import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import register_and_sign_in
from lx_devstack.testkit import events_once_published, wait_until

pytestmark = pytest.mark.e2e

WITHINGTON = "E14001354"


def events_about(stack: Stack, topic: str, *, field: str, value: str, count: int = 1) -> list[dict[str, object]]:
    return events_once_published(stack.bootstrap_servers, topic, lambda e: e["data"].get(field) == value, count=count)


def test_designer_in_withington_fills_a_graphic_design_request(stack: Stack, gateway: httpx.Client) -> None:
    designer = register_and_sign_in(gateway, name="Dee Signer")
    owner = register_and_sign_in(gateway, name="Owen Er")

    profile = {
        "constituency_code": WITHINGTON,
        "travel_radius_km": 5,
        "remote_ok": True,
        "max_hours_per_week": 6,
        "availability": [{"day": "sat", "start": "10:00", "end": "16:00"}],
        "skills": [{"slug": "graphic-design", "level": 4, "note": "Leaflets and posters"}],
    }
    r = gateway.put("/api/v1/me/profile", headers=designer.auth, json=profile)
    assert r.status_code == 200, r.text

    request = {
        "title": "Design a leaflet for the Withington by-election",
        "description": "A4 double-sided, our usual colours.",
        "constituency_code": WITHINGTON,
        "remote_ok": True,
        "skills": [{"slug": "graphic-design", "min_level": 3, "people": 1}],
        "urgency": "high",
    }

    # The requests service learns the taxonomy from the skills service's events; wait until it has.
    async def requests_knows_graphic_design() -> bool:
        conn = await asyncpg.connect(stack.dsns["requests"])
        try:
            return bool(await conn.fetchval("SELECT 1 FROM requests.skills WHERE slug = 'graphic-design'"))
        finally:
            await conn.close()

    asyncio.run(wait_until(requests_knows_graphic_design, timeout_s=60, what="requests to know graphic design"))
    r = gateway.post("/api/v1/requests", headers=owner.auth, json=request)
    assert r.status_code == 201, r.text
    opened = r.json()
    assert opened["status"] == "open" and opened["people_needed"] == 1 and opened["people_accepted"] == 0
    request_id = opened["id"]

    r = gateway.post(
        f"/api/v1/requests/{request_id}/offers",
        headers=designer.auth,
        json={"message": "Happy to do this on Saturday", "skill": "graphic-design"},
    )
    assert r.status_code == 201, r.text
    offer_id = r.json()["id"]

    r = gateway.post(f"/api/v1/requests/{request_id}/offers/{offer_id}/accept", headers=owner.auth)
    assert r.status_code == 200 and r.json()["status"] == "accepted"

    filled = gateway.get(f"/api/v1/requests/{request_id}").json()
    assert filled["status"] == "filled" and filled["people_accepted"] == 1

    assert len(events_about(stack, "skills.profile-updated.v1", field="user_id", value=designer.id)) == 1
    assert len(events_about(stack, "requests.request-opened.v1", field="request_id", value=request_id)) == 1
    assert len(events_about(stack, "requests.offer-made.v1", field="request_id", value=request_id)) == 1
    accepted = events_about(stack, "requests.offer-accepted.v1", field="request_id", value=request_id)
    assert len(accepted) == 1 and accepted[0]["data"]["user_id"] == designer.id
    updates = events_about(stack, "requests.request-updated.v1", field="request_id", value=request_id)
    assert Counter(str(u["data"]["status"]) for u in updates) == {"filled": 1}
    # No event carries the free text people wrote.
    for topic in ("requests.request-opened.v1", "requests.offer-made.v1", "skills.profile-updated.v1"):
        raw = json.dumps(
            events_about(
                stack,
                topic,
                field="request_id" if "requests" in topic else "user_id",
                value=request_id if "requests" in topic else designer.id,
            )
        )
        assert "usual colours" not in raw and "Saturday" not in raw and "posters" not in raw
