"""Every step of a request's life is published once, keyed by the request, without free text."""

from __future__ import annotations

import json

import pytest

from lx_contracts import topics
from lx_devstack.testing import register_and_sign_in

from .conftest import Cast, RequestsApi

pytestmark = pytest.mark.e2e


def test_each_step_emits_its_event_exactly_once(api: RequestsApi, cast: Cast) -> None:
    slugs = api.skills()
    description = "Secret-ish details: ring the bell twice"
    rid = api.create(cast.owner, description=description, skills=[{"slug": slugs[0], "min_level": 2, "people": 2}])[
        "id"
    ]
    url = f"/api/v1/requests/{rid}"
    assert api.http.patch(url, headers=cast.owner.auth, json={"urgency": "high"}).status_code == 200
    assert api.http.patch(url, headers=cast.owner.auth, json={"urgency": "high"}).status_code == 200  # no change

    a, b, c, guest = (register_and_sign_in(api.http) for _ in range(4))
    message = "Call me on 07700 900123"
    offer_a = api.offer_ok(a, rid, skill=slugs[0], message=message)["id"]
    offer_b = api.offer_ok(b, rid)["id"]
    offer_c = api.offer_ok(c, rid)["id"]
    assert api.act(cast.owner, rid, offer_c, "decline").status_code == 200
    assert api.act(cast.owner, rid, offer_a, "accept").status_code == 200
    assert api.act(cast.organiser, rid, offer_b, "accept").status_code == 200  # fills it
    assert api.act(cast.owner, rid, offer_b, "accept").status_code == 409  # nothing twice
    assert api.act(b, rid, offer_b, "withdraw").status_code == 200  # reopens it
    api.wait_known(guest)
    assert api.http.post(f"{url}/invitations", headers=cast.owner.auth, json={"user_id": guest.id}).status_code == 201
    assert api.http.post(f"{url}/close", headers=cast.owner.auth, json={"outcome": "completed"}).status_code == 200

    expected = {
        topics.REQUEST_OPENED: 1,
        topics.REQUEST_UPDATED: 3,  # the edit, filled, reopened
        topics.OFFER_MADE: 3,
        topics.OFFER_DECLINED: 1,
        topics.OFFER_ACCEPTED: 2,
        topics.OFFER_WITHDRAWN: 1,
        topics.INVITATION_SENT: 1,
        topics.REQUEST_CLOSED: 1,
    }
    seen = {topic: api.wait_events(topic.name, rid, count) for topic, count in expected.items()}
    # Everything has been published now; read once more to see nothing arrived twice.
    assert {t.name: len(api.events(t.name, rid)) for t in expected} == {t.name: n for t, n in expected.items()}

    for topic, events in seen.items():
        for event in events:
            assert (event["type"], event["subject"], event["source"]) == (topic.name, rid, "/services/requests")
            topic.payload.model_validate(event["data"])
            text = json.dumps(event)
            assert description not in text and message not in text and "@" not in text

    opened = seen[topics.REQUEST_OPENED][0]["data"]
    assert (opened["status"], opened["people_needed"], opened["created_by"], opened["source"]) == (
        "open",
        2,
        cast.owner.id,
        "web",
    )
    updates = [
        (e["data"]["status"], e["data"]["urgency"], e["data"]["people_accepted"]) for e in seen[topics.REQUEST_UPDATED]
    ]
    assert updates == [("open", "high", 0), ("filled", "high", 2), ("open", "high", 1)]
    accepted = [(e["data"]["offer_id"], e["data"]["request_status"]) for e in seen[topics.OFFER_ACCEPTED]]
    assert accepted == [(offer_a, "open"), (offer_b, "filled")]
    assert seen[topics.OFFER_ACCEPTED][0]["data"]["skill"] == slugs[0]
    withdrawn = seen[topics.OFFER_WITHDRAWN][0]["data"]
    assert (withdrawn["offer_id"], withdrawn["was_accepted"], withdrawn["request_status"]) == (offer_b, True, "open")
    assert seen[topics.OFFER_DECLINED][0]["data"]["user_id"] == c.id
    invitation = seen[topics.INVITATION_SENT][0]["data"]
    assert (invitation["user_id"], invitation["invited_by"]) == (guest.id, cast.owner.id)
    assert seen[topics.REQUEST_CLOSED][0]["data"]["outcome"] == "completed"
