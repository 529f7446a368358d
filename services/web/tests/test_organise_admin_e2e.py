"""Organisers' and admins' pages in a real headless Chromium, through the gateway of the whole stack:
a constituency's dashboard approving a request from X, the national figures, roles, X settings, import."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from lx_contracts import topics
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, make_organiser, register_and_sign_in
from lx_devstack.testkit import envelope, produce, wait_until

from .test_pages_e2e import sign_in

pytestmark = pytest.mark.e2e

WITHINGTON = "E14001354"


def some_constituency(gateway: httpx.Client) -> dict[str, str]:
    """A constituency other tests are unlikely to use, so its figures are this test's own."""
    seats = [c for c in gateway.get("/api/v1/constituencies").json() if c["code"] != WITHINGTON]
    return random.choice(seats)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run async test helpers beside Playwright's synchronous API, which keeps an event loop of its own here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 30) -> None:
    async def ok() -> bool:
        return await asyncio.to_thread(check)

    run(wait_until(ok, timeout_s=timeout_s, what=what))


def tweet_asking(stack: Stack, code: str, text: str) -> str:
    """A tweet from someone with no account, as the twitter gateway announces it."""
    tid = str(random.randrange(10**18, 10**19))
    now = datetime.now(UTC).isoformat()
    data: dict[str, Any] = {
        "tweet_id": tid,
        "url": f"https://x.com/someone/status/{tid}",
        "text": text,
        "user_id": None,
        "intent": "ask",
        "skills": ["leafleting"],
        "constituency_code": code,
        "posted_at": now,
        "received_at": now,
    }
    value = envelope(topics.TWEET_RECEIVED.name, data)
    run(produce(stack.bootstrap_servers, topics.TWEET_RECEIVED.name, [value], key=b"web-tests"))
    return tid


def figures(gateway: httpx.Client, who: Person, code: str) -> dict[str, Any]:
    r = gateway.get(f"/api/v1/stats/constituencies/{code}", headers=who.auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def figure(page: Page, label: str) -> str:
    return (
        page.locator("dl.figures div", has=page.locator("dt", has_text=re.compile(f"^{label}$")))
        .locator("dd")
        .inner_text()
    )


def test_organiser_sees_the_figures_and_approves_a_pending_request_from_x(  # type: ignore[no-untyped-def]
    new_page, stack: Stack, gateway: httpx.Client, admin: Person
) -> None:
    seat = some_constituency(gateway)
    code = seat["code"]
    organiser = make_organiser(gateway, admin, code)
    marker = uuid.uuid4().hex[:8]
    tweet_asking(stack, code, f'Need leafleting help <img src=x id="injected"> {marker} #LabourExchange')
    pending: list[dict[str, Any]] = []

    def arrived() -> bool:
        r = gateway.get("/api/v1/requests", params={"status": "pending", "constituency": code}, headers=organiser.auth)
        pending[:] = r.json()["items"] if r.status_code == 200 else []
        return bool(pending)

    wait_for("the tweet to become a pending request", arrived)
    [request] = pending
    wait_for("the figures to count it", lambda: figures(gateway, organiser, code)["requests"]["pending"] == 1)

    page = new_page()
    sign_in(page, organiser.email, organiser.password)
    page.get_by_role("link", name="Organise").click()
    page.get_by_role("link", name=seat["name"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Organise {seat['name']}")
    assert figure(page, "Waiting for approval") == "1"
    assert figure(page, "Open") == "0"
    card = page.locator(".card", has=page.locator(f'a[href="/requests/{request["id"]}"]'))
    expect(card).to_contain_text(f'<img src=x id="injected"> {marker}')  # shown as text
    expect(page.locator("#injected")).to_have_count(0)
    card.get_by_role("button", name=re.compile("^Approve")).click()
    expect(page.get_by_text("Request approved")).to_be_visible()
    expect(page.get_by_text("Nothing is waiting for approval.")).to_be_visible()

    page.goto(f"/requests?constituency={code}")
    expect(page.locator(f'a[href="/requests/{request["id"]}"]')).to_be_visible()
    wait_for("the figures to count it open", lambda: figures(gateway, organiser, code)["requests"]["open"] == 1)
    page.goto(f"/organise/{code}")
    assert figure(page, "Open") == "1"
    assert figure(page, "Waiting for approval") == "0"

    # A pending request can also be decided on its own page.
    tweet_asking(stack, code, f"Leafleting please {marker} again #LabourExchange")
    wait_for("the second tweet to become a pending request", arrived)
    [second] = pending
    page.goto(f"/requests/{second['id']}")
    expect(page.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_text("Request rejected.")).to_be_visible()
    rejected = gateway.get(f"/api/v1/requests/{second['id']}", headers=organiser.auth).json()
    assert rejected["status"] == "cancelled" and rejected["outcome"] == "rejected"

    # Someone else's constituency is not theirs to see.
    other = some_constituency(gateway)["code"]
    if other != code:
        answer = page.goto(f"/organise/{other}")
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("heading", name="Not for you")).to_be_visible()


def test_national_figures_show_a_new_request_and_sort_without_javascript(  # type: ignore[no-untyped-def]
    new_page, gateway: httpx.Client, admin: Person
) -> None:
    seat = some_constituency(gateway)
    asker = register_and_sign_in(gateway)
    posted = gateway.post(
        "/api/v1/requests",
        headers=asker.auth,
        json={
            "title": "Leaflets for the high street",
            "description": "An hour on Saturday.",
            "constituency_code": seat["code"],
            "remote_ok": False,
            "skills": [{"slug": "leafleting", "min_level": 1, "people": 1}],
            "urgency": "normal",
        },
    )
    assert posted.status_code == 201, posted.text

    def counted() -> bool:
        body = gateway.get("/api/v1/stats/national", headers=admin.auth).json()
        return any(
            c["constituency_code"] == seat["code"] and c["requests"]["open"] >= 1 for c in body["constituencies"]
        )

    wait_for("the national figures to count the request", counted)
    page = new_page()
    sign_in(page, admin.email, admin.password)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.get_by_role("link", name="National").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("National figures")
    row = page.locator("tbody tr", has=page.get_by_role("link", name=seat["name"], exact=True))
    expect(row).to_be_visible()
    assert int(row.locator("td").first.inner_text()) >= 1
    expect(page.locator("svg.bars rect").first).to_be_visible()
    expect(page.locator("svg.bars title").first).to_contain_text("Requests by region")

    open_header = page.locator("table.sortable th", has_text="Open")
    expect(open_header).to_have_attribute("aria-sort", "descending")  # the default order
    page.locator("table.sortable th", has_text="Constituency").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/national\?sort=name&dir=asc"))
    expect(page.locator("table.sortable th", has_text="Constituency")).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("table.sortable th", has_text="Open")).not_to_have_attribute("aria-sort", re.compile("."))
    names = page.locator("table.sortable tbody th").all_inner_texts()
    assert names == sorted(names, key=str.casefold)
    page.locator("table.sortable th", has_text="Constituency").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=name&dir=desc"))
    names = page.locator("table.sortable tbody th").all_inner_texts()
    assert names == sorted(names, key=str.casefold, reverse=True)
    assert violations == []

    # Not for supporters.
    other = new_page()
    sign_in(other, asker.email, asker.password)
    answer = other.goto("/national")
    assert answer is not None and answer.status == 403


def test_admin_grants_and_revokes_an_organiser_role_through_the_page(  # type: ignore[no-untyped-def]
    new_page, gateway: httpx.Client, admin: Person
) -> None:
    someone = register_and_sign_in(gateway, name='<b id="bold">Bold</b> Organiser')
    page = new_page()
    sign_in(page, admin.email, admin.password)
    page.get_by_role("link", name="Admin").click()
    page.get_by_label("Email address, or part of it").fill(someone.email)
    page.get_by_role("button", name="Find").click()
    card = page.locator(".card", has_text=someone.email)
    expect(card.get_by_role("heading")).to_have_text('<b id="bold">Bold</b> Organiser')
    expect(page.locator("#bold")).to_have_count(0)

    card.get_by_role("button", name=re.compile("^Grant")).click()  # organiser, but no constituency
    card = page.locator(".card", has_text=someone.email)
    field = card.locator(".field", has=page.locator(f"#f-constituency-{someone.id}"))
    expect(field.locator(".error")).to_contain_text("Choose a constituency")

    card.get_by_label("Constituency (for organisers)").fill("Manchester Withington")
    card.get_by_role("button", name=re.compile("^Grant")).click()
    expect(page.get_by_text("Role granted.")).to_be_visible()
    card = page.locator(".card", has_text=someone.email)
    expect(card.locator(".role-list")).to_contain_text("Organiser of Manchester Withington")
    found = gateway.get("/api/v1/admin/users", params={"email": someone.email}, headers=admin.auth).json()["items"]
    assert found[0]["organiser_of"] == [WITHINGTON]

    card.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.get_by_text("Role revoked.")).to_be_visible()
    found = gateway.get("/api/v1/admin/users", params={"email": someone.email}, headers=admin.auth).json()["items"]
    assert found[0]["organiser_of"] == []


def test_admin_x_settings_show_errors_next_to_fields_then_save(  # type: ignore[no-untyped-def]
    new_page, gateway: httpx.Client, admin: Person
) -> None:
    before = gateway.get("/api/v1/admin/x", headers=admin.auth).json()["settings"]
    page = new_page()
    sign_in(page, admin.email, admin.password)
    try:
        page.goto("/admin")
        expect(page.locator("#x-status")).to_contain_text("Tweets read this month")
        page.get_by_label("Hashtags to watch").fill("#LabourExchange #WebTests")
        page.get_by_label("Seconds between polls").fill("5")
        page.get_by_label("Tweets to read a month").fill("lots")
        page.get_by_role("button", name="Save X settings").click()
        read_field = page.locator(".field", has=page.locator("#f-monthly-read-budget"))
        expect(read_field.locator(".error")).to_contain_text("whole number")
        page.get_by_label("Tweets to read a month").fill("9000")
        page.get_by_role("button", name="Save X settings").click()
        poll_field = page.locator(".field", has=page.locator("#f-poll-interval-s"))
        expect(poll_field.locator(".error")).to_contain_text("15 to 3600")
        expect(page.locator("#f-poll-interval-s")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Hashtags to watch")).to_have_value("#LabourExchange #WebTests")  # kept
        page.get_by_label("Seconds between polls").fill("90")
        page.get_by_role("button", name="Save X settings").click()
        expect(page.get_by_text("X settings saved.")).to_be_visible()
        expect(page.get_by_label("Seconds between polls")).to_have_value("90")
        saved = gateway.get("/api/v1/admin/x", headers=admin.auth).json()["settings"]
        assert saved["hashtags"] == ["LabourExchange", "WebTests"] and saved["poll_interval_s"] == 90
        assert saved["monthly_read_budget"] == 9000
    finally:
        body = {k: before[k] for k in ("hashtags", "poll_interval_s", "monthly_read_budget", "monthly_post_budget",
                                       "posting_enabled")}  # fmt: skip
        assert gateway.put("/api/v1/admin/x", headers=admin.auth, json=body).status_code == 200


def test_csv_import_through_the_page_shows_results_and_the_invite_codes_once(  # type: ignore[no-untyped-def]
    new_page, admin: Person, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    csv = tmp_path / "supporters.csv"
    csv.write_text(
        "email,display_name,constituency_code,skills\n"
        f"imp-a-{tag}@example.org,Ada Import,E14001354,leafleting:3\n"
        f"imp-b-{tag}@example.org,Ben Import,Manchester Withington,canvassing:2;leafleting:1\n"
        f"not-an-email-{tag},Cat Import,E14001354,leafleting:3\n",
        encoding="utf-8",
    )
    page = new_page()
    sign_in(page, admin.email, admin.password)
    page.goto("/admin")
    page.get_by_role("button", name="Import").click()  # no file chosen
    file_field = page.locator(".field", has=page.locator("#f-file"))
    expect(file_field.locator(".error")).to_contain_text("Choose a CSV file")
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import results")
    expect(page.get_by_role("alert")).to_contain_text("cannot be shown again")
    invites = page.locator("#invites tbody tr")
    expect(invites).to_have_count(2)
    expect(invites.first).to_contain_text(f"imp-a-{tag}@example.org")
    assert len(invites.first.locator("code").inner_text()) >= 16
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first.locator("td").first).to_have_text("4")
    expect(page.locator("dl.figures")).to_contain_text("Imported or changed")
    assert page.locator("dl.figures dd").first.inner_text() == "2"


@pytest.mark.parametrize("path", ["/organise", "/national", "/admin"])
def test_organiser_and_admin_pages_fit_a_360px_screen(  # type: ignore[no-untyped-def]
    new_page, gateway: httpx.Client, admin: Person, path: str
) -> None:
    page = new_page(width=360, height=740)
    if path == "/organise":
        organiser = make_organiser(gateway, admin, WITHINGTON)
        sign_in(page, organiser.email, organiser.password)
        page.goto(f"/organise/{WITHINGTON}")
    else:
        sign_in(page, admin.email, admin.password)
        page.goto(path if path != "/admin" else f"/admin?email={admin.email}")
    expect(page.locator("main h1")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
