"""The web pages in a real headless Chromium, through the gateway of the whole running stack."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from lx_devstack.testing import register_and_sign_in
from web_svc.app import CONTENT_SECURITY_POLICY

from .conftest import Supporter, new_supporter_details

pytestmark = pytest.mark.e2e

WITHINGTON = "E14001354"


def sign_up(page: Page, who: Supporter, *, discoverable: bool = True, contact_by_x: bool = False) -> None:
    page.goto("/signup")
    page.get_by_label("Email address").fill(who.email)
    page.get_by_label("Password").fill(who.password)
    page.get_by_label("Your name").fill(who.name)
    page.get_by_label("I agree to the terms of use").check()
    page.get_by_label("Let organisers find me").set_checked(discoverable)
    page.get_by_label("Contact me by X direct message").set_checked(contact_by_x)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def access_token(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "lx_at")


def post_request(page: Page, title: str, *, skill: str = "Leafleting") -> str:
    page.goto("/requests/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("What needs doing").fill("Two hours of leafleting on Saturday morning.")
    page.get_by_label("Search constituencies").fill("withington")
    expect(page.locator("#f-constituency-code")).to_have_value(WITHINGTON)
    page.locator("#f-skills-0-slug").select_option(label=skill)
    page.locator("#f-skills-0-people").fill("2")
    page.get_by_role("button", name="Post request").click()
    expect(page.locator(".alert")).to_be_visible()
    assert page.locator(".alert-error").count() == 0, page.locator(".alert-error").inner_text()
    expect(page.get_by_text("Your request is posted")).to_be_visible()
    match = re.search(r"/requests/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def test_sign_up_with_consents_lands_signed_in(new_page, gateway: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    who = new_supporter_details("Consenting Supporter")
    sign_up(page, who, discoverable=False, contact_by_x=True)
    expect(page).to_have_url(re.compile(r"/me\?notice=signed-up$"))
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    me = gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token(page)}"})
    assert me.status_code == 200, me.text
    assert me.json()["consents"] == {"terms": True, "discoverable": False, "contact_by_x": True}
    cookies = {c["name"]: c for c in page.context.cookies()}
    for name in ("lx_at", "lx_rt", "lx_sid"):
        assert cookies[name]["httpOnly"] and cookies[name]["secure"] and cookies[name]["sameSite"] == "Lax"


def test_sign_in_and_sign_out(new_page, gateway: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    person = register_and_sign_in(gateway, name="Returning Supporter")
    page = new_page()
    page.goto("/me")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fme$"))
    page.get_by_label("Email address").fill(person.email)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("The email or password is wrong")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/me\?notice=signed-in$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert not {"lx_at", "lx_rt"} & {c["name"] for c in page.context.cookies()}
    page.goto("/me/offers")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_form_post_without_csrf_token_is_refused(new_page, web_url: str) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    sign_up(page, new_supporter_details())
    answer = page.request.post(f"{web_url}/logout", form={"anything": "x"}, max_redirects=0)
    assert answer.status == 403
    assert "This form has expired" in answer.text()
    other = page.request.post(f"{web_url}/me", form={"csrf_token": "made-up", "travel_radius_km": "5"})
    assert other.status == 403
    page.goto("/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in


def test_sign_up_shows_the_consent_wording_and_its_version_from_the_api(new_page, stack) -> None:  # type: ignore[no-untyped-def]
    wording = httpx.get(f"{stack.gateway_url}/api/v1/consents/wording", timeout=10).json()["items"]
    page = new_page()
    page.goto("/signup")
    for item in wording:
        field = page.locator(".field", has=page.locator(f"#f-consents-{item['purpose'].replace('_', '-')}"))
        expect(field.locator(".hint")).to_have_text(item["text"])
        expect(page.locator(".wording-version")).to_contain_text(item["version"])


def test_bad_sign_up_shows_errors_next_to_fields_and_keeps_what_was_typed(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    page.goto("/signup")
    page.get_by_label("Email address").fill("kept@example.org")
    page.get_by_label("Password").fill("short")
    page.get_by_label("Your name").fill("Kept <b>Name</b>")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    password_field = page.locator(".field", has=page.locator("#f-password"))
    expect(password_field.locator(".error")).to_contain_text("at least 12 characters")
    terms_field = page.locator(".field", has=page.locator("#f-consents-terms"))
    expect(terms_field.locator(".error")).to_contain_text("Accept the terms")
    expect(page.locator("#f-password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Email address")).to_have_value("kept@example.org")
    expect(page.get_by_label("Your name")).to_have_value("Kept <b>Name</b>")
    expect(page.get_by_label("Let organisers find me")).to_be_checked()


def test_profile_is_saved_and_shown_again(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    sign_up(page, new_supporter_details())
    page.get_by_label("Search constituencies").fill("withington")
    expect(page.locator("#f-constituency-code")).to_have_value(WITHINGTON)
    page.get_by_label("How far you can travel (km)").fill("12")
    page.get_by_label("I can help remotely").check()
    page.locator("#f-availability-0-day").select_option("sat")
    page.locator("#f-availability-0-start").fill("10:00")
    page.locator("#f-availability-0-end").fill("09:00")
    page.get_by_label("Canvassing").select_option("4")
    page.get_by_role("button", name="Save profile", exact=True).last.click()
    end_field = page.locator(".field", has=page.locator("#f-availability-0-end"))
    expect(end_field.locator(".error")).to_contain_text("End after the start")
    expect(page.get_by_label("Canvassing")).to_have_value("4")  # kept while the window is corrected
    page.locator("#f-availability-0-end").fill("13:30")
    page.get_by_role("button", name="Save profile", exact=True).last.click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    page.goto("/me")
    expect(page.locator("#f-constituency-code")).to_have_value(WITHINGTON)
    expect(page.get_by_label("How far you can travel (km)")).to_have_value("12")
    expect(page.get_by_label("I can help remotely")).to_be_checked()
    expect(page.locator("#f-availability-0-day")).to_have_value("sat")
    expect(page.locator("#f-availability-0-start")).to_have_value("10:00")
    expect(page.locator("#f-availability-0-end")).to_have_value("13:30")
    expect(page.get_by_label("Canvassing")).to_have_value("4")


def test_posted_request_is_browsable_and_its_html_title_is_shown_as_text(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    sign_up(page, new_supporter_details("Asker"))
    marker = uuid.uuid4().hex[:8]
    title = f'<img src=x id="injected"><b>Bold</b> leaflets {marker}'
    request_id = post_request(page, title)
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("#injected")).to_have_count(0)
    expect(page.locator("main h1 b")).to_have_count(0)
    page.goto(f"/requests?q={marker}")
    card = page.locator(".card", has=page.locator(f'a[href="/requests/{request_id}"]'))
    expect(card).to_be_visible()
    expect(card.get_by_role("link")).to_have_text(title)
    page.goto(f"/requests?constituency={WITHINGTON}&skill=leafleting&status=open")
    expect(page.locator(f'a[href="/requests/{request_id}"]')).to_be_visible()


def test_another_supporter_offers_and_the_owner_accepts(new_page) -> None:  # type: ignore[no-untyped-def]
    owner_page = new_page()
    sign_up(owner_page, new_supporter_details("Owner Olu"))
    request_id = post_request(owner_page, f"Leaflets in Didsbury {uuid.uuid4().hex[:6]}")

    helper_page = new_page(width=360, height=740)
    sign_up(helper_page, new_supporter_details("Helper Hana"))
    helper_page.goto(f"/requests/{request_id}")
    helper_page.get_by_label("Message to the person who asked").fill("I can do Saturday morning.")
    helper_page.get_by_label("The skill you offer (optional)").select_option("leafleting")
    helper_page.get_by_role("button", name="Send offer").click()
    expect(helper_page.get_by_text("Your offer is sent")).to_be_visible()
    expect(helper_page.get_by_role("heading", name="Your offer")).to_be_visible()
    helper_page.goto("/me/offers")
    expect(helper_page.locator(f'a[href="/requests/{request_id}"]')).to_be_visible()

    owner_page.goto(f"/requests/{request_id}")
    offer = owner_page.locator(".card", has=owner_page.get_by_role("heading", name="Helper Hana"))
    expect(offer).to_contain_text("I can do Saturday morning.")
    offer.get_by_role("button", name="Accept").click()
    expect(owner_page.get_by_text("Offer accepted.")).to_be_visible()
    expect(owner_page.locator("dl.facts")).to_contain_text("1 of 2 found")


@pytest.mark.parametrize(
    "path", ["/", "/requests", "/signup", "/login", "/me", "/requests/new", "/me/offers", "/me/opportunities"]
)
def test_main_pages_fit_a_360px_screen(new_page, gateway: httpx.Client, path: str) -> None:  # type: ignore[no-untyped-def]
    person = register_and_sign_in(gateway)
    page = new_page(width=360, height=740)
    if path not in ("/signup", "/login"):
        sign_in(page, person.email, person.password)
    page.goto(path)
    expect(page.locator("main h1")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_pages_carry_a_strict_content_security_policy(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    for path in ("/", "/signup", "/requests"):
        answer = page.goto(path)
        assert answer is not None
        headers = answer.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
    page.get_by_label("Words").fill("x")  # htmx loaded and working under the policy is shown by the profile test
    assert violations == []
