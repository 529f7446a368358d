"""Erasure and export in the twitter gateway, on the running stack with the fake X: after
`identity.user-erased.v1` nothing in its schema names the person (link, tokens' queue keys, tweets' author,
DMs, outbox), `twitter.erasure-completed.v1` confirms it, replayed events re-create nothing, erasing twice
is harmless; the export is the caller's own X data, never a token."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lx_contracts import topics
from lx_devstack.testing import Person, register_and_sign_in

from .conftest import XWorld, handle

pytestmark = pytest.mark.integration


def rows_naming(x: XWorld, user_id: str) -> dict[str, int]:
    """Every table of the schema whose rows, cast to text, contain the id; with how many rows."""
    found = {}
    tables = x.sql(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = 'twitter' AND table_type = 'BASE TABLE' ORDER BY table_name"""
    )
    for t in tables:
        n = x.scalar(
            f"SELECT count(*) FROM twitter.\"{t['table_name']}\" t WHERE t::text LIKE '%' || $1 || '%'", user_id
        )
        if n:
            found[t["table_name"]] = n
    return found


def wait_nothing_naming(x: XWorld, user_id: str) -> None:
    x.wait_for(
        "no outbox row to name the person",
        "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM outbox t WHERE t::text LIKE '%' || $1 || '%')",
        user_id,
    )
    assert rows_naming(x, user_id) == {}


def handled(x: XWorld, topic: str, data: dict[str, Any]) -> None:
    event_id = x.publish(topic, data)
    x.wait_for(f"the gateway to handle {topic}", "SELECT 1 FROM inbox WHERE event_id = $1", event_id)


def erase(x: XWorld, user_id: str) -> None:
    handled(x, topics.USER_ERASED.name, {"user_id": user_id, "at": datetime.now(UTC).isoformat()})


def export(x: XWorld, who: Person | None) -> httpx.Response:
    url = f"{x.stack.url_of('twitter-gateway')}/internal/v1/me/export"
    return httpx.get(url, headers=who.auth if who else {}, timeout=15)


def linked(x: XWorld, name: str, *, unlinked_before: bool = False) -> Person:
    """A person who linked X account `name` and allows contact by X; if so, after linking and unlinking
    another X account (whose revocation was queued under a key naming them)."""
    person = register_and_sign_in(x.gateway, name="Xena Erasable")
    if unlinked_before:
        assert x.callback(x.consent(handle(), mode="link", auth=person.auth)).status_code == 200
        assert x.gateway.delete("/api/v1/me/x", headers=person.auth).status_code == 204
    assert x.callback(x.consent(name, mode="link", auth=person.auth)).status_code == 200
    r = x.gateway.patch("/api/v1/me", headers=person.auth, json={"consents": {"contact_by_x": True}})
    assert r.status_code == 200, r.text
    x.wait_for(
        "the gateway to know the consent",
        "SELECT 1 FROM people WHERE user_id = $1 AND contact_by_x",
        uuid.UUID(person.id),
    )
    return person


def test_erasure_leaves_nothing_naming_the_person(x: XWorld) -> None:
    name = handle()
    gone = linked(x, name, unlinked_before=True)
    stays = linked(x, handle())
    tweet_id = x.tweet("Can anyone help with graphic design in Withington? #LabourExchange", username=name)
    x.wait_for(
        "the tweet to be stored as theirs",
        "SELECT 1 FROM tweets WHERE tweet_id = $1 AND author_user_id = $2",
        tweet_id,
        uuid.UUID(gone.id),
    )
    invitation = {
        "invitation_id": str(uuid.uuid4()),
        "request_id": str(uuid.uuid4()),
        "user_id": gone.id,
        "invited_by": stays.id,
        "at": datetime.now(UTC).isoformat(),
    }
    handled(x, topics.INVITATION_SENT.name, invitation)

    assert export(x, None).status_code == 401
    r = export(x, gone)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["x_account"]["handle"] == name and "access_token" not in r.text and "sealed" not in r.text
    assert body["consent_copy"] == {"contact_by_x": True}
    assert [(t["tweet_id"], t["text"]) for t in body["tweets"]] == [
        (tweet_id, "Can anyone help with graphic design in Withington? #LabourExchange")
    ]
    # The invitation's DM, its text kept only while it waits to be sent.
    [dm] = body["direct_messages"]
    assert dm["created_at"] and (dm["text"] is None) == (dm["outcome"] == "sent")
    assert stays.id not in r.text

    assert rows_naming(x, gone.id)  # the test can fail: there is something to erase
    erase(x, gone.id)
    wait_nothing_naming(x, gone.id)
    digest = hashlib.sha256(gone.id.encode()).hexdigest()
    assert x.scalar("SELECT count(*) FROM erased_people WHERE subject_hash = $1", digest) == 1
    assert x.scalar("SELECT text FROM tweets WHERE tweet_id = $1", tweet_id) is None
    x.wait_events(topics.TWEET_DELETED.name, tweet_id)
    # The link's tokens are revoked at X, from a queue row that names no one.
    x.wait_for("the revocation to be sent", "SELECT 1 FROM outgoing WHERE kind = 'revoke' AND outcome = 'sent'")
    [done] = x.wait_events(topics.TWITTER_ERASURE_COMPLETED.name, gone.id)
    assert done["data"]["user_id"] == gone.id and done["data"]["service"] == "twitter"
    assert datetime.fromisoformat(done["data"]["at"]) > datetime.now(UTC) - timedelta(minutes=5)
    # Someone else's link is untouched.
    assert x.scalar("SELECT count(*) FROM x_accounts WHERE user_id = $1", uuid.UUID(stays.id)) == 1

    # Late or replayed events about the person re-create nothing; their next tweet has no author here.
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    consents = {"discoverable": True, "contact_by_x": True}
    handled(x, topics.USER_REGISTERED.name,
            {"user_id": gone.id, "display_name": "Xena", "roles": ["supporter"], "consents": consents})  # fmt: skip
    handled(x, topics.USER_UPDATED.name, {"user_id": gone.id, "display_name": "Xena", "consents": consents})
    handled(x, topics.INVITATION_SENT.name, invitation | {"invitation_id": str(uuid.uuid4()), "at": earlier})
    later = x.tweet("Still need graphic design help in Withington #LabourExchange", username=name)
    x.wait_for("the later tweet to be stored", "SELECT 1 FROM tweets WHERE tweet_id = $1", later)
    assert x.scalar("SELECT author_user_id FROM tweets WHERE tweet_id = $1", later) is None
    assert rows_naming(x, gone.id) == {}

    # Erasing again deletes nothing more and confirms again.
    erase(x, gone.id)
    x.wait_events(topics.TWITTER_ERASURE_COMPLETED.name, gone.id, count=2)
    wait_nothing_naming(x, gone.id)
    assert export(x, gone).json() == {"x_account": None, "consent_copy": None, "tweets": [], "direct_messages": []}
