"""The issue's story in one flow, in a real headless Chromium through the gateway of the whole stack, with one
browser profile per person: someone asks for a leaflet designer in Manchester Rusholme, a new supporter
finds the request "for you" and offers, the owner sees her among the ranked matches and accepts her offer,
an organiser approves a request that arrived as a tweet, and the national figures count what happened.
Then the supporter deletes her account and disappears from the owner's pages (erasure across the services)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from lx_devstack.testing import Person, make_organiser
from lx_devstack.testkit import poll_until

from .conftest import Supporter, new_supporter_details
from .test_pages_e2e import WITHINGTON, sign_in, sign_up

pytestmark = pytest.mark.e2e

RUSHOLME = "E14001353"  # no other test works there, so its matches and figures are this story's own
TWEET = "Need someone to design leaflets in Withington this weekend #LabourExchange"
EVENTS_S = 60  # the longest the matcher, the statistics or the X poll (every 15 s in the test stack) may take


def until_shown(
    page: Page, path: str, find: Callable[[Page], Locator], *, what: str, timeout_s: float = EVENTS_S
) -> Locator:
    """Open `path` again and again until `find` shows something: pages show what services learn from events."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(path)
        found = find(page)
        try:
            expect(found).to_be_visible(timeout=2_000)
            return found
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} did not show {what} within {timeout_s:.0f} s") from None


def until_gone(page: Page, path: str, text: str, *, what: str, timeout_s: float = EVENTS_S) -> None:
    """Open `path` again and again until `text` is nowhere on its main part."""

    def gone() -> bool:
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        return text not in page.locator("main").inner_text()

    poll_until(gone, timeout_s=timeout_s, what=f"{path} to stop showing {what}", interval_s=1.0)


def next_saturday() -> date:
    today = date.today()
    return today + timedelta(days=(5 - today.weekday()) % 7 or 7)


def ask_for_a_designer(page: Page, title: str) -> str:
    """The owner posts a graphic-design request in Manchester Rusholme for next Saturday morning."""
    saturday = next_saturday().isoformat()
    page.goto("/requests/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("What needs doing").fill("An A5 leaflet for Saturday's canvass: we have the words and photos.")
    page.get_by_label("Search constituencies").fill("rusholme")
    expect(page.locator("#f-constituency-code")).to_have_value(RUSHOLME)
    page.locator("#f-skills-0-slug").select_option(label="Graphic design")
    page.locator("#f-skills-0-min-level").select_option("3")
    page.locator("#f-skills-0-people").fill("1")
    page.get_by_label("Starts").fill(f"{saturday}T10:00")
    page.get_by_label("Ends").fill(f"{saturday}T13:00")
    page.get_by_role("button", name="Post request").click()
    expect(page.get_by_text("Your request is posted")).to_be_visible()
    match = re.search(r"/requests/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def become_a_designer_in_rusholme(page: Page, who: Supporter) -> None:
    """A new supporter signs up with her consents (organisers may find her) and fills in her profile."""
    sign_up(page, who, discoverable=True)
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    page.get_by_label("Search constituencies").fill("rusholme")
    expect(page.locator("#f-constituency-code")).to_have_value(RUSHOLME)
    page.get_by_label("How far you can travel (km)").fill("5")
    page.get_by_label("Graphic design").select_option("4")
    page.locator("#f-availability-0-day").select_option("sat")
    page.locator("#f-availability-0-start").fill("09:00")
    page.locator("#f-availability-0-end").fill("17:00")
    page.get_by_role("button", name="Save profile", exact=True).last.click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()


def national_row(page: Page) -> Locator:
    return page.locator("table.sortable tbody tr", has=page.get_by_role("link", name="Manchester Rusholme", exact=True))


def filled_in_rusholme(page: Page) -> int:
    """The Filled column (after Open) of Manchester Rusholme's row on the national page; 0 when not listed."""
    page.goto("/national?sort=name&dir=asc")
    expect(page.get_by_role("heading", level=1)).to_have_text("National figures")
    row = national_row(page)
    return int(row.locator("td").nth(1).inner_text()) if row.count() else 0


def test_a_request_for_a_designer_is_found_offered_accepted_and_counted(  # type: ignore[no-untyped-def]
    new_page, fake_x: str, gateway: httpx.Client, admin: Person
) -> None:
    tag = uuid.uuid4().hex[:6]
    # The tweet first: the twitter gateway finds it at its next poll while the rest of the story goes on.
    # Other tests tweet the same words; the tag tells this one apart on the organiser's page.
    tweet = f"{TWEET} ({tag})"
    tweeted = httpx.post(f"{fake_x}/_fake/tweets", json={"username": f"withy_{tag}", "text": tweet}, timeout=10)
    assert tweeted.status_code == 201, tweeted.text
    tweeted_at = time.monotonic()

    admin_page = new_page()
    sign_in(admin_page, admin.email, admin.password)
    filled_before = filled_in_rusholme(admin_page)

    owner_page = new_page()
    sign_up(owner_page, new_supporter_details(f"Olu Adeyemi {tag}"))
    title = f"Design a leaflet for the Rusholme street stall {tag}"
    request_id = ask_for_a_designer(owner_page, title)
    request_path = f"/requests/{request_id}"

    supporter_page = new_page(width=360, height=740)
    priya = new_supporter_details(f"Priya Shah {tag}")
    become_a_designer_in_rusholme(supporter_page, priya)

    # "For you": the matcher ranks the request for her once it has heard of both.
    supporter_page.get_by_role("link", name="For you").first.click()
    expect(supporter_page.get_by_role("heading", level=1)).to_have_text("Requests for you")
    card = until_shown(
        supporter_page,
        "/me/opportunities",
        lambda p: p.locator(".card", has=p.locator(f'a[href="{request_path}"]')),
        what="the request among her opportunities",
    )
    expect(card).to_contain_text("Graphic design level 4")

    # The owner sees her among the people who could help, with the reasons.
    match = until_shown(
        owner_page,
        request_path,
        lambda p: p.locator(".card", has=p.get_by_role("heading", name=priya.name)),
        what="the new supporter among the matches",
    )
    expect(match.locator(".reasons")).to_contain_text("Graphic design level 4")
    expect(match).to_contain_text("Match ")

    # She opens it and offers.
    card.get_by_role("link", name=title).click()
    expect(supporter_page.get_by_role("heading", level=1)).to_have_text(title)
    supporter_page.get_by_label("Message to the person who asked").fill("I use InDesign and can do it on Saturday.")
    supporter_page.get_by_label("The skill you offer (optional)").select_option("graphic-design")
    supporter_page.get_by_role("button", name="Send offer").click()
    expect(supporter_page.get_by_text("Your offer is sent")).to_be_visible()

    # The owner sees the offer and accepts it.
    owner_page.goto(request_path)
    offers = owner_page.locator("h2:text-is('Offers') + ul.cards")
    offer = offers.locator(".card", has=owner_page.get_by_role("heading", name=priya.name))
    expect(offer).to_contain_text("I use InDesign and can do it on Saturday.")
    expect(offer).to_contain_text("Graphic design")
    offer.get_by_role("button", name="Accept").click()
    expect(owner_page.get_by_text("Offer accepted.")).to_be_visible()
    expect(owner_page.locator("dl.facts")).to_contain_text("1 of 1 found")
    expect(owner_page.locator("p.meta .badge").first).to_have_text("filled")

    # She sees it accepted, and it is among her commitments.
    supporter_page.goto("/me/offers")
    mine = supporter_page.locator(".card", has=supporter_page.locator(f'a[href="{request_path}"]'))
    expect(mine).to_contain_text("Your offer: accepted")
    supporter_page.get_by_role("link", name="Commitments").first.click()
    commitment = supporter_page.locator(".card", has=supporter_page.locator(f'a[href="{request_path}"]'))
    expect(commitment).to_contain_text("Manchester Rusholme")

    # An organiser of Manchester Withington approves the request that came from X.
    organiser = make_organiser(gateway, admin, WITHINGTON)
    organiser_page = new_page()
    sign_in(organiser_page, organiser.email, organiser.password)
    organiser_page.get_by_role("link", name="Organise").first.click()
    organiser_page.get_by_role("link", name="Manchester Withington").click()
    expect(organiser_page.get_by_role("heading", level=1)).to_have_text("Organise Manchester Withington")
    pending = until_shown(
        organiser_page,
        f"/organise/{WITHINGTON}",
        lambda p: p.locator(".card", has_text=tag),
        what="the tweet as a request waiting for approval",
    )
    print(f"the tweet was waiting for approval {time.monotonic() - tweeted_at:.0f} s after it was posted")
    pending.get_by_role("button", name=re.compile("^Approve")).click()
    expect(organiser_page.get_by_text("Request approved")).to_be_visible()
    expect(organiser_page.locator(".card", has_text=tag)).to_have_count(0)

    # The national figures count the filled request.
    poll_until(
        lambda: filled_in_rusholme(admin_page) > filled_before,
        timeout_s=EVENTS_S,
        what=f"Manchester Rusholme to show more than {filled_before} filled",
        interval_s=1.0,
    )
    expect(national_row(admin_page)).to_be_visible()

    # Finally she deletes her account: she is signed out, and her name goes from the owner's pages. Her
    # accepted offer is withdrawn as she would withdraw it, so the request opens again and lists matches.
    supporter_page.get_by_role("link", name="Account").first.click()
    supporter_page.get_by_role("link", name="Delete my account").click()
    supporter_page.get_by_label("I understand that my account and my data will be deleted for good").check()
    supporter_page.get_by_role("button", name="Delete my account").click()
    expect(supporter_page.get_by_role("heading", level=1)).to_have_text("Your account is deleted")
    assert not {"lx_at", "lx_rt"} & {c["name"] for c in supporter_page.context.cookies()}
    expect(supporter_page.get_by_role("link", name="Sign in")).to_be_visible()
    supporter_page.goto("/me/commitments")
    expect(supporter_page).to_have_url(re.compile(r"/login\?next="))
    answer = gateway.post("/api/v1/auth/token", json={"email": priya.email, "password": priya.password})
    assert answer.status_code == 401, answer.text

    until_gone(owner_page, request_path, priya.name, what="her name (offers, matches)")
    expect(owner_page.locator("h2:text-is('Offers') + p")).to_have_text("No offers yet.")
    expect(owner_page.locator("dl.facts")).to_contain_text("0 of 1 found")
    expect(owner_page.get_by_role("heading", name="People who could help")).to_be_visible()
    expect(owner_page.locator("main")).not_to_contain_text(priya.name)
