"""Who may call what: every endpoint in the API contract (docs/api.md) for six kinds of
caller, through the gateway only, as a client would. The services check authorisation themselves and
their own tests call them directly too (e.g. services/requests/tests/test_authorisation.py).

Callers: anonymous; a supporter (someone else); the owner where ownership applies (the request's
author; for an offer's withdrawal, the offerer); an organiser of the request's constituency
(Manchester Withington); an organiser of another one (Manchester Central); an admin.

Each expectation comes from the "who" column of api.md. Where api.md is silent the service's present
answer is expected when it is sensible, and the row says so. Refusals are problem+json. Rows that change
state build what they act on afresh for each caller, so cells never depend on one another."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, make_organiser, register_and_sign_in, sign_in_admin
from lx_devstack.testkit import wait_until

from .conftest import as_client, next_address

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
WITHINGTON = "E14001354"  # Manchester Withington: where the requests are
CENTRAL = "E14001352"  # Manchester Central
ROLES = ("anonymous", "supporter", "owner", "organiser", "other_organiser", "admin")
OK, REDIRECT = "2xx", "3xx"


@dataclass
class World:
    """Everyone the rules tell apart, and what they act on, made once for the module."""

    stack: Stack
    http: httpx.Client
    owner: Person
    supporter: Person
    organiser: Person
    other_organiser: Person
    admin: Person
    helper: Person  # a discoverable third person who makes offers and gets invited
    request_id: str = ""
    offered_request_id: str = ""
    helper_offer_id: str = ""
    supporter_offer_id: str = ""
    cached: dict[str, Any] = field(default_factory=dict)

    def who(self, role: str) -> Person | None:
        return None if role == "anonymous" else getattr(self, role)

    # -- making things -------------------------------------------------------------------------
    def slugs(self) -> list[str]:
        if "slugs" not in self.cached:
            self.cached["slugs"] = [s["slug"] for s in self.http.get("/api/v1/skills").json()[:2]]
        slugs: list[str] = self.cached["slugs"]
        return slugs

    def new_request(self) -> str:
        body = {
            "title": "Leaflets for the Withington canvass",
            "description": "Two hours on Saturday morning.",
            "constituency_code": WITHINGTON,
            "remote_ok": False,
            "skills": [{"slug": self.slugs()[0], "min_level": 1, "people": 3}],
            "urgency": "normal",
        }

        # Requests learns the taxonomy and the people from events; early on it may not know them yet.
        async def made() -> bool:
            r = self.http.post("/api/v1/requests", headers=self.owner.auth, json=body)
            assert r.status_code in (201, 422, 503), r.text
            self.cached["made"] = r.json().get("id") if r.status_code == 201 else None
            return r.status_code == 201

        asyncio.run(wait_until(made, timeout_s=60, what="requests to take a new request"))
        made_id: str = self.cached["made"]
        return made_id

    def new_offer(self, request_id: str, by: Person) -> str:
        r = self.http.post(f"/api/v1/requests/{request_id}/offers", headers=by.auth, json={"message": "I can help"})
        assert r.status_code == 201, r.text
        offer_id: str = r.json()["id"]
        return offer_id

    def new_pending(self) -> str:
        """A request from X by an author with no linked account, recorded as the twitter gateway does,
        through the requests service's own use case (polling the fake X would take up to a poll interval)."""
        from lx_platform.db import create_pool
        from requests_svc import service
        from requests_svc.domain import RequestInput, SkillInput

        async def record() -> str:
            pool = await create_pool(self.stack.dsns["requests"], schema="requests", application_name="authz-tests")
            try:
                req = await service.open_request(
                    db=pool,
                    created_by=None,
                    given=RequestInput(
                        title="Seen on X: leafleters wanted",
                        description="Anyone around Withington?",
                        constituency_code=WITHINGTON,
                        remote_ok=False,
                        skills=[SkillInput(self.slugs()[0], 1, 2)],
                        urgency="high",
                    ),
                    source="x",
                    status="pending",
                    source_ref=str(uuid.uuid4().int)[:19],
                )
                return str(req.id)
            finally:
                await pool.close()

        return asyncio.run(record())

    def throwaway(self, role: str) -> Person:
        """A person of the given kind made just for one cell (for erasure, which cannot be undone)."""
        if role == "organiser":
            return make_organiser(self.http, self.admin, WITHINGTON)
        if role == "other_organiser":
            return make_organiser(self.http, self.admin, CENTRAL)
        person = register_and_sign_in(self.http, name="Throwaway")
        if role == "admin":
            grant(self.http, self.admin, person, {"role": "admin"})
            person.access_token = sign_in(self.http, person)["access_token"]
        return person


def grant(http: httpx.Client, admin: Person, person: Person, body: dict[str, str]) -> None:
    r = http.post(f"/api/v1/admin/users/{person.id}/roles", headers=admin.auth, json=body)
    assert r.status_code == 200, r.text


def sign_in(http: httpx.Client, person: Person) -> dict[str, Any]:
    r = http.post("/api/v1/auth/token", json={"email": person.email, "password": person.password})
    assert r.status_code == 200, r.text
    pair: dict[str, Any] = r.json()
    return pair


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    # Calls come from an address of this module's own, so its anonymous cells spend no one else's limit.
    with httpx.Client(base_url=stack.gateway_url, timeout=20, headers=as_client(stack, next_address())) as http:
        root = sign_in_admin(stack, http)
        admin = register_and_sign_in(http, name="Ada Admin")
        grant(http, root, admin, {"role": "admin"})
        admin.access_token = sign_in(http, admin)["access_token"]
        w = World(
            stack=stack,
            http=http,
            owner=register_and_sign_in(http, name="Olive Owner"),
            supporter=register_and_sign_in(http, name="Sam Supporter"),
            organiser=make_organiser(http, admin, WITHINGTON),
            other_organiser=make_organiser(http, admin, CENTRAL),
            admin=admin,
            helper=register_and_sign_in(http, name="Hal Helper", discoverable=True),
        )
        w.request_id = w.new_request()
        w.offered_request_id = w.new_request()
        w.helper_offer_id = w.new_offer(w.offered_request_id, w.helper)
        w.supporter_offer_id = w.new_offer(w.offered_request_id, w.supporter)
        before_x = http.get("/api/v1/admin/x", headers=admin.auth)
        assert before_x.status_code == 200, before_x.text
        w.cached["x_settings"] = {
            k: v
            for k, v in before_x.json()["settings"].items()
            if k in ("hashtags", "poll_interval_s", "monthly_read_budget", "monthly_post_budget", "posting_enabled")
        }
        yield w


Call = Callable[[World, Person | None], httpx.Response]


@dataclass(frozen=True)
class Row:
    endpoint: str
    call: Call
    expected: tuple[int | str, ...]  # in the order of ROLES
    note: str = ""


def _h(who: Person | None) -> dict[str, str]:
    return who.auth if who else {}


def _get(path: str) -> Call:
    return lambda w, who: w.http.get(path.format(w=w), headers=_h(who))


def _fresh_offer_action(action: str) -> Call:
    def call(w: World, who: Person | None) -> httpx.Response:
        rid = w.new_request()
        oid = w.new_offer(rid, w.helper)
        return w.http.post(f"/api/v1/requests/{rid}/offers/{oid}/{action}", headers=_h(who))

    return call


def _withdraw(w: World, who: Person | None) -> httpx.Response:
    # The offer is the supporter's: for this row "owner" means the offerer, i.e. the supporter column.
    rid = w.new_request()
    oid = w.new_offer(rid, w.supporter)
    return w.http.post(f"/api/v1/requests/{rid}/offers/{oid}/withdraw", headers=_h(who))


def _on_fresh_request(method: str, suffix: str, body: dict[str, Any] | None = None) -> Call:
    def call(w: World, who: Person | None) -> httpx.Response:
        rid = w.new_request()
        return w.http.request(method, f"/api/v1/requests/{rid}{suffix}", headers=_h(who), json=body)

    return call


def _on_fresh_pending(action: str) -> Call:
    def call(w: World, who: Person | None) -> httpx.Response:
        return w.http.post(f"/api/v1/requests/{w.new_pending()}/{action}", headers=_h(who))

    return call


def _offer_on_fresh(w: World, who: Person | None) -> httpx.Response:
    rid = w.new_request()
    return w.http.post(f"/api/v1/requests/{rid}/offers", headers=_h(who), json={"message": "Count me in"})


def _invite(w: World, who: Person | None) -> httpx.Response:
    rid = w.new_request()
    return w.http.post(f"/api/v1/requests/{rid}/invitations", headers=_h(who), json={"user_id": w.helper.id})


def _register(w: World, who: Person | None) -> httpx.Response:
    body = {
        "email": f"matrix-{uuid.uuid4().hex[:12]}@example.org",
        "password": "a long enough password",
        "display_name": "Matrix Person",
        "consents": {"terms": True, "discoverable": False, "contact_by_x": False},
    }
    return w.http.post("/api/v1/auth/register", headers=_h(who), json=body)


def _token(w: World, who: Person | None) -> httpx.Response:
    # Anyone may sign in; a bearer token sent along changes nothing.
    someone = w.cached.setdefault("signer", register_and_sign_in(w.http, name="Signer"))
    return w.http.post(
        "/api/v1/auth/token", headers=_h(who), json={"email": someone.email, "password": someone.password}
    )


def _with_fresh_refresh_token(path: str) -> Call:
    # The holder of a refresh token is whoever presents it: a fresh one of a third person works for anyone.
    def call(w: World, who: Person | None) -> httpx.Response:
        someone = w.cached.setdefault("holder", register_and_sign_in(w.http, name="Holder"))
        refresh_token = sign_in(w.http, someone)["refresh_token"]
        return w.http.post(path, headers=_h(who), json={"refresh_token": refresh_token})

    return call


def _patch_me(w: World, who: Person | None) -> httpx.Response:
    return w.http.patch("/api/v1/me", headers=_h(who), json={"display_name": who.display_name if who else "Nobody"})


def _delete_me(w: World, who: Person | None) -> httpx.Response:
    # Erasure cannot be undone: each signed-in cell erases a throwaway person of the same kind.
    if who is None:
        return w.http.delete("/api/v1/me")
    role = next(r for r in ROLES if w.who(r) is who)
    return w.http.delete("/api/v1/me", headers=throwaway_auth(w, role))


def throwaway_auth(w: World, role: str) -> dict[str, str]:
    return w.throwaway("supporter" if role == "owner" else role).auth


def _roles(method: str) -> Call:
    def call(w: World, who: Person | None) -> httpx.Response:
        target = w.cached.setdefault("target", register_and_sign_in(w.http, name="Role Target"))
        return w.http.request(
            method,
            f"/api/v1/admin/users/{target.id}/roles",
            headers=_h(who),
            json={"role": "organiser", "constituency_code": CENTRAL},
        )

    return call


def _new_skill(w: World, who: Person | None) -> httpx.Response:
    slug = f"matrix-{uuid.uuid4().hex[:8]}"
    body = {"slug": slug, "name": f"Matrix skill {slug}", "category": "practical", "description": "For tests."}
    return w.http.post("/api/v1/skills", headers=_h(who), json=body)


def _put_profile(w: World, who: Person | None) -> httpx.Response:
    profile = {
        "constituency_code": WITHINGTON,
        "travel_radius_km": 5,
        "remote_ok": True,
        "max_hours_per_week": 4,
        "availability": [{"day": "sat", "start": "10:00", "end": "13:00"}],
        "skills": [{"slug": w.slugs()[0], "level": 3, "note": ""}],
    }
    return w.http.put("/api/v1/me/profile", headers=_h(who), json=profile)


def _put_admin_x(w: World, who: Person | None) -> httpx.Response:
    return w.http.put("/api/v1/admin/x", headers=_h(who), json=w.cached["x_settings"])


def _matches(w: World, who: Person | None) -> httpx.Response:
    # The matcher learns of the request from its event; wait until it answers the owner at all.
    async def known() -> bool:
        return w.http.get(f"/api/v1/requests/{w.request_id}/matches", headers=w.owner.auth).status_code == 200

    if "matcher_knows" not in w.cached:
        asyncio.run(wait_until(known, timeout_s=60, what="the matcher to learn of the request"))
        w.cached["matcher_knows"] = True
    return w.http.get(f"/api/v1/requests/{w.request_id}/matches", headers=_h(who))


SIGN_IN = 401  # anonymous, where a sign-in is needed
ROWS = [
    # -- identity --------------------------------------------------------------------------------
    Row("POST /api/v1/auth/register", _register, (OK, OK, OK, OK, OK, OK)),
    Row("POST /api/v1/auth/token", _token, (OK, OK, OK, OK, OK, OK)),
    Row("POST /api/v1/auth/refresh", _with_fresh_refresh_token("/api/v1/auth/refresh"), (OK,) * 6),
    Row("POST /api/v1/auth/logout", _with_fresh_refresh_token("/api/v1/auth/logout"), (OK,) * 6),
    Row(
        "POST /api/v1/auth/refresh (a made-up token)",
        lambda w, who: w.http.post("/api/v1/auth/refresh", headers=_h(who), json={"refresh_token": "x" * 43}),
        (401,) * 6,
        "holding the token is what counts, never the bearer",
    ),
    Row("GET /api/v1/auth/jwks.json", _get("/api/v1/auth/jwks.json"), (OK,) * 6),
    Row("GET /api/v1/me", _get("/api/v1/me"), (SIGN_IN, OK, OK, OK, OK, OK)),
    Row("PATCH /api/v1/me", _patch_me, (SIGN_IN, OK, OK, OK, OK, OK)),
    Row("DELETE /api/v1/me", _delete_me, (SIGN_IN, OK, OK, OK, OK, OK)),
    Row("GET /api/v1/me/export", _get("/api/v1/me/export"), (SIGN_IN, OK, OK, OK, OK, OK)),
    Row("GET /api/v1/admin/users", _get("/api/v1/admin/users?email=example.org"), (SIGN_IN, 403, 403, 403, 403, OK)),
    Row("POST /api/v1/admin/users/{id}/roles", _roles("POST"), (SIGN_IN, 403, 403, 403, 403, OK)),
    Row("DELETE /api/v1/admin/users/{id}/roles", _roles("DELETE"), (SIGN_IN, 403, 403, 403, 403, OK)),
    # -- skills and profiles -------------------------------------------------------------------
    Row("GET /api/v1/constituencies", _get("/api/v1/constituencies?q=Manchester"), (OK,) * 6),
    Row("GET /api/v1/skills", _get("/api/v1/skills"), (OK,) * 6),
    Row("POST /api/v1/skills", _new_skill, (SIGN_IN, 403, 403, 403, 403, OK)),
    Row("GET /api/v1/me/profile", _get("/api/v1/me/profile"), (SIGN_IN, OK, OK, OK, OK, OK)),
    Row("PUT /api/v1/me/profile", _put_profile, (SIGN_IN, OK, OK, OK, OK, OK)),
    Row(
        "GET /api/v1/supporters?constituency=",
        _get(f"/api/v1/supporters?constituency={WITHINGTON}"),
        (SIGN_IN, 403, 403, OK, 403, OK),
    ),
    # -- requests ------------------------------------------------------------------------------
    Row(
        "POST /api/v1/requests",
        lambda w, who: w.http.post("/api/v1/requests", headers=_h(who), json={}),
        (SIGN_IN, 422, 422, 422, 422, 422),
        "an empty body: past authorisation every signed-in caller reaches validation",
    ),
    Row("GET /api/v1/requests", _get("/api/v1/requests"), (OK,) * 6),
    Row("GET /api/v1/requests/{id}", _get("/api/v1/requests/{w.request_id}"), (OK,) * 6),
    Row(
        "GET /api/v1/requests/{id} (pending, from X)",
        lambda w, who: w.http.get(f"/api/v1/requests/{w.new_pending()}", headers=_h(who)),
        (404, 404, 404, OK, 404, OK),
        "a pending request has no owner (its X author has no account); to others it does not exist",
    ),
    Row(
        "PATCH /api/v1/requests/{id}",
        _on_fresh_request("PATCH", "", {"title": "Leaflets, edited"}),
        (SIGN_IN, 403, OK, OK, 403, OK),
        "an open request is public, so refusing it reveals nothing: 403, not 404",
    ),
    Row(
        "POST /api/v1/requests/{id}/close",
        _on_fresh_request("POST", "/close", {"outcome": "cancelled"}),
        (SIGN_IN, 403, OK, OK, 403, OK),
    ),
    Row(
        "POST /api/v1/requests/{id}/approve",
        _on_fresh_pending("approve"),
        (SIGN_IN, 404, 404, OK, 404, OK),
        "api.md is silent on others: the service hides a pending request from them (404)",
    ),
    Row("POST /api/v1/requests/{id}/reject", _on_fresh_pending("reject"), (SIGN_IN, 404, 404, OK, 404, OK)),
    Row("POST /api/v1/requests/{id}/offers", _offer_on_fresh, (SIGN_IN, OK, 403, OK, OK, OK)),
    Row(
        "GET /api/v1/requests/{id}/offers",
        _get("/api/v1/requests/{w.offered_request_id}/offers"),
        (SIGN_IN, OK, OK, OK, OK, OK),
        "everyone signed in gets 200; what each sees is checked in test_others_see_only_their_own_offers",
    ),
    Row(
        "POST /api/v1/requests/{id}/offers/{offer_id}/accept",
        _fresh_offer_action("accept"),
        (SIGN_IN, 403, OK, OK, 403, OK),
    ),
    Row(
        "POST /api/v1/requests/{id}/offers/{offer_id}/decline",
        _fresh_offer_action("decline"),
        (SIGN_IN, 403, OK, OK, 403, OK),
    ),
    Row(
        "POST /api/v1/requests/{id}/offers/{offer_id}/withdraw",
        _withdraw,
        (SIGN_IN, OK, 403, 403, 403, 403),
        "only the offerer (the supporter column here); not even an admin",
    ),
    Row("POST /api/v1/requests/{id}/invitations", _invite, (SIGN_IN, 403, OK, OK, 403, OK)),
    Row("GET /api/v1/me/requests", _get("/api/v1/me/requests"), (SIGN_IN, OK, OK, OK, OK, OK)),
    Row("GET /api/v1/me/offers", _get("/api/v1/me/offers"), (SIGN_IN, OK, OK, OK, OK, OK)),
    Row("GET /api/v1/me/invitations", _get("/api/v1/me/invitations"), (SIGN_IN, OK, OK, OK, OK, OK)),
    # -- matching and statistics ---------------------------------------------------------------
    Row("GET /api/v1/requests/{id}/matches", _matches, (SIGN_IN, 403, OK, OK, 403, OK)),
    Row("GET /api/v1/me/opportunities", _get("/api/v1/me/opportunities"), (SIGN_IN, OK, OK, OK, OK, OK)),
    Row(
        "GET /api/v1/stats/constituencies/{code}",
        _get(f"/api/v1/stats/constituencies/{WITHINGTON}"),
        (SIGN_IN, 403, 403, OK, 403, OK),
    ),
    Row("GET /api/v1/stats/national", _get("/api/v1/stats/national"), (SIGN_IN, 403, 403, 403, 403, OK)),
    # -- X ---------------------------------------------------------------------------------------
    Row("GET /api/v1/auth/x/authorize?mode=login", _get("/api/v1/auth/x/authorize?mode=login"), (REDIRECT,) * 6),
    Row(
        "GET /api/v1/auth/x/authorize?mode=link",
        _get("/api/v1/auth/x/authorize?mode=link"),
        (SIGN_IN, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    ),
    Row(
        "GET /api/v1/auth/x/callback",
        _get("/api/v1/auth/x/callback?code=made-up&state=made-up"),
        (400,) * 6,
        "only X's redirect with the state the gateway issued completes it; a made-up state fails alike for all",
    ),
    Row(
        "DELETE /api/v1/me/x",
        lambda w, who: w.http.delete("/api/v1/me/x", headers=_h(who)),
        (SIGN_IN, 404, 404, 404, 404, 404),
        "none of these people linked an X account: past authorisation there is nothing to unlink",
    ),
    Row("GET /api/v1/admin/x", _get("/api/v1/admin/x"), (SIGN_IN, 403, 403, 403, 403, OK)),
    Row("PUT /api/v1/admin/x", _put_admin_x, (SIGN_IN, 403, 403, 403, 403, OK), "puts back the settings it read"),
    # -- health ----------------------------------------------------------------------------------
    Row("GET /healthz", _get("/healthz"), (OK,) * 6),
]
CELLS = [
    pytest.param(row, role, expected, id=f"{row.endpoint}-{role}")
    for row in ROWS
    for role, expected in zip(ROLES, row.expected, strict=True)
]


@pytest.mark.parametrize(("row", "role", "expected"), CELLS)
def test_who_may_call_what(world: World, row: Row, role: str, expected: int | str) -> None:
    r = row.call(world, world.who(role))
    got = r.status_code
    matches = got // 100 == int(expected[0]) if isinstance(expected, str) else got == expected
    assert matches, f"{row.endpoint} as {role}: expected {expected}, got {got}: {r.text[:300]}"
    if got >= 400:
        assert r.headers["content-type"] == PROBLEM, r.text[:300]


def test_the_matrix_covers_every_endpoint_of_the_contract() -> None:
    import re
    from pathlib import Path

    contract = Path(__file__).resolve().parents[2] / "docs" / "api.md"
    named = set()
    for line in contract.read_text().splitlines():
        if line.startswith("| `"):
            for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) ([^`?]+)", line.split("|")[1]):
                named.add((method, re.sub(r"\{[^}]+\}", "{id}", path.strip())))
    covered = {tuple(re.sub(r"\{[^}]+\}", "{id}", p) for p in row.endpoint.split(" ")[:2]) for row in ROWS}
    covered = {(m, p.split("?")[0]) for m, p in covered}
    assert len(named) >= 39, "the contract's tables were read"
    assert named - covered == set()


def test_others_see_only_their_own_offers(world: World) -> None:
    path = f"/api/v1/requests/{world.offered_request_id}/offers"
    seen = {
        role: {o["id"] for o in world.http.get(path, headers=_h(world.who(role))).json()["items"]} for role in ROLES[1:]
    }
    everything = {world.helper_offer_id, world.supporter_offer_id}
    assert seen == {
        "supporter": {world.supporter_offer_id},
        "owner": everything,
        "organiser": everything,
        "other_organiser": set(),
        "admin": everything,
    }
