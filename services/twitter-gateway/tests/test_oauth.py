"""Signing in with X and linking X, end to end through the gateway: authorize → the fake X's consent
page → callback, accounts created once, links refused when taken, unlinking revoking at X."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lx_contracts import topics
from lx_devstack.testing import Person, register_and_sign_in
from twitter_svc.crypto import TokenBox

from .conftest import PROBLEM, XWorld, handle

pytestmark = pytest.mark.integration


def _me(x: XWorld, access_token: str) -> dict[str, object]:
    r = x.gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token}"})
    assert r.status_code == 200, r.text
    me: dict[str, object] = r.json()
    return me


def test_signing_in_with_x_creates_an_account_once_and_signs_the_same_person_in_again(x: XWorld) -> None:
    name = handle()
    first = x.login(name)
    assert first["created"] is True
    assert first["token_type"] == "bearer" and first["access_token"] and first["refresh_token"]
    assert first["x_account"] == {"handle": name}
    user_id = _me(x, first["access_token"])["id"]

    linked = x.wait_events(topics.ACCOUNT_LINKED.name, str(user_id))
    assert linked[0]["data"]["handle"] == name
    row = x.sql(
        "SELECT handle, access_token_sealed, scopes FROM x_accounts WHERE user_id = $1", uuid.UUID(str(user_id))
    )
    assert row and row[0]["handle"] == name
    assert row[0]["access_token_sealed"].startswith("v1.")  # sealed, never in the clear
    assert "dm.write" in row[0]["scopes"]

    second = x.login(name)
    assert second["created"] is False
    assert _me(x, second["access_token"])["id"] == user_id
    assert x.scalar("SELECT count(*) FROM x_accounts WHERE handle = $1", name) == 1


def test_a_state_is_single_use_and_an_unknown_one_is_refused(x: XWorld) -> None:
    query = x.consent(handle())
    assert x.callback(query).status_code == 200
    again = x.callback(query)
    assert again.status_code == 400
    assert again.headers["content-type"].startswith(PROBLEM)
    unknown = x.callback({"state": "made-up", "code": query["code"]})
    assert unknown.status_code == 400
    assert x.callback({}).status_code == 400


def test_a_registered_redirect_address_is_used_through_the_exchange_and_others_are_refused(x: XWorld) -> None:
    web_page = f"{x.stack.gateway_url}/login/x/callback"
    r = x.gateway.get("/api/v1/auth/x/authorize", params={"redirect_uri": web_page})
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["location"]).query)["redirect_uri"] == [web_page]
    # The fake checks the exchange presents the address the consent was given for.
    assert x.callback(x.consent(handle(), redirect_uri=web_page)).status_code == 200

    elsewhere = x.gateway.get("/api/v1/auth/x/authorize", params={"redirect_uri": "http://127.0.0.1:9/steal"})
    assert elsewhere.status_code == 422
    assert elsewhere.headers["content-type"].startswith(PROBLEM)
    assert elsewhere.json()["errors"][0]["field"] == "redirect_uri"


def test_declining_at_x_changes_nothing(x: XWorld) -> None:
    query = x.consent(handle(), decision="deny")
    assert query["error"] == "access_denied"
    r = x.callback(query)
    assert r.status_code == 400
    assert "declined" in r.json()["detail"]


def test_link_mode_needs_a_signed_in_user(x: XWorld) -> None:
    r = x.gateway.get("/api/v1/auth/x/authorize", params={"mode": "link"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)
    assert x.gateway.get("/api/v1/auth/x/authorize", params={"mode": "nonsense"}).status_code == 422


def test_a_signed_in_user_links_x_and_an_x_account_linked_elsewhere_is_refused(x: XWorld) -> None:
    person: Person = register_and_sign_in(x.gateway, name="Linda Linker")
    name = handle()
    r = x.callback(x.consent(name, mode="link", auth=person.auth))
    assert r.status_code == 200, r.text
    assert r.json() == {"x_account": {"handle": name}}
    event = x.wait_events(topics.ACCOUNT_LINKED.name, person.id)[0]
    assert event["data"]["handle"] == name

    someone_else = register_and_sign_in(x.gateway, name="Other Person")
    taken = x.callback(x.consent(name, mode="link", auth=someone_else.auth))
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith(PROBLEM)
    assert x.scalar("SELECT count(*) FROM x_accounts WHERE user_id = $1", uuid.UUID(someone_else.id)) == 0

    # Signing in with that X account now signs the person who linked it in.
    signed = x.login(name)
    assert signed["created"] is False
    assert _me(x, signed["access_token"])["id"] == person.id


def test_unlinking_deletes_the_link_and_revokes_the_token_at_x(x: XWorld) -> None:
    person = register_and_sign_in(x.gateway, name="Una Linker")
    assert x.gateway.delete("/api/v1/me/x", headers=person.auth).status_code == 404
    assert x.callback(x.consent(handle(), mode="link", auth=person.auth)).status_code == 200
    sealed = x.scalar("SELECT access_token_sealed FROM x_accounts WHERE user_id = $1", uuid.UUID(person.id))
    keys = x.stack.service_env(x.stack.spec("twitter-gateway")).get("TWITTER_TOKEN_KEYS")
    token = TokenBox.from_setting(keys).open(sealed, context=f"x-account:{person.id}:access".encode()) if keys else None
    if token:
        assert x.fake.get("/2/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    r = x.gateway.delete("/api/v1/me/x", headers=person.auth)
    assert r.status_code == 204
    assert x.scalar("SELECT count(*) FROM x_accounts WHERE user_id = $1", uuid.UUID(person.id)) == 0
    x.wait_events(topics.ACCOUNT_UNLINKED.name, person.id)
    x.wait_for(
        "the revocation to be sent",
        "SELECT 1 FROM outgoing WHERE kind = 'revoke' AND outcome = 'sent' AND dedupe_key LIKE $1",
        f"revoke:{person.id}:%",
    )
    if token:
        assert x.fake.get("/2/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert x.gateway.delete("/api/v1/me/x", headers=person.auth).status_code == 404
    assert x.gateway.delete("/api/v1/me/x").status_code == 401


def test_sign_in_answers_are_never_cached(x: XWorld) -> None:
    r = x.gateway.get("/api/v1/auth/x/authorize")
    assert r.status_code == 302
    assert r.headers.get("cache-control") == "no-store"
    assert isinstance(r, httpx.Response)
