"""Take the screenshots in docs/screenshots/ from a small, believable Manchester campaign.

    python services/web/screenshots.py

Starts a stack of its own (embedded Postgres, the broker, every service, the fake X) in a temporary folder on
free ports, so what the pictures show is this script's campaign and nothing else: supporters with varied skills
across five Manchester constituencies, an organiser of Manchester Withington, requests with offers (one
accepted), and a request from a tweet waiting for approval. It seeds them through the public API as any client
would, waits for the matcher and the statistics to catch up, then photographs each page at 360 px (phone) and
1280 px (desktop), the visible screen only (the whole page for a request and the dashboard), with Debian's
Chromium (`LX_CHROMIUM` to use another).
Not part of `make test`."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
try:
    import httpx

    from lx_devstack.ports import free_port, free_service_port_base
    from lx_devstack.stack import Stack, StackConfig
except ImportError:  # started with the system Python: run again with the project's
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parents[1].resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])  # noqa: S606 - this very script, again
    raise

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("LX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SIZES = {"mobile": (360, 740), "desktop": (1280, 800)}
LONDON = ZoneInfo("Europe/London")
FULL_PAGE = {"request", "organise"}  # the owner's view down to the matches; the dashboard down to its tables
TWEET = "Need someone to design leaflets in Withington this weekend #LabourExchange"


@dataclass
class Person:
    name: str
    email: str
    password: str
    id: str = ""
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def log(message: str) -> None:
    print(message, flush=True)


def wait(what: str, check: Callable[[], bool], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {timeout_s:.0f} s")
        time.sleep(0.5)


def ok(r: httpx.Response, *codes: int) -> Any:
    if r.status_code not in (codes or (200, 201)):
        raise SystemExit(f"{r.request.method} {r.request.url.path} answered {r.status_code}: {r.text}")
    return r.json() if r.content else None


def sign_in(api: httpx.Client, who: Person) -> Person:
    body = ok(api.post("/api/v1/auth/token", json={"email": who.email, "password": who.password}))
    who.token = body["access_token"]
    who.id = ok(api.get("/api/v1/me", headers=who.auth))["id"]
    return who


def register(api: httpx.Client, name: str, handle: str) -> Person:
    who = Person(name, f"{handle}@example.org", f"screenshots only {handle} 2026")
    ok(
        api.post(
            "/api/v1/auth/register",
            json={
                "email": who.email,
                "password": who.password,
                "display_name": name,
                "consents": {"terms": True, "discoverable": True, "contact_by_x": False},
            },
        )
    )
    return sign_in(api, who)


def at(day: date, hhmm: str) -> str:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).isoformat()


def next_weekday(weekday: int) -> date:
    today = date.today()
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


@dataclass
class Campaign:
    admin: Person
    organiser: Person
    owner: Person
    priya: Person
    phone_bank: str
    x_tokens: dict[str, str]


def seed(stack: Stack, api: httpx.Client) -> Campaign:
    seats = {c["name"]: c["code"] for c in ok(api.get("/api/v1/constituencies"))}
    code = {
        short: seats[name]
        for short, name in (
            ("withington", "Manchester Withington"),
            ("central", "Manchester Central"),
            ("gorton", "Gorton and Denton"),
            ("rusholme", "Manchester Rusholme"),
            ("blackley", "Blackley and Middleton South"),
        )
    }
    admin = sign_in(api, Person("Admin", stack.admin_email, stack.admin_password))

    def skills_known() -> bool:
        slugs = {s["slug"] for s in ok(api.get("/api/v1/skills"))}
        return {"graphic-design", "phone-banking", "driving", "leafleting"} <= slugs

    wait("the skills list", skills_known)

    supporters = [
        # name, handle, constituency, km, remote, windows, skills
        ("Priya Shah", "priya", "withington", 8, True, [("sat", "10:00", "16:00"), ("wed", "18:30", "21:00")],
         [("graphic-design", 4), ("social-media", 3)]),
        ("Owen Price", "owen", "withington", 5, False, [("sat", "09:00", "13:00"), ("sun", "10:00", "14:00")],
         [("canvassing", 4), ("leafleting", 3)]),
        ("Tom Hughes", "tom", "central", 10, True, [("thu", "18:00", "21:00")],
         [("phone-banking", 4), ("canvassing", 3)]),
        ("Grace Okafor", "grace", "blackley", 12, True, [("thu", "17:30", "21:00"), ("sat", "10:00", "12:00")],
         [("phone-banking", 3), ("data-entry", 4)]),
        ("Mo Rahman", "mo", "rusholme", 6, True, [("thu", "18:00", "20:30")],
         [("phone-banking", 2), ("translation", 4)]),
        ("Aisha Khan", "aisha", "rusholme", 20, False, [("thu", "07:00", "22:00")],
         [("driving", 4), ("polling-day", 3)]),
        ("Dan Walsh", "dan", "gorton", 15, False, [("thu", "06:00", "22:00"), ("sat", "10:00", "15:00")],
         [("driving", 3), ("leafleting", 4)]),
        ("Beth Lowe", "beth", "central", 4, True, [("mon", "18:00", "21:00")],
         [("graphic-design", 3), ("copywriting", 4), ("phone-banking", 3)]),
    ]  # fmt: skip
    people: dict[str, Person] = {}
    for name, handle, seat, km, remote, windows, skills in supporters:
        who = register(api, name, handle)
        ok(
            api.put(
                "/api/v1/me/profile",
                headers=who.auth,
                json={
                    "constituency_code": code[seat],
                    "travel_radius_km": km,
                    "remote_ok": remote,
                    "max_hours_per_week": 6,
                    "availability": [{"day": d, "start": s, "end": e} for d, s, e in windows],
                    "skills": [{"slug": slug, "level": level, "note": ""} for slug, level in skills],
                },
            )
        )
        people[handle] = who
    log(f"{len(people)} supporters")

    owner = register(api, "Jo Bennett", "jo")
    organiser = register(api, "Ruth Green", "ruth")
    ok(
        api.post(
            f"/api/v1/admin/users/{organiser.id}/roles",
            headers=admin.auth,
            json={"role": "organiser", "constituency_code": code["withington"]},
        )
    )
    sign_in(api, organiser)  # again, so the token says organiser

    saturday, thursday = next_weekday(5), next_weekday(3)
    polling_day = thursday + timedelta(days=14)

    def ask(title: str, description: str, seat: str, skills: list[tuple[str, int, int]], **extra: Any) -> str:
        body = {
            "title": title,
            "description": description,
            "constituency_code": code[seat],
            "remote_ok": False,
            "skills": [{"slug": s, "min_level": lv, "people": n} for s, lv, n in skills],
            "urgency": "normal",
            **extra,
        }
        answers: list[httpx.Response] = []

        def posted() -> bool:  # the requests service learns the skills from the skills service's events
            answers[:] = [api.post("/api/v1/requests", headers=owner.auth, json=body)]
            r = answers[0]
            return not (r.status_code == 503 or (r.status_code == 422 and "Unknown skill" in r.text))

        wait("the requests service to know the skills", posted)
        return str(ok(answers[0])["id"])

    leaflet = ask(
        "Design a leaflet for the Withington canvass",
        "An A5 leaflet, both sides, for Saturday's canvass in Old Moat. We have the words and photos.",
        "withington",
        [("graphic-design", 3, 1)],
        starts_at=at(saturday, "10:00"),
        ends_at=at(saturday, "13:00"),
    )
    phone_bank = ask(
        "Phone bank volunteers for Thursday",
        "Calling supporters in Manchester Central about the by-election. Scripts and training on the night; "
        "bring a charged phone.",
        "central",
        [("phone-banking", 1, 3)],
        starts_at=at(thursday, "18:00"),
        ends_at=at(thursday, "21:00"),
        remote_ok=True,
        urgency="high",
    )
    ask(
        "Drivers for polling day",
        "Taking voters who need a lift to their polling station, in two-hour shifts.",
        "gorton",
        [("driving", 2, 3)],
        starts_at=at(polling_day, "07:00"),
        ends_at=at(polling_day, "22:00"),
    )
    ask(
        "Canvassers for Saturday morning in Didsbury",
        "Door-knocking in Didsbury West with experienced canvassers. Meet at the library.",
        "withington",
        [("canvassing", 1, 4), ("leafleting", 1, 2)],
        starts_at=at(saturday, "10:00"),
        ends_at=at(saturday, "13:00"),
    )
    ask(
        "Posters for the Rusholme street stall",
        "Two A3 posters for the stall on Wilmslow Road.",
        "rusholme",
        [("graphic-design", 2, 1)],
        remote_ok=True,
    )

    def offer(rid: str, who: Person, message: str, skill: str) -> str:
        body = {"message": message, "skill": skill}
        return str(ok(api.post(f"/api/v1/requests/{rid}/offers", headers=who.auth, json=body))["id"])

    design_offer = offer(leaflet, people["priya"], "I use InDesign and can have a draft by Friday.", "graphic-design")
    ok(api.post(f"/api/v1/requests/{leaflet}/offers/{design_offer}/accept", headers=owner.auth))
    calls = offer(phone_bank, people["grace"], "I have done three phone banks this year. Count me in.", "phone-banking")
    ok(api.post(f"/api/v1/requests/{phone_bank}/offers/{calls}/accept", headers=owner.auth))
    offer(phone_bank, people["tom"], "I can come after work, from about 18:30.", "phone-banking")
    log("requests and offers")

    fake_x = stack.fake_x_url
    assert fake_x is not None
    ok(httpx.post(f"{fake_x}/_fake/tweets", json={"username": "didsbury_dee", "text": TWEET}, timeout=10))
    x_tokens = signed_in_with_x(api, fake_x)

    def pending_arrived() -> bool:
        r = api.get(
            "/api/v1/requests", params={"status": "pending", "constituency": code["withington"]}, headers=organiser.auth
        )
        return r.status_code == 200 and bool(r.json()["items"])

    wait("the tweet to arrive as a request waiting for approval", pending_arrived)

    def matched() -> bool:
        r = api.get(f"/api/v1/requests/{phone_bank}/matches", headers=owner.auth)
        mine = api.get("/api/v1/me/opportunities", headers=people["priya"].auth)
        return r.status_code == 200 and len(r.json()["items"]) >= 2 and bool(mine.json()["items"])

    wait("the matcher", matched)

    def counted() -> bool:
        r = api.get(f"/api/v1/stats/constituencies/{code['withington']}", headers=organiser.auth)
        national = api.get("/api/v1/stats/national", headers=admin.auth).json()
        seen = {c["constituency_code"] for c in national.get("constituencies", [])}
        return (
            r.status_code == 200
            and r.json()["requests"]["pending"] == 1
            and {code[k] for k in ("withington", "central", "gorton", "rusholme")} <= seen
        )

    wait("the figures", counted)
    # The organiser looks for supporters in their seat and at a request's matches: their access log shows both.
    ok(api.get("/api/v1/supporters", params={"constituency": code["withington"]}, headers=organiser.auth))
    wait(
        "the organiser to see the leaflet's matches",
        lambda: api.get(f"/api/v1/requests/{leaflet}/matches", headers=organiser.auth).status_code == 200,
    )
    log("matches and figures are in")
    return Campaign(admin, organiser, owner, people["priya"], phone_bank, x_tokens)


def signed_in_with_x(api: httpx.Client, fake_x: str) -> dict[str, str]:
    """Someone signs in with X for the first time (at the fake X): a new account that has not accepted the terms."""
    start = api.get("/api/v1/auth/x/authorize", params={"mode": "login"})
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    back = httpx.post(
        f"{fake_x}/i/oauth2/authorize", data={**params, "username": "sam_m20", "decision": "allow"}, timeout=10
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    body = ok(api.get("/api/v1/auth/x/callback", params=query))
    return {"lx_at": body["access_token"], "lx_rt": body["refresh_token"]}


def photograph(stack: Stack, campaign: Campaign, csv: Path) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    site = stack.gateway_url
    OUT.mkdir(parents=True, exist_ok=True)
    withington = "E14001354"
    shots: list[tuple[Person | dict[str, str] | None, str, str]] = [
        (campaign.priya, "/", "home"),
        (campaign.priya, "/requests?status=open", "requests"),
        (campaign.owner, f"/requests/{campaign.phone_bank}", "request"),
        (campaign.priya, "/me", "profile"),
        (campaign.priya, "/me/opportunities", "opportunities"),
        (campaign.priya, "/me/commitments", "commitments"),
        (campaign.priya, "/me/account", "account"),
        (campaign.organiser, f"/organise/{withington}", "organise"),
        (campaign.organiser, "/me/account/access-log", "access-log"),
        (campaign.admin, "/national", "national"),
        (campaign.admin, f"/admin?email={campaign.organiser.email}", "admin"),
        (campaign.x_tokens, "/me/terms", "terms"),
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label, (width, height) in SIZES.items():
            pages: dict[int, Page] = {}
            for who, path, name in shots:
                if id(who) not in pages:
                    context = browser.new_context(base_url=site, viewport={"width": width, "height": height})
                    context.set_default_timeout(15_000)
                    page = context.new_page()
                    if isinstance(who, Person):
                        page.goto("/login")
                        page.get_by_label("Email address").fill(who.email)
                        page.get_by_label("Password").fill(who.password)
                        page.get_by_role("button", name="Sign in", exact=True).click()
                        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
                    elif isinstance(who, dict):
                        context.add_cookies(
                            [
                                {
                                    "name": k,
                                    "value": v,
                                    "url": site,
                                    "httpOnly": True,
                                    "secure": True,
                                    "sameSite": "Lax",
                                }
                                for k, v in who.items()
                            ]
                        )
                    pages[id(who)] = page
                page = pages[id(who)]
                page.goto(path)
                expect(page.locator("main h1")).to_be_visible()
                # The visible screen only, but the whole of the pages whose point is further down.
                page.screenshot(path=str(OUT / f"{name}-{label}.png"), full_page=name in FULL_PAGE)
                log(f"{name}-{label}.png")
            page = pages[id(campaign.admin)]
            page.goto("/admin")
            page.get_by_label("CSV file").set_input_files(str(csv))
            page.get_by_role("button", name="Import").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Import results")
            page.screenshot(path=str(OUT / f"import-{label}.png"))
            log(f"import-{label}.png")
            for page in pages.values():
                page.context.close()
        browser.close()


def main() -> None:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium (or set LX_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="lx-screenshots-") as tmp:
        config = StackConfig(
            Path(tmp) / "stack",
            gateway_port=free_port(),
            service_port_base=free_service_port_base(),
            broker_port=free_port(),
            ephemeral=True,
            fake_x=True,
        )
        stack = Stack(config)
        log(f"starting a stack of its own in {tmp}")
        stack.start()
        try:
            with httpx.Client(base_url=stack.gateway_url, timeout=15.0) as api:
                campaign = seed(stack, api)
            csv = Path(tmp) / "supporters.csv"
            csv.write_text(
                "email,display_name,constituency_code,skills\n"
                "nadia@example.org,Nadia Hussain,Manchester Rusholme,phone-banking:3;translation:4\n"
                "lee@example.org,Lee Carter,E14001354,leafleting:2;driving:3\n"
                "not-an-email,Kim Doyle,Gorton and Denton,canvassing:2\n",
                encoding="utf-8",
            )
            photograph(stack, campaign, csv)
        finally:
            stack.stop()
    log(f"screenshots written to {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
