"""Who may do what, endpoint by endpoint, for six kinds of caller: anonymous, another supporter, the
owner, an organiser of the request's constituency (Manchester Withington), an organiser of another
constituency (Manchester Central), and an admin. Each cell runs on a fresh request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in

from .conftest import PROBLEM, Cast, RequestsApi

pytestmark = pytest.mark.e2e

ROLES = ("anonymous", "supporter", "owner", "organiser", "other_organiser", "admin")


def _who(cast: Cast, role: str) -> Person | None:
    return None if role == "anonymous" else getattr(cast, role)


def _auth(who: Person | None) -> dict[str, str]:
    return who.auth if who else {}


def matrix(cast: Cast, action: Callable[[Person | None], httpx.Response]) -> dict[str, int]:
    """The status each kind of caller gets; every refusal must be problem+json."""
    result = {}
    for role in ROLES:
        r = action(_who(cast, role))
        if r.status_code >= 400:
            assert r.headers["content-type"] == PROBLEM, (role, r.text)
        result[role] = r.status_code
    return result


def expect(*codes: int) -> dict[str, int]:
    return dict(zip(ROLES, codes, strict=True))


def test_anyone_signed_in_may_ask_for_help(api: RequestsApi, cast: Cast) -> None:
    def create(who: Person | None) -> httpx.Response:
        return api.http.post("/api/v1/requests", headers=_auth(who), json=api.body())

    assert matrix(cast, create) == expect(401, 201, 201, 201, 201, 201)


def test_anyone_may_browse_and_read_an_open_request(api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    assert matrix(cast, lambda who: api.http.get("/api/v1/requests", headers=_auth(who))) == expect(
        200, 200, 200, 200, 200, 200
    )
    assert matrix(cast, lambda who: api.get(rid, who)) == expect(200, 200, 200, 200, 200, 200)


def test_only_owner_organiser_of_it_and_admin_may_edit(api: RequestsApi, cast: Cast) -> None:
    def edit(who: Person | None) -> httpx.Response:
        rid = api.create(cast.owner)["id"]
        return api.http.patch(f"/api/v1/requests/{rid}", headers=_auth(who), json={"title": "Edited"})

    assert matrix(cast, edit) == expect(401, 403, 200, 200, 403, 200)


@pytest.mark.parametrize("outcome", ["completed", "cancelled"])
def test_only_owner_organiser_of_it_and_admin_may_close(api: RequestsApi, cast: Cast, outcome: str) -> None:
    def close(who: Person | None) -> httpx.Response:
        rid = api.create(cast.owner)["id"]
        return api.http.post(f"/api/v1/requests/{rid}/close", headers=_auth(who), json={"outcome": outcome})

    assert matrix(cast, close) == expect(401, 403, 200, 200, 403, 200)


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_moderating_an_open_request_is_a_conflict_for_moderators_and_forbidden_to_others(
    api: RequestsApi, cast: Cast, action: str
) -> None:
    def moderate(who: Person | None) -> httpx.Response:
        rid = api.create(cast.owner)["id"]
        return api.http.post(f"/api/v1/requests/{rid}/{action}", headers=_auth(who))

    assert matrix(cast, moderate) == expect(401, 403, 403, 409, 403, 409)


def test_anyone_signed_in_but_the_owner_may_offer(api: RequestsApi, cast: Cast) -> None:
    def offer(who: Person | None) -> httpx.Response:
        rid = api.create(cast.owner)["id"]
        return api.http.post(f"/api/v1/requests/{rid}/offers", headers=_auth(who), json={"message": "Me!"})

    assert matrix(cast, offer) == expect(401, 201, 403, 201, 201, 201)


def test_managers_see_every_offer_and_others_only_their_own(api: RequestsApi, cast: Cast) -> None:
    helper = register_and_sign_in(api.http)
    seen: dict[str, Any] = {}
    for role in ROLES:
        who = _who(cast, role)
        rid = api.create(cast.owner)["id"]
        helpers_offer = api.offer_ok(helper, rid)["id"]
        own = api.offer_ok(who, rid)["id"] if who is not None and who is not cast.owner else None
        r = api.http.get(f"/api/v1/requests/{rid}/offers", headers=_auth(who))
        if r.status_code != 200:
            seen[role] = r.status_code
            continue
        ids = [o["id"] for o in r.json()["items"]]
        seen[role] = "all" if helpers_offer in ids else "own" if ids == [own] else ids
    assert seen == {
        "anonymous": 401,
        "supporter": "own",
        "owner": "all",
        "organiser": "all",
        "other_organiser": "own",
        "admin": "all",
    }


def test_someone_without_an_offer_sees_an_empty_list_not_a_refusal(api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    api.offer_ok(cast.supporter, rid)
    stranger = register_and_sign_in(api.http)
    r = api.http.get(f"/api/v1/requests/{rid}/offers", headers=stranger.auth)
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("action", ["accept", "decline"])
def test_only_owner_organiser_of_it_and_admin_may_accept_or_decline(api: RequestsApi, cast: Cast, action: str) -> None:
    helper = register_and_sign_in(api.http)

    def act(who: Person | None) -> httpx.Response:
        rid = api.create(cast.owner)["id"]
        offer = api.offer_ok(helper, rid)
        return api.act(who, rid, offer["id"], action)

    assert matrix(cast, act) == expect(401, 403, 200, 200, 403, 200)


def test_the_offerer_may_not_accept_their_own_offer(api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    offer = api.offer_ok(cast.supporter, rid)
    assert api.act(cast.supporter, rid, offer["id"], "accept").status_code == 403
    assert api.act(cast.supporter, rid, offer["id"], "decline").status_code == 403


def test_only_the_offerer_may_withdraw(api: RequestsApi, cast: Cast) -> None:
    def withdraw(who: Person | None) -> httpx.Response:
        rid = api.create(cast.owner)["id"]
        offer = api.offer_ok(cast.supporter, rid)
        return api.act(who, rid, offer["id"], "withdraw")

    assert matrix(cast, withdraw) == expect(401, 200, 403, 403, 403, 403)


def test_only_owner_organiser_of_it_and_admin_may_invite(api: RequestsApi, cast: Cast) -> None:
    guest = register_and_sign_in(api.http, name="Guest")
    api.wait_known(guest)

    def invite(who: Person | None) -> httpx.Response:
        rid = api.create(cast.owner)["id"]
        return api.http.post(f"/api/v1/requests/{rid}/invitations", headers=_auth(who), json={"user_id": guest.id})

    assert matrix(cast, invite) == expect(401, 403, 201, 201, 403, 201)


@pytest.mark.parametrize("mine", ["requests", "offers", "invitations"])
def test_my_lists_need_a_sign_in(api: RequestsApi, cast: Cast, mine: str) -> None:
    assert matrix(cast, lambda who: api.http.get(f"/api/v1/me/{mine}", headers=_auth(who))) == expect(
        401, 200, 200, 200, 200, 200
    )


def test_the_service_itself_enforces_the_rules_without_the_gateway(stack: Stack, api: RequestsApi, cast: Cast) -> None:
    rid = api.create(cast.owner)["id"]
    with httpx.Client(base_url=stack.url_of("requests"), timeout=10) as direct:
        assert direct.post("/api/v1/requests", json=api.body()).status_code == 401
        r = direct.patch(f"/api/v1/requests/{rid}", headers=cast.supporter.auth, json={"title": "Mine now"})
        assert r.status_code == 403
        r = direct.patch(f"/api/v1/requests/{rid}", headers={"Authorization": "Bearer forged"}, json={"title": "x"})
        assert r.status_code == 401
    assert api.get(rid).json()["title"] != "Mine now"
