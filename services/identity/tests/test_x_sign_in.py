"""Signing in with X: identity's internal endpoint for the twitter gateway, the X links it keeps from the
gateway's events, and the terms a person made from X accepts afterwards."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from lx_contracts import topics
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in
from lx_devstack.testkit import envelope, events_once_published, produce, wait_until

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def key(stack: Stack) -> str:
    value = stack.service_env(Stack.spec("identity")).get("IDENTITY_X_SIGN_IN_KEY")
    if not value:
        pytest.fail("the dev stack sets no IDENTITY_X_SIGN_IN_KEY for identity")
    return value


@pytest.fixture(scope="module")
def identity(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url_of("identity"), timeout=15.0) as client:
        yield client


def x_id() -> str:
    return str(random.randrange(10**17, 10**18))


def sign_in(
    identity: httpx.Client, key: str | None, *, x_user_id: str, user_id: str | None = None, **overrides: Any
) -> httpx.Response:
    body = {"x_user_id": x_user_id, "handle": f"h{x_user_id[-8:]}", "display_name": "Xena Poster", "user_id": user_id}
    body.update(overrides)
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return identity.post("/internal/v1/x-sign-in", headers=headers, json=body)


def bearer(answer: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def publish(stack: Stack, topic: topics.Topic, data: dict[str, Any]) -> None:
    asyncio.run(produce(stack.bootstrap_servers, topic.name, [envelope(topic.name, data)], key=b"x"))


def me_until(gateway: httpx.Client, auth: dict[str, str], what: str, check: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def ready() -> bool:
        seen.update(gateway.get("/api/v1/me", headers=auth).json())
        return bool(check(seen))

    asyncio.run(wait_until(ready, timeout_s=30, what=what))
    return seen


def test_the_key_is_required_and_compared(identity: httpx.Client, key: str) -> None:
    for wrong in (None, "not-the-key", key + "x", key[:-1]):
        r = sign_in(identity, wrong, x_user_id=x_id())
        assert r.status_code == 401, (wrong, r.text)
        assert r.headers["content-type"] == PROBLEM
    body = {"x_user_id": x_id(), "handle": "h", "display_name": "H", "user_id": None}
    for header in (f"Basic {key}", "Bearer", key):
        r = identity.post("/internal/v1/x-sign-in", headers={"Authorization": header}, json=body)
        assert r.status_code == 401, (header, r.text)
    # Even a bad body is refused for want of a key before it is read.
    r = identity.post("/internal/v1/x-sign-in", json={"x_user_id": 5})
    assert r.status_code == 401


def test_a_first_sign_in_creates_an_account_and_the_next_signs_in_to_it(
    stack: Stack, identity: httpx.Client, gateway: httpx.Client, key: str
) -> None:
    xid = x_id()
    first = sign_in(identity, key, x_user_id=xid, display_name="  Xena \t  Poster\u200b  ")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["token_type"] == "bearer" and body["expires_in"] > 0
    user_id = body["user_id"]

    # The tokens are real: the gateway accepts them.
    me = gateway.get("/api/v1/me", headers=bearer(first))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user_id
    assert me.json()["email"] is None
    assert me.json()["display_name"] == "Xena Poster"
    assert me.json()["consents"] == {"terms": False, "discoverable": False, "contact_by_x": False}
    assert me.json()["x_account"] == {"handle": f"h{xid[-8:]}"}
    # The refresh token works as any other.
    assert gateway.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}).status_code == 200

    again = sign_in(identity, key, x_user_id=xid)
    assert again.status_code == 200, again.text
    assert again.json()["user_id"] == user_id and again.json()["created"] is False

    [registered] = events_once_published(
        stack.bootstrap_servers, topics.USER_REGISTERED.name, lambda e: e["subject"] == user_id
    )
    assert registered["data"]["display_name"] == "Xena Poster"
    assert registered["data"]["invited"] is False
    assert registered["data"]["consents"] == {"discoverable": False, "contact_by_x": False}


def test_an_unusable_display_name_falls_back_to_the_handle_and_a_long_one_is_cut(
    identity: httpx.Client, gateway: httpx.Client, key: str
) -> None:
    blank = sign_in(identity, key, x_user_id=x_id(), handle="only_a_handle", display_name=" \u200b\u0007 ")
    assert blank.status_code == 201, blank.text
    assert gateway.get("/api/v1/me", headers=bearer(blank)).json()["display_name"] == "only_a_handle"
    long = sign_in(identity, key, x_user_id=x_id(), display_name="N" * 300)
    assert long.status_code == 201, long.text
    assert gateway.get("/api/v1/me", headers=bearer(long)).json()["display_name"] == "N" * 80


def test_an_account_made_from_x_cannot_sign_in_with_a_password(
    identity: httpx.Client, gateway: httpx.Client, key: str
) -> None:
    made = sign_in(identity, key, x_user_id=x_id())
    assert made.status_code == 201
    # It has no email to sign in with; an empty one is not a way in either.
    assert gateway.post("/api/v1/auth/token", json={"email": "", "password": "x" * 12}).status_code == 401


def test_a_user_id_signs_in_that_account(identity: httpx.Client, gateway: httpx.Client, key: str) -> None:
    someone = register_and_sign_in(gateway, name="Linked Already")
    r = sign_in(identity, key, x_user_id=x_id(), user_id=someone.id)
    assert r.status_code == 200, r.text
    assert r.json() | {"access_token": None, "refresh_token": None} == {
        "user_id": someone.id,
        "created": False,
        "access_token": None,
        "refresh_token": None,
        "token_type": "bearer",
        "expires_in": r.json()["expires_in"],
    }
    assert gateway.get("/api/v1/me", headers=bearer(r)).json()["id"] == someone.id
    missing = sign_in(identity, key, x_user_id=x_id(), user_id=str(uuid.uuid4()))
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_an_invited_account_cannot_sign_in_with_x(
    stack: Stack, identity: httpx.Client, admin: Person, key: str
) -> None:
    r = httpx.post(
        f"{stack.url_of('identity')}/internal/v1/invited-accounts",
        headers=admin.auth,
        json={"accounts": [{"email": f"inv-{uuid.uuid4().hex[:10]}@example.org", "display_name": "Ina Vited"}]},
    )
    assert r.status_code == 200, r.text
    invited = r.json()["accounts"][0]["user_id"]
    refused = sign_in(identity, key, x_user_id=x_id(), user_id=invited)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"x_user_id": "12a", "handle": "ok", "display_name": "A", "user_id": None}, {"x_user_id"}),
        ({"x_user_id": 12, "handle": "ok", "display_name": "A", "user_id": None}, {"x_user_id"}),
        ({"x_user_id": "12", "handle": "@no way", "display_name": "A", "user_id": None}, {"handle"}),
        ({"x_user_id": "12", "handle": "ok", "display_name": "A", "user_id": "nope"}, {"user_id"}),
        ({"x_user_id": "12", "handle": "ok", "display_name": "A" * 1001, "user_id": None}, {"display_name"}),
        ({"handle": "ok", "display_name": "A"}, {"x_user_id"}),
        ({"x_user_id": "12", "handle": "ok", "display_name": "A", "extra": 1}, {"extra"}),
    ],
)
def test_a_bad_body_is_refused_with_its_fields(
    identity: httpx.Client, key: str, body: dict[str, Any], fields: set[str]
) -> None:
    r = identity.post("/internal/v1/x-sign-in", headers={"Authorization": f"Bearer {key}"}, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert {e["field"] for e in r.json()["errors"]} == fields


def test_concurrent_first_sign_ins_create_one_account(stack: Stack, key: str) -> None:
    xid = x_id()

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=stack.url_of("identity"), timeout=30.0) as client:
            body = {"x_user_id": xid, "handle": "racer", "display_name": "Racer", "user_id": None}
            headers = {"Authorization": f"Bearer {key}"}
            return list(
                await asyncio.gather(
                    *(client.post("/internal/v1/x-sign-in", headers=headers, json=body) for _ in range(8))
                )
            )

    answers = asyncio.run(race())
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["user_id"] for a in answers}) == 1
    user_id = answers[0].json()["user_id"]
    events = events_once_published(
        stack.bootstrap_servers, topics.USER_REGISTERED.name, lambda e: e["data"]["display_name"] == "Racer"
    )
    assert [e["subject"] for e in events].count(user_id) == 1


def test_link_events_show_on_me_and_unlinking_clears_it(stack: Stack, gateway: httpx.Client) -> None:
    someone = register_and_sign_in(gateway, name="Link Me")
    assert gateway.get("/api/v1/me", headers=someone.auth).json()["x_account"] is None
    now = datetime.now(UTC)
    xid = x_id()
    publish(
        stack,
        topics.ACCOUNT_LINKED,
        {"user_id": someone.id, "x_user_id": xid, "handle": "linkme", "at": now.isoformat()},
    )
    me_until(gateway, someone.auth, "the link to show", lambda m: m["x_account"] == {"handle": "linkme"})

    # The same X account linked to someone else moves there.
    other = register_and_sign_in(gateway, name="Took It Over")
    publish(
        stack,
        topics.ACCOUNT_LINKED,
        {"user_id": other.id, "x_user_id": xid, "handle": "linkme2", "at": (now + timedelta(seconds=1)).isoformat()},
    )
    me_until(gateway, other.auth, "the link to move", lambda m: m["x_account"] == {"handle": "linkme2"})
    assert gateway.get("/api/v1/me", headers=someone.auth).json()["x_account"] is None

    publish(stack, topics.ACCOUNT_UNLINKED, {"user_id": other.id, "at": (now + timedelta(seconds=2)).isoformat()})
    me_until(gateway, other.auth, "the unlink", lambda m: m["x_account"] is None)


def test_a_linked_account_is_found_by_its_x_id(
    stack: Stack, identity: httpx.Client, gateway: httpx.Client, key: str
) -> None:
    someone = register_and_sign_in(gateway, name="Found By X")
    xid = x_id()
    publish(
        stack,
        topics.ACCOUNT_LINKED,
        {"user_id": someone.id, "x_user_id": xid, "handle": "foundbyx", "at": datetime.now(UTC).isoformat()},
    )
    me_until(gateway, someone.auth, "the link", lambda m: m["x_account"] is not None)
    r = sign_in(identity, key, x_user_id=xid)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == someone.id and r.json()["created"] is False


def test_terms_can_be_given_later_but_not_withdrawn(
    stack: Stack, identity: httpx.Client, gateway: httpx.Client, key: str
) -> None:
    made = sign_in(identity, key, x_user_id=x_id())
    auth = bearer(made)
    r = gateway.patch("/api/v1/me", headers=auth, json={"consents": {"terms": True, "discoverable": True}})
    assert r.status_code == 200, r.text
    assert r.json()["consents"] == {"terms": True, "discoverable": True, "contact_by_x": False}
    refused = gateway.patch("/api/v1/me", headers=auth, json={"consents": {"terms": False}})
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert [e["field"] for e in refused.json()["errors"]] == ["consents.terms"]
    assert gateway.get("/api/v1/me", headers=auth).json()["consents"]["terms"] is True
    # The agreement is on record, beside the refusals recorded when the account was made.
    user_id = made.json()["user_id"]
    rows = asyncio.run(_consent_records(stack.dsns["identity"], user_id))
    assert ("terms", False) in rows and ("terms", True) in rows and ("discoverable", True) in rows


async def _consent_records(dsn: str, user_id: str) -> list[tuple[str, bool]]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "identity"})
    try:
        rows = await conn.fetch(
            "SELECT purpose, granted FROM consent_records WHERE user_id = $1 ORDER BY id", uuid.UUID(user_id)
        )
    finally:
        await conn.close()
    return [(r["purpose"], r["granted"]) for r in rows]


def test_the_openapi_document_describes_the_x_account(identity: httpx.Client) -> None:
    spec = identity.get("/openapi.json").json()
    user = spec["components"]["schemas"]["UserOut"]
    assert "x_account" in user["properties"]
    assert json.dumps(user["examples"][0]["x_account"]) == '{"handle": "sampatel"}'
    assert "/internal/v1/x-sign-in" in spec["paths"]
