"""What the gateway says on X: a reply under a tweet that became a request, and DMs only to people who
linked X and allow contact by X, looked up again when sending."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from lx_contracts import topics
from lx_devstack.testing import Person, make_organiser, register_and_sign_in, sign_in_admin

from .conftest import XWorld, handle

pytestmark = pytest.mark.integration


def _linked(x: XWorld, *, contact_by_x: bool) -> tuple[Person, str]:
    """A person who linked a fresh X account; their X user id."""
    person = register_and_sign_in(x.gateway, name="Dee Emm")
    name = handle()
    assert x.callback(x.consent(name, mode="link", auth=person.auth)).status_code == 200
    if contact_by_x:
        r = x.gateway.patch("/api/v1/me", headers=person.auth, json={"consents": {"contact_by_x": True}})
        assert r.status_code == 200, r.text
    x.wait_for(
        "the gateway to know the person's consent",
        "SELECT 1 FROM people WHERE user_id = $1 AND contact_by_x = $2",
        uuid.UUID(person.id),
        contact_by_x,
    )
    return person, x.x_user(name)


def _invitation(person: Person) -> dict[str, Any]:
    return {
        "invitation_id": str(uuid.uuid4()),
        "request_id": str(uuid.uuid4()),
        "user_id": person.id,
        "invited_by": str(uuid.uuid4()),
        "at": datetime.now(UTC).isoformat(),
    }


def test_an_invitation_is_sent_by_dm_to_a_linked_consenting_person(x: XWorld) -> None:
    person, x_id = _linked(x, contact_by_x=True)
    event_id = x.publish(topics.INVITATION_SENT.name, _invitation(person))
    row = x.wait_for(
        "the DM to be sent", "SELECT * FROM outgoing WHERE dedupe_key = $1 AND outcome = 'sent'", f"dm:{event_id}"
    )[0]
    assert row["sent_at"] is not None
    dms = [d for d in x.outbox()["dms"] if d["participant_id"] == x_id]
    assert len(dms) == 1
    assert "invited" in dms[0]["text"]
    # The same event again (redelivery) sends nothing more.
    x.publish(topics.INVITATION_SENT.name, _invitation(person), event_id=event_id)


def test_no_dm_without_consent_or_without_a_link(x: XWorld) -> None:
    silent, x_id = _linked(x, contact_by_x=False)
    unlinked = register_and_sign_in(x.gateway, name="No Link")
    first = x.publish(topics.INVITATION_SENT.name, _invitation(silent))
    second = x.publish(topics.INVITATION_SENT.name, _invitation(unlinked))
    for event_id in (first, second):
        x.wait_for("the event to be handled", "SELECT 1 FROM inbox WHERE event_id = $1", event_id)
        assert x.scalar("SELECT count(*) FROM outgoing WHERE dedupe_key = $1", f"dm:{event_id}") == 0
    assert not [d for d in x.outbox()["dms"] if d["participant_id"] == x_id]


def test_a_tweet_asking_for_help_becomes_a_pending_request_and_gets_a_reply_with_its_link(
    x: XWorld,
) -> None:
    tweet_id = x.tweet("Need someone to design leaflets in Withington this weekend #LabourExchange", username=handle())
    x.wait_events(topics.TWEET_RECEIVED.name, tweet_id)
    # The requests service records a pending request for it; its request-opened event names the tweet.
    row = x.wait_for(
        "the request and the reply",
        "SELECT request_id::text AS request_id FROM tweets WHERE tweet_id = $1 AND replied_tweet_id IS NOT NULL",
        tweet_id,
        timeout_s=45,
    )[0]
    request_id = row["request_id"]
    replies = [t for t in x.outbox()["tweets"] if f"/requests/{request_id}" in t["text"]]
    assert len(replies) == 1
    assert "organiser" in replies[0]["text"]  # the wording for a pending request
    organiser = make_organiser(x.gateway, sign_in_admin(x.stack, x.gateway), "E14001354")
    seen = x.gateway.get(f"/api/v1/requests/{request_id}", headers=organiser.auth)
    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == "pending"
    assert seen.json()["constituency_code"] == "E14001354"


def test_a_request_opened_from_a_tweet_not_read_here_gets_no_reply(x: XWorld) -> None:
    request_id = str(uuid.uuid4())
    event_id = x.publish(
        topics.REQUEST_OPENED.name,
        {
            "request_id": request_id,
            "title": "Canvassing in Withington",
            "constituency_code": "E14001354",
            "remote_ok": False,
            "skills": [{"slug": "canvassing", "min_level": 1, "people": 1}],
            "urgency": "normal",
            "status": "open",
            "source": "x",
            "source_ref": "999999999999999999",
            "created_by": None,
            "created_at": datetime.now(UTC).isoformat(),
            "people_needed": 1,
            "people_accepted": 0,
        },
    )
    x.wait_for("the event to be handled", "SELECT 1 FROM inbox WHERE event_id = $1", event_id)
    assert x.scalar("SELECT title FROM requests WHERE request_id = $1", uuid.UUID(request_id)) == (
        "Canvassing in Withington"
    )
    assert x.scalar("SELECT count(*) FROM outgoing WHERE dedupe_key = 'reply:999999999999999999'") == 0


def test_erasure_removes_the_link_and_the_texts_of_the_persons_tweets(x: XWorld) -> None:
    name = handle()
    signed = x.login(name)
    me = x.gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {signed['access_token']}"}).json()
    tweet_id = x.tweet("My own tweet about leaflets #LabourExchange", username=name)
    x.wait_for(
        "the tweet to be stored as theirs",
        "SELECT 1 FROM tweets WHERE tweet_id = $1 AND author_user_id = $2",
        tweet_id,
        uuid.UUID(me["id"]),
    )
    x.publish(topics.USER_ERASED.name, {"user_id": me["id"], "at": datetime.now(UTC).isoformat()})
    x.wait_for(
        "the tweet to lose its text",
        "SELECT 1 FROM tweets WHERE tweet_id = $1 AND text IS NULL AND author_user_id IS NULL",
        tweet_id,
    )
    assert x.scalar("SELECT count(*) FROM x_accounts WHERE user_id = $1", uuid.UUID(me["id"])) == 0
    x.wait_events(topics.TWEET_DELETED.name, tweet_id)
