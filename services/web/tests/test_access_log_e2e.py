"""What I looked at, in a real headless Chromium through the gateway of the whole stack: an organiser's own
access log after searching supporters (paged with More), a supporter's empty one, an admin reading someone
else's, and never a subject's id on the page."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, make_organiser, register_and_sign_in, sign_in_admin

from .test_organise_admin_e2e import WITHINGTON, wait_for
from .test_pages_e2e import sign_in

pytestmark = pytest.mark.e2e


@dataclass
class Searched:
    code: str
    organiser: Person
    supporter: Person
    searches: int  # every one of them is an entry in the organiser's access log
    last_found: int  # how many people the newest one showed


@pytest.fixture(scope="module")
def searched(stack: Stack, module_gateway: httpx.Client) -> Iterator[Searched]:
    """An organiser who has searched supporters 22 times (more than a page of the log), the last time finding
    a supporter with a profile in their constituency."""
    http = module_gateway
    seats = [c["code"] for c in http.get("/api/v1/constituencies").json() if c["code"] != WITHINGTON]
    code = random.choice(seats)  # noqa: S311 - a seat of its own, not for security
    admin = sign_in_admin(stack, http)
    organiser = make_organiser(http, admin, code)
    supporter = register_and_sign_in(http, name=f"Sue Supporter {uuid.uuid4().hex[:6]}")
    r = http.put(
        "/api/v1/me/profile",
        headers=supporter.auth,
        json={
            "constituency_code": code,
            "travel_radius_km": 5,
            "remote_ok": False,
            "max_hours_per_week": 4,
            "availability": [{"day": "sat", "start": "10:00", "end": "13:00"}],
            "skills": [{"slug": "leafleting", "level": 3}],
        },
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = []
    calls = 0

    def search() -> bool:
        nonlocal calls
        answer = http.get("/api/v1/supporters", headers=organiser.auth, params={"constituency": code})
        assert answer.status_code == 200, answer.text
        calls += 1
        found[:] = answer.json()["items"]
        return any(s["user_id"] == supporter.id for s in found)

    wait_for("the supporter to be found by the organiser's search", search)
    while calls < 22:
        assert search()
    yield Searched(code, organiser, supporter, calls, len(found))


def people(count: int) -> str:
    return "nobody" if count == 0 else "1 person" if count == 1 else f"{count} people"


def test_an_organiser_sees_their_supporter_searches_newest_first_and_pages_with_more(  # type: ignore[no-untyped-def]
    new_page, searched: Searched
) -> None:
    page = new_page()
    sign_in(page, searched.organiser.email, searched.organiser.password)
    page.goto(f"/organise/{searched.code}")
    page.get_by_role("link", name="What I looked at").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What I looked at")
    expect(page).to_have_title("What I looked at · Labour Exchange")
    expect(page.locator("main")).to_contain_text("special-category")
    entries = page.locator("#access-log > li")
    expect(entries).to_have_count(20)
    newest = entries.first
    expect(newest.get_by_role("heading")).to_have_text("Searched supporters")
    expect(newest.locator(".people")).to_have_text(people(searched.last_found))
    expect(newest).to_contain_text("Supporters and skills")
    expect(newest.locator("time")).to_have_text(
        # As every page shows times: "Fri 27 Nov 2026, 15:20", in UK time.
        re.compile(r"^[A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}$")
    )
    assert searched.supporter.id not in page.content()

    page.get_by_role("link", name="More").click()
    expect(page).to_have_url(re.compile(r"/me/account/access-log\?cursor="))
    expect(page.locator("#access-log > li")).to_have_count(searched.searches - 20)
    expect(page.get_by_role("link", name="More")).to_have_count(0)
    assert searched.supporter.id not in page.content()


def test_a_supporter_who_never_looked_at_anyone_sees_the_empty_state(  # type: ignore[no-untyped-def]
    new_page, gateway: httpx.Client
) -> None:
    supporter = register_and_sign_in(gateway)
    page = new_page(width=360, height=740)
    sign_in(page, supporter.email, supporter.password)
    page.goto("/me/account")
    page.get_by_role("link", name="What I looked at").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What I looked at")
    expect(page.locator(".empty")).to_contain_text("You have not looked at anyone else's data.")
    expect(page.locator("#access-log")).to_have_count(0)
    expect(page.get_by_role("link", name="More")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # Not an admin: someone else's log is not theirs to read.
    answer = page.goto(f"/admin/access-log?actor={supporter.id}")
    assert answer is not None and answer.status == 403


def test_an_admin_reads_someone_elses_log_and_a_bad_id_gets_a_field_error(  # type: ignore[no-untyped-def]
    new_page, admin: Person, searched: Searched
) -> None:
    page = new_page()
    sign_in(page, admin.email, admin.password)
    page.goto("/admin")
    expect(page).to_have_title("Admin · Labour Exchange")
    expect(page.get_by_role("heading", name="Access log of a person")).to_be_visible()
    form = page.get_by_role("form", name="Access log of a person")
    form.get_by_label("User id").fill("not-a-user-id")
    with page.expect_response(lambda r: "/admin/access-log" in r.url) as answer:
        form.get_by_role("button", name="Show their access log").click()
    assert answer.value.status == 422
    field = page.locator(".field", has=page.locator("#f-actor"))
    expect(field.locator(".error")).to_contain_text("Enter a user id like")
    expect(page.locator("#f-actor")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-actor")).to_have_value("not-a-user-id")  # kept as typed
    expect(page.locator("#access-log")).to_have_count(0)

    page.get_by_label("User id").fill(f"  {searched.organiser.id}  ")
    page.get_by_role("button", name="Show their access log").click()
    entries = page.locator("#access-log > li")
    expect(entries).to_have_count(20)
    expect(entries.first.get_by_role("heading")).to_have_text("Searched supporters")
    expect(entries.first.locator(".people")).to_have_text(people(searched.last_found))
    expect(page.get_by_role("link", name="More")).to_be_visible()
    assert searched.supporter.id not in page.content()

    # The admin's own log has their user searches and role grants (made organiser above), each counted.
    page.goto("/me/account/access-log")
    expect(page.locator("#access-log")).to_contain_text("Granted a role")
    assert searched.organiser.id not in page.content()


def test_the_access_log_is_not_reachable_signed_out(web_url: str, searched: Searched) -> None:
    with httpx.Client(base_url=web_url, timeout=15.0) as browser:
        for path in ("/me/account/access-log", f"/admin/access-log?actor={searched.organiser.id}"):
            r = browser.get(path)
            assert r.status_code == 303, (path, r.status_code)
            location = httpx.URL(r.headers["location"])
            assert location.path == "/login"
            assert location.params["next"] == path
            assert searched.supporter.id not in r.text
