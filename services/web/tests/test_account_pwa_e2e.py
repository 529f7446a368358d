"""My account, the terms for accounts made with X, my commitments, and the installable app with its
service worker, in a real headless Chromium through the gateway of the whole stack."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in

from .test_organise_admin_e2e import wait_for
from .test_pages_e2e import WITHINGTON, sign_in

pytestmark = pytest.mark.e2e


def api_documents(stack: Stack, service: str, method: str, path: str) -> bool:
    """Whether a service's OpenAPI document has this operation (some are still being built)."""
    doc = httpx.get(f"{stack.url_of(service)}/openapi.json", timeout=10).json()
    return method.lower() in doc.get("paths", {}).get(path, {})


def signed_in_with_x(gateway: httpx.Client, fake_x: str) -> dict[str, Any]:
    """Sign in with X through the API and the fake X, as a new X user: a token pair for a new account."""
    start = gateway.get("/api/v1/auth/x/authorize", params={"mode": "login"})
    assert start.status_code == 302, start.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    username = "w" + uuid.uuid4().hex[:12]
    back = httpx.post(
        f"{fake_x.rstrip('/')}/i/oauth2/authorize", data={**params, "username": username, "decision": "allow"}
    )
    assert back.status_code == 302, back.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    done = gateway.get("/api/v1/auth/x/callback", params=query)
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    assert body["created"] is True
    return body


def use_tokens(page: Page, web_url: str, access_token: str, refresh_token: str) -> None:
    page.context.add_cookies(
        [
            {"name": name, "value": value, "url": web_url, "httpOnly": True, "secure": True, "sameSite": "Lax"}
            for name, value in (("lx_at", access_token), ("lx_rt", refresh_token))
        ]
    )


def test_account_page_shows_my_details_and_saves_my_choices(new_page, gateway: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    person = register_and_sign_in(gateway, name='<i id="italic">Ivy</i> Account', discoverable=True)
    page = new_page()
    sign_in(page, person.email, person.password)
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(page.locator("dl.facts")).to_contain_text(person.email)
    expect(page.locator("dl.facts")).to_contain_text('<i id="italic">Ivy</i> Account')
    expect(page.locator("#italic")).to_have_count(0)
    expect(page.get_by_role("link", name="Link X")).to_have_attribute("href", "/login/x?mode=link")
    page.get_by_label("Let organisers find me").uncheck()
    page.get_by_label("Contact me by X direct message").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Your account is saved.")).to_be_visible()
    expect(page.get_by_label("Let organisers find me")).not_to_be_checked()
    me = gateway.get("/api/v1/me", headers=person.auth).json()
    assert me["consents"] == {"terms": True, "discoverable": False, "contact_by_x": True}


def test_download_my_data_gives_json_or_says_it_is_not_available_yet(  # type: ignore[no-untyped-def]
    new_page, stack: Stack, gateway: httpx.Client
) -> None:
    person = register_and_sign_in(gateway)
    page = new_page()
    sign_in(page, person.email, person.password)
    page.goto("/me/account")
    if api_documents(stack, "identity", "get", "/api/v1/me/export"):
        with page.expect_download() as download:
            page.get_by_role("button", name="Download my data").click()
        assert download.value.suggested_filename == "labour-exchange-my-data.json"
        data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert isinstance(data, dict) and person.email in json.dumps(data)
    else:
        page.get_by_role("button", name="Download my data").click()
        expect(page.get_by_role("alert")).to_contain_text("not available yet")
        expect(page.get_by_role("heading", level=1)).to_have_text("Your account")


def test_deleting_my_account_asks_for_confirmation_first(  # type: ignore[no-untyped-def]
    new_page, stack: Stack, gateway: httpx.Client
) -> None:
    person = register_and_sign_in(gateway)
    page = new_page()
    sign_in(page, person.email, person.password)
    page.goto("/me/account")
    page.get_by_role("link", name="Delete my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete your account")
    page.get_by_role("button", name="Delete my account").click()  # not confirmed
    confirm = page.locator(".field", has=page.locator("#f-confirm"))
    expect(confirm.locator(".error")).to_contain_text("Tick the box")
    assert gateway.get("/api/v1/me", headers=person.auth).status_code == 200  # nothing happened
    page.get_by_label("I understand that my account and my data will be deleted for good").check()
    page.get_by_role("button", name="Delete my account").click()
    if api_documents(stack, "identity", "delete", "/api/v1/me"):
        expect(page.get_by_role("heading", level=1)).to_have_text("Your account is deleted")
        assert not {"lx_at", "lx_rt"} & {c["name"] for c in page.context.cookies()}
        expect(page.get_by_role("link", name="Sign in")).to_be_visible()
        wait_for(
            "the erased account to stop signing in",
            lambda: (
                gateway.post(
                    "/api/v1/auth/token", json={"email": person.email, "password": person.password}
                ).status_code
                == 401
            ),
        )
        wait_for(
            "its tokens to stop working", lambda: gateway.get("/api/v1/me", headers=person.auth).status_code == 401
        )
    else:
        expect(page.get_by_role("alert")).to_contain_text("not available yet")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert gateway.get("/api/v1/me", headers=person.auth).status_code == 200


def test_an_account_made_with_x_must_accept_the_terms_before_anything_else(  # type: ignore[no-untyped-def]
    new_page, web_url: str, gateway: httpx.Client, fake_x: str
) -> None:
    tokens = signed_in_with_x(gateway, fake_x)
    page = new_page()
    use_tokens(page, web_url, tokens["access_token"], tokens["refresh_token"])
    for path in ("/", "/requests", "/me/account", "/me/offers"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/me/terms$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("terms of use")
    page.goto("/logout")
    expect(page).to_have_url(re.compile(r"/logout$"))  # signing out stays possible
    page.goto("/static/app.css")
    expect(page).to_have_url(re.compile(r"/static/app.css$"))
    page.goto("/me/terms")
    page.get_by_label("Let organisers find me").check()
    page.get_by_role("button", name="Accept and continue").click()  # terms not ticked
    terms = page.locator(".field", has=page.locator("#f-consents-terms"))
    expect(terms.locator(".error")).to_contain_text("Accept the terms")
    expect(page.get_by_label("Let organisers find me")).to_be_checked()  # kept
    page.get_by_label("I agree to the terms of use").check()
    page.get_by_role("button", name="Accept and continue").click()
    expect(page).to_have_url(re.compile(r"/me\?notice=terms-accepted$"))
    page.goto("/requests")
    expect(page).to_have_url(re.compile(r"/requests$"))
    me = gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["consents"]["terms"] is True and me["consents"]["discoverable"] is True
    assert me["email"] is None and me["x_account"] == tokens["x_account"]


def accepted_commitment(gateway: httpx.Client, title: str) -> tuple[Person, str]:
    """A helper whose offer on someone's request was accepted."""
    owner = register_and_sign_in(gateway, name="Owner Ola")
    helper = register_and_sign_in(gateway, name="Helper Hal")
    r = gateway.post(
        "/api/v1/requests",
        headers=owner.auth,
        json={
            "title": title,
            "description": "Bring comfortable shoes.",
            "constituency_code": WITHINGTON,
            "remote_ok": False,
            "skills": [{"slug": "leafleting", "min_level": 1, "people": 1}],
            "urgency": "normal",
            "starts_at": "2030-05-04T09:00:00Z",
            "ends_at": "2030-05-04T11:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    offer = gateway.post(f"/api/v1/requests/{rid}/offers", headers=helper.auth, json={"message": "Count me in"})
    assert offer.status_code == 201, offer.text
    done = gateway.post(f"/api/v1/requests/{rid}/offers/{offer.json()['id']}/accept", headers=owner.auth)
    assert done.status_code == 200, done.text
    return helper, rid


def test_the_app_installs_and_my_commitments_open_offline_until_i_sign_out(  # type: ignore[no-untyped-def]
    new_page, web_url: str, gateway: httpx.Client
) -> None:
    title = f'<b id="bold">Leaflets</b> at the market {uuid.uuid4().hex[:6]}'
    helper, rid = accepted_commitment(gateway, title)
    page = new_page(width=360, height=740)

    manifest = page.request.get(f"{web_url}/manifest.webmanifest")
    assert manifest.ok and manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/" and body["display"] == "standalone" and body["theme_color"]
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in body["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in body["icons"]:
        got = page.request.get(f"{web_url}{icon['src']}")
        assert got.ok and got.headers["content-type"] == "image/png" and got.body()[:4] == b"\x89PNG"
    worker = page.request.get(f"{web_url}/sw.js")
    assert worker.ok and worker.headers["service-worker-allowed"] == "/"
    assert "javascript" in worker.headers["content-type"]

    sign_in(page, helper.email, helper.password)
    page.get_by_role("link", name="Commitments").click()
    card = page.locator(".card", has=page.locator(f'a[href="/requests/{rid}"]'))
    expect(card.get_by_role("link")).to_have_text(title)
    expect(page.locator("#bold")).to_have_count(0)
    expect(card).to_contain_text("Manchester Withington")
    expect(card).to_contain_text("2030")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{web_url}/"
    page.reload()  # now under the worker's control, this visit is kept
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_function("caches.open('lx-personal-v1').then(c => c.keys()).then(k => k.length === 1)")

    page.context.set_offline(True)
    try:
        page.goto("/me/commitments")
        expect(page.locator(f'a[href="/requests/{rid}"]')).to_have_text(title)
        page.goto("/requests")  # other pages are never kept: the offline page instead
        expect(page.get_by_role("heading", level=1)).to_have_text("No connection")
    finally:
        page.context.set_offline(False)

    page.goto("/me/commitments")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.wait_for_function("caches.has('lx-personal-v1').then(has => !has)")
    page.context.set_offline(True)
    try:
        page.goto("/me/commitments")
        expect(page.get_by_role("heading", level=1)).to_have_text("No connection")
    finally:
        page.context.set_offline(False)


@pytest.mark.parametrize("path", ["/me/account", "/me/account/delete", "/me/commitments", "/me/terms"])
def test_account_pages_fit_a_360px_screen(new_page, gateway: httpx.Client, path: str) -> None:  # type: ignore[no-untyped-def]
    person = register_and_sign_in(gateway)
    page = new_page(width=360, height=740)
    sign_in(page, person.email, person.password)
    page.goto(path)
    expect(page.locator("main h1")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def consent_at_fake_x(page: Page, username: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text("wants to access your X account")
    page.get_by_label("Your X username").fill(username)
    page.get_by_role("button", name="Authorize app").click()


def test_signing_in_with_x_in_the_browser_makes_an_account_that_accepts_the_terms_first(  # type: ignore[no-untyped-def]
    new_page, gateway: httpx.Client, fake_x: str
) -> None:
    page = new_page()
    page.goto("/login")
    page.get_by_role("link", name="Sign in with X").click()
    username = "b" + uuid.uuid4().hex[:12]
    consent_at_fake_x(page, username)
    expect(page).to_have_url(re.compile(r"/me/terms$"))
    assert {"lx_at", "lx_rt"} <= {c["name"] for c in page.context.cookies()}
    page.get_by_label("I agree to the terms of use").check()
    page.get_by_role("button", name="Accept and continue").click()
    expect(page.get_by_text("Thank you. Your account is ready.")).to_be_visible()
    page.goto("/me/account")
    expect(page.locator("dl.facts")).to_contain_text("none (you signed in with X)")


def test_linking_and_unlinking_x_from_the_account_page(new_page, gateway: httpx.Client, fake_x: str) -> None:  # type: ignore[no-untyped-def]
    person = register_and_sign_in(gateway)
    page = new_page()
    sign_in(page, person.email, person.password)
    page.goto("/me/account")
    page.get_by_role("link", name="Link X").click()
    username = "l" + uuid.uuid4().hex[:12]
    consent_at_fake_x(page, username)
    expect(page).to_have_url(re.compile(r"/me/account\?notice=x-linked$"))
    expect(page.get_by_text("Your X account is linked.")).to_be_visible()

    def linked() -> bool:
        return gateway.get("/api/v1/me", headers=person.auth).json()["x_account"] == {"handle": username}

    wait_for("identity to hear of the link", linked)
    page.reload()
    expect(page.get_by_text(f"@{username}")).to_be_visible()
    page.get_by_role("button", name="Unlink X").click()
    expect(page.get_by_text("Your X account is unlinked.")).to_be_visible()
    wait_for("identity to hear of the unlinking", lambda: not linked())
    page.reload()
    expect(page.get_by_role("link", name="Link X")).to_be_visible()
