"""Signing out everywhere ends every sign-in of the account; signing out ends only one."""

from __future__ import annotations

import httpx
import pytest

from lx_devstack.testing import register_and_sign_in

pytestmark = pytest.mark.integration


def _sign_in(gateway: httpx.Client, email: str, password: str) -> dict[str, str]:
    r = gateway.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    pair: dict[str, str] = r.json()
    return pair


def _refreshes(gateway: httpx.Client, refresh_token: str) -> bool:
    return gateway.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token}).status_code == 200


def test_signing_out_ends_only_that_sign_in(gateway: httpx.Client) -> None:
    person = register_and_sign_in(gateway, name="Olu One-Device")
    laptop, phone = _sign_in(gateway, person.email, person.password), _sign_in(gateway, person.email, person.password)
    assert gateway.post("/api/v1/auth/logout", json={"refresh_token": laptop["refresh_token"]}).status_code == 204
    assert not _refreshes(gateway, laptop["refresh_token"])
    assert _refreshes(gateway, phone["refresh_token"])


def test_signing_out_everywhere_ends_every_sign_in_of_the_account_and_no_one_elses(gateway: httpx.Client) -> None:
    person = register_and_sign_in(gateway, name="Eve Everywhere")
    other = register_and_sign_in(gateway, name="Oscar Other")
    laptop, phone = _sign_in(gateway, person.email, person.password), _sign_in(gateway, person.email, person.password)
    theirs = _sign_in(gateway, other.email, other.password)
    r = gateway.post("/api/v1/auth/logout", json={"refresh_token": laptop["refresh_token"], "everywhere": True})
    assert r.status_code == 204
    assert not _refreshes(gateway, laptop["refresh_token"])
    assert not _refreshes(gateway, phone["refresh_token"])
    assert _refreshes(gateway, theirs["refresh_token"])
    # The account itself is fine: signing in again works.
    assert _refreshes(gateway, _sign_in(gateway, person.email, person.password)["refresh_token"])


def test_an_old_used_refresh_token_cannot_sign_the_account_out_everywhere(gateway: httpx.Client) -> None:
    person = register_and_sign_in(gateway, name="Stan Stolen-Copy")
    old = _sign_in(gateway, person.email, person.password)
    rotated = gateway.post("/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]}).json()
    elsewhere = _sign_in(gateway, person.email, person.password)
    r = gateway.post("/api/v1/auth/logout", json={"refresh_token": old["refresh_token"], "everywhere": True})
    assert r.status_code == 204
    assert not _refreshes(gateway, rotated["refresh_token"]), "the old copy's own family ends"
    assert _refreshes(gateway, elsewhere["refresh_token"]), "other sign-ins are untouched"
