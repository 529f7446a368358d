"""Invited accounts for supporter imports: made by identity's internal call, claimed by the person."""

from __future__ import annotations

import uuid

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person
from lx_devstack.testkit import events_once_published

pytestmark = pytest.mark.e2e


def invite(stack: Stack, who: Person, accounts: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(
        f"{stack.url_of('identity')}/internal/v1/invited-accounts", headers=who.auth, json={"accounts": accounts}
    )


def fresh_email() -> str:
    return f"invitee-{uuid.uuid4().hex[:10]}@example.org"


def test_invited_account_cannot_sign_in_until_claimed(stack: Stack, gateway: httpx.Client, admin: Person) -> None:
    email = fresh_email()
    r = invite(stack, admin, [{"email": email, "display_name": "Ina Vited"}])
    assert r.status_code == 200, r.text
    [account] = r.json()["accounts"]
    assert account["status"] == "created" and account["invite_code"]
    assert gateway.post("/api/v1/auth/token", json={"email": email, "password": "x" * 12}).status_code == 401

    claim = {
        "invite_code": account["invite_code"],
        "password": "my own password now",
        "consents": {"terms": True, "discoverable": True, "contact_by_x": False},
    }
    tokens = gateway.post("/api/v1/auth/invitations/accept", json=claim)
    assert tokens.status_code == 200, tokens.text
    me = gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}).json()
    assert me["id"] == account["user_id"] and me["status"] == "active"
    assert me["consents"] == {"terms": True, "discoverable": True, "contact_by_x": False}
    assert gateway.post("/api/v1/auth/token", json={"email": email, "password": "my own password now"}).is_success
    # The code works once.
    assert gateway.post("/api/v1/auth/invitations/accept", json=claim).status_code == 401


def test_claiming_needs_terms_and_a_real_password(stack: Stack, gateway: httpx.Client, admin: Person) -> None:
    [account] = invite(stack, admin, [{"email": fresh_email(), "display_name": "Ina"}]).json()["accounts"]
    bad = {
        "invite_code": account["invite_code"],
        "password": "short",
        "consents": {"terms": False, "discoverable": False, "contact_by_x": False},
    }
    r = gateway.post("/api/v1/auth/invitations/accept", json=bad)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"password", "consents.terms"}
    good = {**bad, "password": "a good long password", "consents": {"terms": True}}
    assert gateway.post("/api/v1/auth/invitations/accept", json=good).status_code == 200, "the bad try used nothing"


def test_unknown_invite_code_is_401(gateway: httpx.Client) -> None:
    r = gateway.post(
        "/api/v1/auth/invitations/accept",
        json={"invite_code": "made-up", "password": "a good long password", "consents": {"terms": True}},
    )
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_inviting_again_changes_nothing_and_reports_who_exists(stack: Stack, admin: Person, person: Person) -> None:
    email = fresh_email()
    first = invite(stack, admin, [{"email": email, "display_name": "Ina"}]).json()["accounts"][0]
    again = invite(
        stack,
        admin,
        [{"email": email.upper(), "display_name": "Someone Else"}, {"email": person.email, "display_name": "X"}],
    ).json()["accounts"]
    assert again[0] == {"email": email.upper(), "user_id": first["user_id"], "status": "invited", "invite_code": None}
    assert again[1]["user_id"] == person.id and again[1]["status"] == "registered" and again[1]["invite_code"] is None

    mine = [
        e["data"]
        for e in events_once_published(
            stack.bootstrap_servers, "identity.user-registered.v1", lambda e: e["subject"] == first["user_id"]
        )
    ]
    assert len(mine) == 1
    assert mine[0]["invited"] is True and mine[0]["consents"] == {"discoverable": False, "contact_by_x": False}


def test_bad_rows_create_nothing_and_name_the_row(stack: Stack, gateway: httpx.Client, admin: Person) -> None:
    good = fresh_email()
    r = invite(stack, admin, [{"email": good, "display_name": "Fine"}, {"email": "nope", "display_name": ""}])
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"accounts.1.email", "accounts.1.display_name"}
    found = gateway.get("/api/v1/admin/users", params={"email": good}, headers=admin.auth).json()["items"]
    assert found == []


def test_only_admins_may_invite_and_the_gateway_does_not_expose_it(
    stack: Stack, gateway: httpx.Client, person: Person
) -> None:
    assert invite(stack, person, [{"email": fresh_email(), "display_name": "A"}]).status_code == 403
    r = httpx.post(f"{stack.url_of('identity')}/internal/v1/invited-accounts", json={"accounts": []})
    assert r.status_code == 401
    through_gateway = gateway.post(
        "/internal/v1/invited-accounts", headers=person.auth, json={"accounts": [{"email": "a@b.org"}]}
    )
    assert through_gateway.status_code == 404
