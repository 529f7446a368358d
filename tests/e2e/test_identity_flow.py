"""A new user through the gateway: register, sign in, read and change /me, refresh, log out."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in
from lx_devstack.testkit import event_of, events_once_published, read_all

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


def new_registration(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "email": f"new-{uuid.uuid4().hex[:10]}@example.org",
        "password": "twelve chars or more",
        "display_name": "Alex Doe",
        "consents": {"terms": True, "discoverable": True, "contact_by_x": False},
    }
    body.update(overrides)
    return body


def test_new_user_registers_signs_in_and_reads_me(gateway: httpx.Client) -> None:
    body = new_registration()
    r = gateway.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201
    user = r.json()
    assert user["email"] == body["email"] and user["roles"] == ["supporter"]
    assert "password" not in r.text

    t = gateway.post("/api/v1/auth/token", json={"email": body["email"], "password": body["password"]})
    assert t.status_code == 200
    tokens = t.json()
    assert tokens["token_type"] == "bearer" and 0 < tokens["expires_in"] <= 900

    me = gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {
        "id": user["id"],
        "email": body["email"],
        "display_name": "Alex Doe",
        "roles": ["supporter"],
        "organiser_of": [],
        "consents": {"terms": True, "discoverable": True, "contact_by_x": False},
        "x_account": None,
        "status": "active",
    }


def test_email_is_case_insensitive_and_duplicates_conflict(gateway: httpx.Client) -> None:
    body = new_registration(email=f"Mixed.Case-{uuid.uuid4().hex[:6]}@Example.org")
    assert gateway.post("/api/v1/auth/register", json=body).status_code == 201
    again = gateway.post("/api/v1/auth/register", json={**body, "email": str(body["email"]).lower()})
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["errors"] == [{"field": "email", "message": "Already registered."}]
    t = gateway.post("/api/v1/auth/token", json={"email": str(body["email"]).upper(), "password": body["password"]})
    assert t.status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.org"}, "email"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 81}, "display_name"),
        ({"display_name": 42}, "display_name"),
        ({"consents": {"terms": False, "discoverable": True, "contact_by_x": False}}, "consents.terms"),
        ({"consents": {"terms": "yes"}}, "consents.terms"),
        ({"is_admin": True}, "is_admin"),
    ],
)
def test_bad_registrations_get_field_errors_and_write_nothing(
    gateway: httpx.Client, change: dict[str, object], field: str
) -> None:
    body = new_registration(**change)
    r = gateway.post("/api/v1/auth/register", json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["status"] == 422 and problem["title"]
    assert field in [e["field"] for e in problem["errors"]]
    if isinstance(body.get("email"), str) and isinstance(body.get("password"), str):
        t = gateway.post("/api/v1/auth/token", json={"email": body["email"], "password": body["password"]})
        assert t.status_code == 401, "nothing was written for the rejected registration"


def test_malformed_json_and_wrong_content_are_clear_errors(gateway: httpx.Client) -> None:
    r = gateway.post("/api/v1/auth/register", content=b'{"email": ', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "body", "message": "The body is not valid JSON."}]
    r = gateway.post("/api/v1/auth/register", json=["a", "list"])
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


def test_oversized_body_is_refused_before_it_is_read(gateway: httpx.Client) -> None:
    r = gateway.post("/api/v1/auth/register", content=b"x" * 1_100_000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM


def test_wrong_password_and_unknown_email_get_the_same_401(gateway: httpx.Client, person: Person) -> None:
    wrong = gateway.post("/api/v1/auth/token", json={"email": person.email, "password": "wrong password!!"})
    unknown = gateway.post("/api/v1/auth/token", json={"email": "nobody@example.org", "password": "wrong password!!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_refresh_rotates_and_reuse_revokes_the_family(gateway: httpx.Client, person: Person) -> None:
    first = gateway.post("/api/v1/auth/refresh", json={"refresh_token": person.refresh_token})
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != person.refresh_token
    assert gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"}).is_success

    reuse = gateway.post("/api/v1/auth/refresh", json={"refresh_token": person.refresh_token})
    assert reuse.status_code == 401
    # The reuse ended the whole family, including the newest token.
    assert gateway.post("/api/v1/auth/refresh", json={"refresh_token": rotated}).status_code == 401


def test_logout_ends_the_refresh_token(gateway: httpx.Client, person: Person) -> None:
    assert gateway.post("/api/v1/auth/logout", json={"refresh_token": person.refresh_token}).status_code == 204
    assert gateway.post("/api/v1/auth/refresh", json={"refresh_token": person.refresh_token}).status_code == 401


def test_patch_me_changes_name_and_consents_but_not_terms(gateway: httpx.Client, person: Person) -> None:
    r = gateway.patch(
        "/api/v1/me", headers=person.auth, json={"display_name": "  Sam   Q  ", "consents": {"contact_by_x": True}}
    )
    assert r.status_code == 200
    assert r.json()["display_name"] == "Sam Q"
    assert r.json()["consents"] == {"terms": True, "discoverable": True, "contact_by_x": True}
    r = gateway.patch("/api/v1/me", headers=person.auth, json={"consents": {"terms": False}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "consents.terms"
    assert gateway.get("/api/v1/me", headers=person.auth).json()["consents"]["terms"] is True


def test_me_needs_a_token(gateway: httpx.Client) -> None:
    r = gateway.get("/api/v1/me")
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_sign_in_failures_are_throttled_per_account_and_source(stack: Stack, gateway: httpx.Client) -> None:
    victim = register_and_sign_in(gateway)
    bystander = register_and_sign_in(gateway)
    for _ in range(10):
        r = gateway.post("/api/v1/auth/token", json={"email": victim.email, "password": "not the password"})
        assert r.status_code == 401
    blocked = gateway.post("/api/v1/auth/token", json={"email": victim.email, "password": victim.password})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    # Another account from the same address is unaffected...
    ok = gateway.post("/api/v1/auth/token", json={"email": bystander.email, "password": bystander.password})
    assert ok.status_code == 200
    # ...and the victim can still sign in from elsewhere: the attacker cannot lock them out.
    elsewhere = httpx.Client(base_url=stack.gateway_url, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with elsewhere:
        r = elsewhere.post("/api/v1/auth/token", json={"email": victim.email, "password": victim.password})
    assert r.status_code == 200


def test_registration_publishes_an_event_without_personal_contact_data(stack: Stack, gateway: httpx.Client) -> None:
    import asyncio

    person = register_and_sign_in(gateway, name="Event Person")
    topic = "identity.user-registered.v1"
    mine = events_once_published(stack.bootstrap_servers, topic, lambda e: e["subject"] == person.id)
    assert len(mine) == 1
    event = mine[0]
    assert event["specversion"] == "1.0" and event["type"] == "identity.user-registered.v1"
    assert event["source"] == "/services/identity" and event["subject"] == person.id
    assert event["data"]["display_name"] == "Event Person"
    assert person.email not in json.dumps(event)
    # On the wire the id and the name are sealed with the person's own key, and the message is keyed by
    # that key's id, not by the person's id (ADR 15).
    records = asyncio.run(read_all(stack.bootstrap_servers, topic))
    raw = next(r for r in records if (event_of(r) or {}).get("id") == event["id"])
    assert person.id.encode() not in raw.key and person.id.encode() not in raw.value  # type: ignore[attr-defined]
    assert b"Event Person" not in raw.value  # type: ignore[attr-defined]
    wire = json.loads(raw.value)  # type: ignore[attr-defined]
    assert wire["data"]["user_id"].startswith("lx1.") and wire["data"]["display_name"].startswith("lx1.")
    assert wire["subject"] == raw.key.decode() != person.id  # type: ignore[attr-defined]
    headers = dict(raw.headers)  # type: ignore[attr-defined]
    assert headers["traceparent"].startswith(b"00-")


def test_two_refreshes_racing_with_one_token_never_both_succeed(stack: Stack, gateway: httpx.Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    person = register_and_sign_in(gateway)

    def refresh() -> int:
        with httpx.Client(base_url=stack.gateway_url) as client:
            return client.post("/api/v1/auth/refresh", json={"refresh_token": person.refresh_token}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(lambda _: refresh(), range(4)))
    assert codes.count(200) <= 1 and set(codes) <= {200, 401}, codes


def test_identity_restart_keeps_accounts_and_the_single_bootstrap_admin(
    stack: Stack, gateway: httpx.Client, admin: Person
) -> None:
    person = register_and_sign_in(gateway)
    stack.stop_service("identity")
    down = gateway.get("/api/v1/me", headers=person.auth)
    assert down.status_code == 503 and down.headers["content-type"] == PROBLEM
    stack.start_service("identity")
    assert gateway.get("/api/v1/me", headers=person.auth).json()["id"] == person.id
    t = gateway.post("/api/v1/auth/token", json={"email": stack.admin_email, "password": stack.admin_password})
    assert t.status_code == 200
    found = gateway.get(
        "/api/v1/admin/users",
        params={"email": stack.admin_email},
        headers={"Authorization": f"Bearer {t.json()['access_token']}"},
    ).json()["items"]
    assert [u["id"] for u in found] == [admin.id]
