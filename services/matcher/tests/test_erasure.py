"""Erasure and export in the matcher, on the running stack: after `identity.user-erased.v1` nothing in its
schema names the person, the supporter counts move, the requests they own stay with no owner,
`matcher.erasure-completed.v1` confirms it, replayed events about them re-create nothing, erasing twice is
harmless; the export is what the matcher derived about the caller and nobody else."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lx_devstack.testing import Person, register_and_sign_in
from lx_devstack.testkit import envelope, events_once_published, produce

from .conftest import WITHINGTON, Gateway, offer, person, profile, request_state

pytestmark = pytest.mark.e2e

ERASED = "identity.user-erased.v1"
COMPLETED = "matcher.erasure-completed.v1"


def rows_naming(gw: Gateway, user_id: str) -> dict[str, int]:
    """Every table of the schema whose rows, cast to text, contain the id; with how many rows."""
    found = {}
    tables = gw.sql(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = 'matcher' AND table_type = 'BASE TABLE' ORDER BY table_name"""
    )
    for t in tables:
        n = gw.sql(
            f"SELECT count(*) FROM matcher.\"{t['table_name']}\" t WHERE t::text LIKE '%' || $1 || '%'", user_id
        )[0][0]
        if n:
            found[t["table_name"]] = n
    return found


def send(gw: Gateway, topic: str, data: dict[str, Any], *, key: str, at: datetime | None = None) -> None:
    """Produce one event and wait until the matcher has handled it."""
    event_id = uuid.uuid4()
    event = json.loads(envelope(topic, data, event_id=event_id, subject=key))
    if at is not None:
        event["time"] = at.isoformat()
    asyncio.run(produce(gw.stack.bootstrap_servers, topic, [json.dumps(event).encode()], key=key.encode()))
    gw.wait_for(
        f"the matcher to handle {topic}", lambda: bool(gw.sql("SELECT 1 FROM inbox WHERE event_id = $1", event_id))
    )


def erase(gw: Gateway, user_id: str) -> None:
    send(gw, ERASED, {"user_id": user_id, "at": datetime.now(UTC).isoformat()}, key=user_id)


def export(gw: Gateway, who: Person | None) -> httpx.Response:
    return httpx.get(f"{gw.stack.url_of('matcher')}/internal/v1/me/export", headers=who.auth if who else {}, timeout=15)


def supporters_with(gw: Gateway, skill: str) -> int:
    rows = gw.sql("SELECT n FROM stat_supporters WHERE constituency_code = $1 AND slug = $2", WITHINGTON, skill)
    return int(rows[0][0]) if rows else 0


def test_erasure_leaves_nothing_naming_the_person(gw: Gateway, module_admin: Person) -> None:
    skill = gw.new_skill(module_admin, "Erasable")
    gone = gw.supporter("Gwen Gone", skills={skill: 4})
    other = gw.supporter("Otis Otherperson", skills={skill: 3})
    owner = register_and_sign_in(gw.http, name="Orla Owner")
    gw.wait_projected(gone, other)
    assert supporters_with(gw, skill) == 2

    theirs = gw.open_request(owner, skills=[{"slug": skill, "min_level": 1, "people": 1}])
    proposed = gw.proposals(theirs, count=2)
    assert gone.id in {p["data"]["user_id"] for p in proposed}
    offer_id = gw.offer(gone, theirs)
    gw.act(owner, theirs, offer_id, "accept")
    gw.wait_request(theirs, "filled")
    mine = gw.open_request(gone, title="Gwen's own request", skills=[{"slug": skill, "min_level": 1, "people": 1}])
    gw.wait_request(mine)
    gw.wait_for(
        "the matcher to see the accepted offer",
        lambda: bool(gw.sql("SELECT 1 FROM offers WHERE offer_id = $1 AND status = 'accepted'", uuid.UUID(offer_id))),
    )

    assert export(gw, None).status_code == 401
    r = export(gw, gone)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["account_copy"]["display_name"] == "Gwen Gone"
    assert body["profile"]["skills"] == {skill: 4} and body["profile"]["constituency_code"] == WITHINGTON
    assert [e["slug"] for e in body["candidate_entries"]] == [skill]
    assert theirs in [p["request_id"] for p in body["proposals"]]
    assert [(o["offer_id"], o["status"]) for o in body["offers"]] == [(offer_id, "accepted")]
    assert [q["request_id"] for q in body["requests"]] == [mine]
    assert other.id not in r.text and owner.id not in r.text and "Otis" not in r.text

    assert rows_naming(gw, gone.id)  # the test can fail: there is something to erase
    erase(gw, gone.id)
    gw.wait_for("no row of the matcher's schema to name the person", lambda: not rows_naming(gw, gone.id))
    digest = hashlib.sha256(gone.id.encode()).hexdigest()
    assert gw.sql("SELECT count(*) FROM erased_people WHERE subject_hash = $1", digest)[0][0] == 1
    # Counters: she is no longer a supporter; her request stays, with no owner; the request she had filled
    # is open again once requests' withdrawal arrives.
    assert supporters_with(gw, skill) == 1
    assert gw.sql("SELECT created_by, status FROM requests WHERE request_id = $1", uuid.UUID(mine))[0][:] == (
        None,
        "open",
    )
    gw.wait_request(theirs, "open")
    [done] = events_once_published(gw.stack.bootstrap_servers, COMPLETED, lambda e: e["subject"] == gone.id)
    assert done["data"]["user_id"] == gone.id and done["data"]["service"] == "matcher"
    assert datetime.fromisoformat(done["data"]["at"]) > datetime.now(UTC) - timedelta(minutes=5)

    # Late and replayed events about her re-create nothing.
    gid = uuid.UUID(gone.id)
    now = datetime.now(UTC)
    send(gw, "identity.user-registered.v1", person(gid, "Gwen Gone"), key=gone.id, at=now - timedelta(hours=1))
    send(gw, "identity.user-updated.v1", person(gid, "Gwen Gone"), key=gone.id, at=now)
    send(gw, "skills.profile-updated.v1", profile(gid, skills={skill: 5}), key=gone.id, at=now)
    send(gw, "requests.offer-made.v1", offer(uuid.uuid4(), uuid.UUID(theirs), gid, at=now), key=theirs)
    invitation = {"invitation_id": str(uuid.uuid4()), "request_id": theirs, "user_id": gone.id,
                  "invited_by": owner.id, "at": now.isoformat()}  # fmt: skip
    send(gw, "requests.invitation-sent.v1", invitation, key=theirs)
    state = request_state(uuid.UUID(mine), owner=gid, skills=[(skill, 1, 1)])
    send(gw, "requests.request-updated.v1", state, key=mine, at=now)
    assert rows_naming(gw, gone.id) == {}
    assert supporters_with(gw, skill) == 1

    # Erasing again deletes nothing more and confirms again.
    erase(gw, gone.id)
    events_once_published(gw.stack.bootstrap_servers, COMPLETED, lambda e: e["subject"] == gone.id, count=2)
    gw.wait_for("the second confirmation's outbox row to go", lambda: not rows_naming(gw, gone.id))
    assert supporters_with(gw, skill) == 1
    assert export(gw, gone).json() == {
        "account_copy": None, "profile": None, "candidate_entries": [], "proposals": [], "offers": [],
        "invitations": [], "requests": [],
    }  # fmt: skip
