"""Erasure and export in requests, on the running stack: the person's live offers are withdrawn as they
would withdraw them (counts and status right, the withdrawal's events published), then nothing in the
schema names them; requests they own stay without an owner; replayed events re-create nothing; erasing
twice is harmless; the export is their own data, with others by id only."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in
from lx_devstack.testkit import envelope, events_once_published, produce

from .conftest import WITHINGTON, RequestsApi

pytestmark = pytest.mark.integration

ERASED = "identity.user-erased.v1"
COMPLETED = "requests.erasure-completed.v1"


def rows_naming(api: RequestsApi, user_id: str) -> dict[str, int]:
    """Every table of the schema whose rows, cast to text, contain the id; with how many rows."""
    found = {}
    tables = api.sql(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = 'requests' AND table_type = 'BASE TABLE' ORDER BY table_name"""
    )
    for t in tables:
        n = api.scalar(
            f"SELECT count(*) FROM requests.\"{t['table_name']}\" t WHERE t::text LIKE '%' || $1 || '%'", user_id
        )
        if n:
            found[t["table_name"]] = n
    return found


def wait_nothing_naming(api: RequestsApi, user_id: str) -> None:
    api.wait_for(
        "no row of the requests schema to name the person",
        "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM outbox t WHERE t::text LIKE '%' || $1 || '%')",
        user_id,
    )
    assert rows_naming(api, user_id) == {}


def produce_one(stack: Stack, topic: str, value: bytes, key: str) -> None:
    asyncio.run(produce(stack.bootstrap_servers, topic, [value], key=key.encode()))


def erase(api: RequestsApi, user_id: str) -> None:
    event_id = uuid.uuid4()
    data = {"user_id": user_id, "at": datetime.now(UTC).isoformat()}
    produce_one(api.stack, ERASED, envelope(ERASED, data, event_id=event_id, subject=user_id), user_id)
    api.wait_for("requests to handle the erasure", "SELECT 1 FROM inbox WHERE event_id = $1", event_id)


def handled(api: RequestsApi, topic: str, data: dict[str, Any], *, key: str, at: datetime | None = None) -> None:
    event_id = uuid.uuid4()
    event = json.loads(envelope(topic, data, event_id=event_id, subject=key))
    if at is not None:
        event["time"] = at.isoformat()
    produce_one(api.stack, topic, json.dumps(event).encode(), key)
    api.wait_for(f"requests to handle {topic}", "SELECT 1 FROM inbox WHERE event_id = $1", event_id)


def export(api: RequestsApi, who: Person | None) -> httpx.Response:
    url = f"{api.stack.url_of('requests')}/internal/v1/me/export"
    return httpx.get(url, headers=who.auth if who else {}, timeout=15)


def test_erasure_withdraws_their_offers_keeps_their_requests_and_leaves_nothing_naming_them(
    api: RequestsApi, gateway: httpx.Client
) -> None:
    gone = register_and_sign_in(gateway, name="Gina Gone")
    other = register_and_sign_in(gateway, name="Olaf Otherperson")
    for p in (gone, other):
        api.wait_known(p)
    slugs = api.skills()

    # Gone's own request, with an offer from Olaf; Gone invites Olaf to it.
    mine = api.create(gone, title="Leaflets for the estate", description="Ring Gina on the door")
    olaf_offer = api.offer_ok(other, mine["id"], message="Olaf's private note")
    invited = gateway.post(f"/api/v1/requests/{mine['id']}/invitations", headers=gone.auth, json={"user_id": other.id})
    assert invited.status_code == 201, invited.text
    # Olaf's request needing one person, filled by Gone's accepted offer; another with Gone's pending offer,
    # and an invitation of Gone.
    one = [{"slug": slugs[0], "min_level": 1, "people": 1}]
    filled = api.create(other, title="Design the poster", skills=one)
    accepted = api.offer_ok(gone, filled["id"], message="Gina can do it")
    assert api.act(other, filled["id"], accepted["id"], "accept").status_code == 200
    assert api.get(filled["id"]).json()["status"] == "filled"
    waiting = api.create(other, title="Hand out leaflets", skills=one)
    assert gateway.post(
        f"/api/v1/requests/{waiting['id']}/invitations", headers=other.auth, json={"user_id": gone.id}
    ).status_code == 201  # fmt: skip
    pending = api.offer_ok(gone, waiting["id"])

    # The export: everything of hers, of Olaf only ids.
    assert export(api, None).status_code == 401
    r = export(api, gone)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [q["id"] for q in body["requests"]] == [mine["id"]]
    assert body["requests"][0]["description"] == "Ring Gina on the door"
    assert body["account_copy"] == {"display_name": "Gina Gone"}
    assert {o["id"]: o["status"] for o in body["offers"]} == {accepted["id"]: "accepted", pending["id"]: "pending"}
    assert [i["request_id"] for i in body["invitations"]] == [waiting["id"]]
    assert [(o["id"], o["user_id"]) for o in body["offers_received"]] == [(olaf_offer["id"], other.id)]
    assert [i["user_id"] for i in body["invitations_sent"]] == [other.id]
    assert "Olaf" not in r.text and "private note" not in r.text

    assert rows_naming(api, gone.id)  # the test can fail: there is something to erase
    erase(api, gone.id)
    wait_nothing_naming(api, gone.id)
    digest = hashlib.sha256(gone.id.encode()).hexdigest()
    assert api.scalar("SELECT count(*) FROM erased_people WHERE subject_hash = $1", digest) == 1

    # Her accepted offer was withdrawn: Olaf's request is open again, with the withdrawal's events out.
    now_filled = api.get(filled["id"]).json()
    assert (now_filled["status"], now_filled["people_accepted"]) == ("open", 0)
    assert now_filled["skills"][0]["people_accepted"] == 0
    [withdrawn] = api.wait_events("requests.offer-withdrawn.v1", filled["id"], 1)
    assert withdrawn["data"]["offer_id"] == accepted["id"]
    assert (withdrawn["data"]["was_accepted"], withdrawn["data"]["request_status"]) == (True, "open")
    reopened = api.wait_events("requests.request-updated.v1", filled["id"], 2)
    assert reopened[-1]["data"]["status"] == "open" and reopened[-1]["data"]["people_accepted"] == 0
    [also] = api.wait_events("requests.offer-withdrawn.v1", waiting["id"], 1)
    assert (also["data"]["offer_id"], also["data"]["was_accepted"]) == (pending["id"], False)
    # Her request stays, without an owner; Olaf's offer and invitation on it stay.
    kept = api.get(mine["id"]).json()
    assert kept["created_by"] is None and kept["created_by_name"] is None and kept["title"] == "Leaflets for the estate"
    assert [o["id"] for o in gateway.get("/api/v1/me/offers", headers=other.auth).json()["items"]] == [olaf_offer["id"]]
    his = gateway.get("/api/v1/me/invitations", headers=other.auth).json()["items"]
    assert [(i["request_id"], i["invited_by"]) for i in his] == [(mine["id"], None)]

    [done] = events_once_published(api.stack.bootstrap_servers, COMPLETED, lambda e: e["subject"] == gone.id, count=1)
    assert done["data"]["user_id"] == gone.id and done["data"]["service"] == "requests"
    assert datetime.fromisoformat(done["data"]["at"]) > datetime.now(UTC) - timedelta(minutes=5)

    # Late or replayed events about her re-create nothing: her registration, and a tweet of hers asking for help.
    earlier = datetime.now(UTC) - timedelta(hours=1)
    person = {"user_id": gone.id, "display_name": "Gina Gone", "consents": {"discoverable": True, "contact_by_x": True}}
    handled(api, "identity.user-registered.v1", person | {"roles": ["supporter"]}, key=gone.id, at=earlier)
    handled(api, "identity.user-updated.v1", person, key=gone.id)
    tid = str(random.randrange(10**18, 10**19))
    tweet = {
        "tweet_id": tid,
        "url": f"https://x.com/i/web/status/{tid}",
        "text": "Need graphic design help in Withington",
        "user_id": gone.id,
        "intent": "ask",
        "skills": [slugs[0]],
        "constituency_code": WITHINGTON,
        "posted_at": earlier.isoformat(),
        "received_at": earlier.isoformat(),
    }
    handled(api, "twitter.tweet-received.v1", tweet, key=tid)
    assert rows_naming(api, gone.id) == {}
    assert api.scalar("SELECT count(*) FROM requests WHERE source_ref = $1", tid) == 0

    # Her token, in its last minutes, creates nothing (asked directly: the gateway may already refuse it).
    base = api.stack.url_of("requests")
    made = httpx.post(f"{base}/api/v1/requests", headers=gone.auth, json=api.body(), timeout=15)
    assert made.status_code == 401, made.text
    offered = httpx.post(
        f"{base}/api/v1/requests/{waiting['id']}/offers", headers=gone.auth, json={"message": "x"}, timeout=15
    )
    assert offered.status_code == 401, offered.text
    assert rows_naming(api, gone.id) == {}

    # Erasing again deletes nothing more and confirms again.
    erase(api, gone.id)
    events_once_published(api.stack.bootstrap_servers, COMPLETED, lambda e: e["subject"] == gone.id, count=2)
    wait_nothing_naming(api, gone.id)
    assert api.get(filled["id"]).json()["status"] == "open"
    assert export(api, gone).json() == {
        "account_copy": None, "requests": [], "offers_received": [], "offers": [], "invitations": [],
        "invitations_sent": [],
    }  # fmt: skip
