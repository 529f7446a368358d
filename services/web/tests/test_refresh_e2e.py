"""Tokens in cookies are refreshed transparently, once, even when a browser asks twice at the same time."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie

import httpx
import pytest

from lx_devstack.testing import register_and_sign_in

pytestmark = pytest.mark.e2e


def set_cookies(response: httpx.Response) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def page(web_url: str, path: str, cookies: dict[str, str]) -> httpx.Response:
    # An explicit Cookie header: httpx would not send Secure cookies over plain HTTP, a browser on 127.0.0.1 does.
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return httpx.get(f"{web_url}{path}", headers={"Cookie": header}, timeout=15, follow_redirects=False)


def test_expired_access_token_is_refreshed_and_the_page_still_shows(web_url: str, gateway: httpx.Client) -> None:
    person = register_and_sign_in(gateway)
    cookies = {"lx_sid": "s" * 43, "lx_at": "expired.or.garbage", "lx_rt": person.refresh_token}
    r = page(web_url, "/me", cookies)
    assert r.status_code == 200, r.text[:500]
    fresh = set_cookies(r)
    assert fresh["lx_rt"] != person.refresh_token and fresh["lx_at"] != "expired.or.garbage"
    me = gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh['lx_at']}"})
    assert me.status_code == 200 and me.json()["id"] == person.id


def test_two_pages_refreshing_at_once_spend_the_refresh_token_once(web_url: str, gateway: httpx.Client) -> None:
    person = register_and_sign_in(gateway)
    cookies = {"lx_sid": "s" * 43, "lx_rt": person.refresh_token}  # the access cookie has run out
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: page(web_url, "/me", cookies), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    pairs = {(set_cookies(a)["lx_at"], set_cookies(a)["lx_rt"]) for a in answers}
    assert len(pairs) == 1  # all four got the one new pair: the old token was spent once
    ((_, new_refresh),) = pairs
    # Spending an old token twice would have revoked the family; the new one still works.
    again = gateway.post("/api/v1/auth/refresh", json={"refresh_token": new_refresh})
    assert again.status_code == 200, again.text


def test_revoked_session_is_sent_to_sign_in_and_loses_its_cookies(web_url: str, gateway: httpx.Client) -> None:
    person = register_and_sign_in(gateway)
    assert gateway.post("/api/v1/auth/logout", json={"refresh_token": person.refresh_token}).status_code == 204
    r = page(web_url, "/me/offers", {"lx_sid": "s" * 43, "lx_rt": person.refresh_token})
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    gone = set_cookies(r)
    assert gone.get("lx_rt") == "" and gone.get("lx_at") == ""


def test_signing_out_everywhere_ends_the_sessions_on_other_devices(web_url: str, gateway: httpx.Client) -> None:
    person = register_and_sign_in(gateway)
    phone = gateway.post("/api/v1/auth/token", json={"email": person.email, "password": person.password}).json()
    cookies = {"lx_sid": "e" * 43, "lx_at": person.access_token, "lx_rt": person.refresh_token}
    form = page(web_url, "/logout", cookies)
    assert form.status_code == 200 and "Sign out everywhere" in form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    r = httpx.post(
        f"{web_url}/logout",
        data={"csrf_token": token.group(1), "everywhere": "yes"},
        headers={"Cookie": header},
        timeout=15,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    assert set_cookies(r).get("lx_rt") == ""
    # The phone's sign-in is over too: its refresh token no longer works.
    again = gateway.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert again.status_code == 401
