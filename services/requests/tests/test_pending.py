"""Pending requests (from X authors without a linked account), recorded through the service layer on the
stack's own database, then moderated through the gateway by organisers of their constituency and admins."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
import pytest

from lx_contracts import topics
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, make_organiser
from lx_platform.db import create_pool
from requests_svc import service
from requests_svc.domain import RequestInput, SkillInput

from .conftest import CENTRAL, PROBLEM, WITHINGTON, Cast, RequestsApi

pytestmark = pytest.mark.integration

ROLES = ("anonymous", "supporter", "owner", "organiser", "other_organiser", "admin")


async def _record_pending(dsn: str, *, slug: str, title: str, created_by: str | None) -> str:
    pool = await create_pool(dsn, schema="requests", application_name="requests-tests")
    try:
        req = await service.open_request(
            db=pool,
            created_by=uuid.UUID(created_by) if created_by else None,
            given=RequestInput(
                title=title,
                description="Seen on X: anyone around to help?",
                constituency_code=WITHINGTON,
                remote_ok=False,
                skills=[SkillInput(slug, 1, 2)],
                urgency="high",
            ),
            source="x",
            status="pending",
            source_ref=str(uuid.uuid4().int)[:19],
        )
        return str(req.id)
    finally:
        await pool.close()


def pending(stack: Stack, api: RequestsApi, *, owner: Person | None = None, title: str = "Leafleters needed") -> str:
    return asyncio.run(
        _record_pending(
            stack.dsns["requests"], slug=api.skills()[0], title=title, created_by=owner.id if owner else None
        )
    )


def _who(cast: Cast, role: str) -> Person | None:
    return None if role == "anonymous" else getattr(cast, role)


def _auth(who: Person | None) -> dict[str, str]:
    return who.auth if who else {}


def matrix(cast: Cast, action: Callable[[Person | None], httpx.Response]) -> dict[str, int]:
    result = {}
    for role in ROLES:
        r = action(_who(cast, role))
        if r.status_code >= 400:
            assert r.headers["content-type"] == PROBLEM
        result[role] = r.status_code
    return result


def expect(*codes: int) -> dict[str, int]:
    return dict(zip(ROLES, codes, strict=True))


def test_a_pending_request_is_recorded_with_its_source_and_announced_as_pending(
    stack: Stack, api: RequestsApi, cast: Cast
) -> None:
    rid = pending(stack, api)
    r = api.get(rid, cast.organiser)
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["source"], body["created_by"], body["created_by_name"]) == ("pending", "x", None, None)
    opened = api.wait_events(topics.REQUEST_OPENED.name, rid, 1)
    assert len(opened) == 1 and opened[0]["data"]["status"] == "pending" and opened[0]["data"]["source"] == "x"


def test_only_organisers_of_it_admins_and_its_owner_can_see_a_pending_request(
    stack: Stack, api: RequestsApi, cast: Cast
) -> None:
    word = f"zq{uuid.uuid4().hex[:8]}"
    rid = pending(stack, api, owner=cast.owner, title=f"Pending {word}")
    assert matrix(cast, lambda who: api.get(rid, who)) == expect(404, 404, 200, 200, 404, 200)

    def listed_to(status: str) -> dict[str, bool]:
        seen = {}
        for role in ROLES:
            r = api.http.get("/api/v1/requests", params={"q": word, "status": status}, headers=_auth(_who(cast, role)))
            assert r.status_code == 200
            seen[role] = [i["id"] for i in r.json()["items"]] == [rid]
        return seen

    moderators = {role: role in ("organiser", "admin") for role in ROLES}
    assert listed_to("pending") == moderators
    assert listed_to("any") == moderators
    assert listed_to("open") == dict.fromkeys(ROLES, False)
    mine = api.http.get("/api/v1/me/requests", headers=cast.owner.auth).json()["items"]
    assert rid in [i["id"] for i in mine]


def test_only_organisers_of_it_and_admins_may_approve_and_it_opens(stack: Stack, api: RequestsApi, cast: Cast) -> None:
    approved: list[str] = []

    def approve(who: Person | None) -> httpx.Response:
        rid = pending(stack, api, owner=cast.owner)
        r = api.http.post(f"/api/v1/requests/{rid}/approve", headers=_auth(who))
        if r.status_code == 200:
            approved.append(rid)
        return r

    assert matrix(cast, approve) == expect(401, 404, 403, 200, 404, 200)
    for rid in approved:
        assert api.get(rid).json()["status"] == "open"
        assert api.http.post(f"/api/v1/requests/{rid}/approve", headers=cast.admin.auth).status_code == 409
        updated = api.wait_events(topics.REQUEST_UPDATED.name, rid, 1)
        assert [e["data"]["status"] for e in updated] == ["open"]
        assert api.offer(cast.supporter, rid).status_code == 201


def test_only_organisers_of_it_and_admins_may_reject_and_it_closes_as_rejected(
    stack: Stack, api: RequestsApi, cast: Cast
) -> None:
    rejected: list[str] = []

    def reject(who: Person | None) -> httpx.Response:
        rid = pending(stack, api)
        r = api.http.post(f"/api/v1/requests/{rid}/reject", headers=_auth(who))
        if r.status_code == 200:
            rejected.append(rid)
        return r

    # With no owner (an X author without an account) the owner is just another supporter here.
    assert matrix(cast, reject) == expect(401, 404, 404, 200, 404, 200)
    for rid in rejected:
        body = api.get(rid).json()
        assert (body["status"], body["outcome"]) == ("cancelled", "rejected")
        assert api.http.post(f"/api/v1/requests/{rid}/reject", headers=cast.admin.auth).status_code == 409
        assert api.http.post(f"/api/v1/requests/{rid}/approve", headers=cast.admin.auth).status_code == 409
        closed = api.wait_events(topics.REQUEST_CLOSED.name, rid, 1)
        assert [e["data"]["outcome"] for e in closed] == ["rejected"]


def test_a_pending_request_takes_no_offers_or_edits_and_can_only_be_cancelled(
    stack: Stack, api: RequestsApi, cast: Cast
) -> None:
    rid = pending(stack, api, owner=cast.owner)
    assert api.offer(cast.supporter, rid).status_code == 404  # cannot see it
    assert api.offer(cast.organiser, rid).status_code == 409
    r = api.http.patch(f"/api/v1/requests/{rid}", headers=cast.owner.auth, json={"title": "Edited"})
    assert r.status_code == 409
    guest = cast.supporter
    api.wait_known(guest)
    r = api.http.post(f"/api/v1/requests/{rid}/invitations", headers=cast.organiser.auth, json={"user_id": guest.id})
    assert r.status_code == 409
    r = api.http.post(f"/api/v1/requests/{rid}/close", headers=cast.owner.auth, json={"outcome": "completed"})
    assert r.status_code == 409
    r = api.http.post(f"/api/v1/requests/{rid}/close", headers=cast.owner.auth, json={"outcome": "cancelled"})
    assert r.status_code == 200 and (r.json()["status"], r.json()["outcome"]) == ("cancelled", "cancelled")
    # Once cancelled it is no longer pending, so anyone may see it.
    assert api.get(rid).status_code == 200
    assert api.outbox_count(rid) == 2  # opened (pending), closed


def test_an_organiser_of_both_constituencies_moderates_either(stack: Stack, api: RequestsApi, cast: Cast) -> None:
    both = make_organiser(api.http, cast.admin, CENTRAL, WITHINGTON)
    rid = pending(stack, api)
    assert api.http.post(f"/api/v1/requests/{rid}/approve", headers=both.auth).status_code == 200
