"""Consent and audit through the gateway: every consent names the wording it was given under; withdrawing
`discoverable` takes a person out of organiser search and matches within seconds (and giving it back brings
them back); organisers' and admins' looks at and changes to other people's data go in an append-only audit
log that they can read back, and an erased person drops out of it."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from lx_contracts.constituencies import all_constituencies
from lx_devstack.stack import Stack
from lx_devstack.testing import Person, make_organiser, register_and_sign_in, sign_in_admin
from lx_devstack.testkit import wait_until

pytestmark = pytest.mark.e2e

NOBODY = "00000000-0000-0000-0000-000000000000"
PURPOSES = ("terms", "discoverable", "contact_by_x")
# How soon a withdrawn (or given) consent must show in search and matches.
WITHIN_S = 10.0


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def audit_rows(stack: Stack, service: str, actor: str) -> list[asyncpg.Record]:
    schema = {"identity": "identity", "skills": "skills", "requests": "requests", "matcher": "matcher"}[service]
    return run(
        _fetch(
            stack.dsns[service],
            f"SELECT * FROM {schema}.audit_log WHERE actor_id = $1 ORDER BY id",  # noqa: S608 - a fixed name
            uuid.UUID(actor),
        )
    )


@dataclass
class Cast:
    stack: Stack
    http: httpx.Client
    code: str
    admin: Person
    organiser: Person
    designer: Person
    owner: Person
    request_id: str


def _profile(http: httpx.Client, who: Person, code: str) -> None:
    r = http.put(
        "/api/v1/me/profile",
        headers=who.auth,
        json={
            "constituency_code": code,
            "travel_radius_km": 5,
            "remote_ok": False,
            "max_hours_per_week": 6,
            "availability": [{"day": "sat", "start": "10:00", "end": "16:00"}],
            "skills": [{"slug": "graphic-design", "level": 4}],
        },
    )
    assert r.status_code == 200, r.text


def _open_request(http: httpx.Client, owner: Person, code: str) -> str:
    body = {
        "title": "Design our leaflets",
        "description": "A4 double-sided, our usual colours.",
        "constituency_code": code,
        "remote_ok": False,
        "skills": [{"slug": "graphic-design", "min_level": 2, "people": 2}],
        "urgency": "high",
    }

    async def opened() -> bool:
        r = http.post("/api/v1/requests", headers=owner.auth, json=body)
        if r.status_code == 503 or (r.status_code == 422 and "skill" in r.text):  # taxonomy still on its way
            return False
        assert r.status_code == 201, r.text
        body["id"] = r.json()["id"]
        return True

    run(wait_until(opened, timeout_s=60, what="the request to open"))
    return str(body["id"])


@pytest.fixture(scope="module")
def cast(stack: Stack, module_gateway: httpx.Client) -> Iterator[Cast]:
    http = module_gateway
    # A constituency of its own, so this module's people are the only ones searched and matched there.
    code = random.choice([c.code for c in all_constituencies()])  # noqa: S311 - not for security
    admin = sign_in_admin(stack, http)
    organiser = make_organiser(http, admin, code)
    designer = register_and_sign_in(http, name=f"Dee Designer {uuid.uuid4().hex[:6]}")
    owner = register_and_sign_in(http, discoverable=False, name="Owen Owner")
    _profile(http, designer, code)
    request_id = _open_request(http, owner, code)

    async def matcher_knows_it() -> bool:
        # The matcher learns of the request from its event; until then its matches are 404.
        return http.get(f"/api/v1/requests/{request_id}/matches", headers=owner.auth).status_code == 200

    run(wait_until(matcher_knows_it, timeout_s=60, what="the matcher to know the request"))
    yield Cast(stack, http, code, admin, organiser, designer, owner, request_id)


def _search_ids(c: Cast, who: Person) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"constituency": c.code, "skill": "graphic-design", "limit": 100}
        if cursor:
            params["cursor"] = cursor
        r = c.http.get("/api/v1/supporters", headers=who.auth, params=params)
        assert r.status_code == 200, r.text
        ids |= {i["user_id"] for i in r.json()["items"]}
        cursor = r.json()["next_cursor"]
        if not cursor:
            return ids


def _match_ids(c: Cast, who: Person) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        r = c.http.get(f"/api/v1/requests/{c.request_id}/matches", headers=who.auth, params=params)
        assert r.status_code == 200, r.text
        ids |= {i["user_id"] for i in r.json()["items"]}
        cursor = r.json()["next_cursor"]
        if not cursor:
            return ids


def _seen(c: Cast) -> tuple[bool, bool]:
    return c.designer.id in _search_ids(c, c.organiser), c.designer.id in _match_ids(c, c.organiser)


def _wait_seen(c: Cast, expected: tuple[bool, bool], *, timeout_s: float, what: str) -> float:
    started = time.monotonic()

    async def check() -> bool:
        return _seen(c) == expected

    run(wait_until(check, timeout_s=timeout_s, what=what))
    return time.monotonic() - started


def _set_discoverable(c: Cast, value: bool) -> None:
    r = c.http.patch("/api/v1/me", headers=c.designer.auth, json={"consents": {"discoverable": value}})
    assert r.status_code == 200, r.text
    assert r.json()["consents"]["discoverable"] is value


def _export(c: Cast, who: Person) -> dict[str, Any]:
    got: dict[str, Any] = {}

    async def exported() -> bool:
        r = c.http.get("/api/v1/me/export", headers=who.auth)
        if r.status_code == 503:
            return False
        assert r.status_code == 200, r.text
        got.update(r.json())
        return True

    run(wait_until(exported, timeout_s=60, what="the export"))
    return got


def _access_log(c: Cast, who: Person, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        r = c.http.get("/api/v1/me/access-log", headers=who.auth, params=query)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return items


# -- consents and their wording ------------------------------------------------------------------------


def test_anyone_reads_the_current_wording_of_each_consent(cast: Cast) -> None:
    r = cast.http.get("/api/v1/consents/wording")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["purpose"] for i in items] == list(PURPOSES)
    for item in items:
        assert item["version"].startswith(item["purpose"] + "-") and len(item["text"]) > 40


def test_every_consent_given_or_withdrawn_records_the_wording_version_in_force(cast: Cast) -> None:
    versions = {i["purpose"]: i["version"] for i in cast.http.get("/api/v1/consents/wording").json()["items"]}
    person = register_and_sign_in(cast.http, discoverable=True, name="Connie Consent")
    r = cast.http.patch("/api/v1/me", headers=person.auth, json={"consents": {"contact_by_x": True}})
    assert r.status_code == 200, r.text
    history = _export(cast, person)["identity"]["consents_history"]
    given = sorted((h["purpose"], h["granted"], h["wording_version"]) for h in history)
    assert given == sorted(
        [
            ("terms", True, versions["terms"]),
            ("discoverable", True, versions["discoverable"]),
            ("contact_by_x", False, versions["contact_by_x"]),
            ("contact_by_x", True, versions["contact_by_x"]),
        ]
    )
    assert all(h["recorded_at"] for h in history)


# -- withdrawing discoverable --------------------------------------------------------------------------


def test_withdrawing_discoverable_leaves_search_and_matches_within_seconds_and_giving_it_back_returns(
    cast: Cast,
) -> None:
    shown = _wait_seen(cast, (True, True), timeout_s=60, what="the designer in search and matches")
    _set_discoverable(cast, False)
    gone = _wait_seen(cast, (False, False), timeout_s=WITHIN_S, what="the designer to leave search and matches")
    _set_discoverable(cast, True)
    back = _wait_seen(cast, (True, True), timeout_s=WITHIN_S, what="the designer back in search and matches")
    print(f"\nfirst shown after {shown:.2f} s; withdrawn -> gone in {gone:.2f} s; given -> back in {back:.2f} s")


# -- the audit log -------------------------------------------------------------------------------------


def test_an_organisers_search_and_match_views_are_logged_and_shown_to_them(cast: Cast) -> None:
    _wait_seen(cast, (True, True), timeout_s=60, what="the designer in search and matches")
    searches = [r for r in audit_rows(cast.stack, "skills", cast.organiser.id) if r["action"] == "supporters.search"]
    views = [r for r in audit_rows(cast.stack, "matcher", cast.organiser.id) if r["action"] == "matches.view"]
    assert searches and views
    last_search, last_view = searches[-1], views[-1]
    assert uuid.UUID(cast.designer.id) in last_search["subjects"]
    assert last_search["route"] == "GET /api/v1/supporters" and last_search["request_id"]
    assert uuid.UUID(cast.designer.id) in last_view["subjects"]
    assert last_view["route"] == "GET /api/v1/requests/{request_id}/matches"
    assert last_view["resource"] == cast.request_id

    log = _access_log(cast, cast.organiser, limit=3)  # small pages: the cursor is walked
    actions = {e["action"] for e in log}
    assert {"supporters.search", "matches.view"} <= actions
    assert [e["at"] for e in log] == sorted((e["at"] for e in log), reverse=True)
    assert len({(e["service"], e["request_id"], e["at"]) for e in log}) == len(log)  # no entry twice
    assert any(e["action"] == "matches.view" and cast.designer.id in e["subjects"] for e in log)
    assert any(e["action"] == "supporters.search" and cast.designer.id in e["subjects"] for e in log)


def test_the_owner_viewing_their_own_matches_and_a_supporter_leave_nothing_in_the_log(cast: Cast) -> None:
    assert cast.http.get(f"/api/v1/requests/{cast.request_id}/matches", headers=cast.owner.auth).status_code == 200
    assert _access_log(cast, cast.owner) == []
    assert _access_log(cast, cast.designer) == []
    for service in ("skills", "matcher", "requests", "identity"):
        assert audit_rows(cast.stack, service, cast.owner.id) == []
    r = cast.http.get("/api/v1/admin/access-log", headers=cast.owner.auth, params={"actor": cast.organiser.id})
    assert r.status_code == 403


def test_organisers_deciding_on_someone_elses_offers_are_logged_with_both_people(cast: Cast) -> None:
    helpers = [register_and_sign_in(cast.http, name=f"Helper {n}") for n in range(2)]
    offers = []
    for helper in helpers:
        r = cast.http.post(
            f"/api/v1/requests/{cast.request_id}/offers", headers=helper.auth, json={"message": "I can do it"}
        )
        assert r.status_code == 201, r.text
        offers.append(r.json()["id"])
    base = f"/api/v1/requests/{cast.request_id}/offers"
    assert cast.http.post(f"{base}/{offers[0]}/accept", headers=cast.organiser.auth).status_code == 200
    assert cast.http.post(f"{base}/{offers[1]}/decline", headers=cast.organiser.auth).status_code == 200
    rows = {r["action"]: r for r in audit_rows(cast.stack, "requests", cast.organiser.id)}
    accepted, declined = rows["offer.accept"], rows["offer.decline"]
    assert accepted["subjects"] == [uuid.UUID(cast.owner.id), uuid.UUID(helpers[0].id)]
    assert accepted["resource"] == offers[0]
    assert declined["subjects"] == [uuid.UUID(cast.owner.id), uuid.UUID(helpers[1].id)]
    assert accepted["route"] == "POST /api/v1/requests/{request_id}/offers/{offer_id}/accept"
    # The owner deciding on offers to their own request is their own business, not an audited access.
    third = register_and_sign_in(cast.http, name="Helper 3")
    r = cast.http.post(f"{base}", headers=third.auth, json={"message": "Me too"})
    assert r.status_code == 201, r.text
    assert cast.http.post(f"{base}/{r.json()['id']}/decline", headers=cast.owner.auth).status_code == 200
    assert audit_rows(cast.stack, "requests", cast.owner.id) == []
    logged = {e["action"] for e in _access_log(cast, cast.organiser) if e["service"] == "requests"}
    assert {"offer.accept", "offer.decline"} <= logged


def test_organisers_editing_closing_and_inviting_on_someone_elses_request_are_logged(cast: Cast) -> None:
    request_id = _open_request(cast.http, cast.owner, cast.code)
    base = f"/api/v1/requests/{request_id}"
    # The owner editing their own request is their own business.
    assert cast.http.patch(base, headers=cast.owner.auth, json={"urgency": "low"}).status_code == 200
    assert [r for r in audit_rows(cast.stack, "requests", cast.owner.id) if r["resource"] == request_id] == []

    r = cast.http.patch(base, headers=cast.organiser.auth, json={"urgency": "high"})
    assert r.status_code == 200, r.text
    r = cast.http.post(f"{base}/invitations", headers=cast.organiser.auth, json={"user_id": cast.designer.id})
    assert r.status_code == 201, r.text
    invitation_id = r.json()["id"]
    r = cast.http.post(f"{base}/close", headers=cast.organiser.auth, json={"outcome": "cancelled"})
    assert r.status_code == 200, r.text

    rows = audit_rows(cast.stack, "requests", cast.organiser.id)
    by_action = {r["action"]: r for r in rows if r["resource"] in (request_id, invitation_id)}
    assert set(by_action) == {"request.edit", "invitation.send", "request.cancelled"}
    assert by_action["request.edit"]["subjects"] == [uuid.UUID(cast.owner.id)]
    assert by_action["request.cancelled"]["subjects"] == [uuid.UUID(cast.owner.id)]
    assert by_action["invitation.send"]["subjects"] == [uuid.UUID(cast.designer.id), uuid.UUID(cast.owner.id)]
    assert by_action["invitation.send"]["route"] == "POST /api/v1/requests/{request_id}/invitations"
    # The organiser is shown all three in what they accessed.
    shown = {e["action"] for e in _access_log(cast, cast.organiser) if e["service"] == "requests"}
    assert {"request.edit", "invitation.send", "request.cancelled"} <= shown


def test_organisers_approving_and_rejecting_pending_requests_are_logged(cast: Cast) -> None:
    from lx_platform.db import create_pool
    from requests_svc import service
    from requests_svc.domain import RequestInput, SkillInput

    async def pending(author: str | None) -> str:
        pool = await create_pool(cast.stack.dsns["requests"], schema="requests", application_name="audit-tests")
        try:
            req = await service.open_request(
                db=pool,
                created_by=uuid.UUID(author) if author else None,
                given=RequestInput(
                    title="Seen on X",
                    description="Anyone around to help?",
                    constituency_code=cast.code,
                    remote_ok=False,
                    skills=[SkillInput("graphic-design", 1, 1)],
                    urgency="high",
                ),
                source="x",
                status="pending",
                source_ref=str(uuid.uuid4().int)[:19],
            )
            return str(req.id)
        finally:
            await pool.close()

    first, second = run(pending(cast.designer.id)), run(pending(None))
    assert cast.http.post(f"/api/v1/requests/{first}/approve", headers=cast.organiser.auth).status_code == 200
    assert cast.http.post(f"/api/v1/requests/{second}/reject", headers=cast.organiser.auth).status_code == 200
    rows = [r for r in audit_rows(cast.stack, "requests", cast.organiser.id) if r["action"].startswith("request.")]
    by_resource = {r["resource"]: r for r in rows}
    assert by_resource[first]["action"] == "request.approve"
    assert by_resource[first]["subjects"] == [uuid.UUID(cast.designer.id)]
    assert by_resource[second]["action"] == "request.reject" and by_resource[second]["subjects"] == []


def test_admins_user_search_role_changes_and_imports_are_logged(cast: Cast) -> None:
    someone = register_and_sign_in(cast.http, name="Rolf Role")
    r = cast.http.get("/api/v1/admin/users", headers=cast.admin.auth, params={"email": someone.email})
    assert r.status_code == 200 and [u["id"] for u in r.json()["items"]] == [someone.id]
    role = {"role": "organiser", "constituency_code": cast.code}
    assert (
        cast.http.post(f"/api/v1/admin/users/{someone.id}/roles", headers=cast.admin.auth, json=role).status_code == 200
    )
    assert (
        cast.http.request(
            "DELETE", f"/api/v1/admin/users/{someone.id}/roles", headers=cast.admin.auth, json=role
        ).status_code
        == 200
    )
    email = f"imported-{uuid.uuid4().hex[:10]}@example.org"
    r = cast.http.post(
        "/api/v1/admin/imports/supporters",
        headers={**cast.admin.auth, "Content-Type": "text/csv"},
        content=f"email,display_name,constituency_code,skills\n{email},Ida Import,{cast.code},graphic-design:3\n",
    )
    assert r.status_code == 200, r.text
    [invite] = r.json()["invites"]

    mine = [r for r in audit_rows(cast.stack, "identity", cast.admin.id) if uuid.UUID(someone.id) in r["subjects"]]
    assert [r["action"] for r in mine] == ["users.search", "role.grant", "role.revoke"]
    assert mine[1]["resource"] == f"organiser:{cast.code}"
    assert mine[1]["route"] == "POST /api/v1/admin/users/{user_id}/roles"  # the template: no id in it
    imports = [r for r in audit_rows(cast.stack, "skills", cast.admin.id) if r["action"] == "supporters.import"]
    assert uuid.UUID(invite["user_id"]) in imports[-1]["subjects"]

    # The admin sees it in their own log, and may read the organiser's.
    r = cast.http.get("/api/v1/me/access-log", headers=cast.admin.auth, params={"limit": 100})
    assert r.status_code == 200, r.text
    actions = {e["action"] for e in r.json()["items"]}
    assert {"users.search", "role.grant", "role.revoke", "supporters.import"} <= actions
    r = cast.http.get("/api/v1/admin/access-log", headers=cast.admin.auth, params={"actor": cast.organiser.id})
    assert r.status_code == 200, r.text
    assert {e["action"] for e in r.json()["items"]} >= {"supporters.search", "matches.view"}


@pytest.mark.parametrize("service", ["identity", "skills", "requests", "matcher", "twitter"])
def test_the_audit_log_refuses_update_delete_and_truncate_even_by_its_owner(stack: Stack, service: str) -> None:
    schema, dsn = service, stack.dsns["twitter-gateway" if service == "twitter" else service]
    actor = uuid.uuid4()

    async def attempts() -> dict[str, str]:
        conn = await asyncpg.connect(dsn)
        outcomes = {}
        try:
            await conn.execute(
                f"INSERT INTO {schema}.audit_log (actor_id, action, subjects, route) "  # noqa: S608
                "VALUES ($1, 'test.row', ARRAY[$1]::uuid[], 'GET /test')",
                actor,
            )
            for statement in (
                "UPDATE {s}.audit_log SET action = 'nothing' WHERE actor_id = $1",
                "UPDATE {s}.audit_log SET actor_id = NULL WHERE actor_id = $1",
                "DELETE FROM {s}.audit_log WHERE actor_id = $1",
                "TRUNCATE {s}.audit_log",
            ):
                try:
                    sql = statement.format(s=schema)
                    await (conn.execute(sql, actor) if "$1" in sql else conn.execute(sql))
                    outcomes[statement] = "allowed"
                except asyncpg.PostgresError as exc:
                    outcomes[statement] = str(exc)
            # Erasure's path may replace the person's id, and nothing else.
            async with conn.transaction():
                await conn.execute("SET LOCAL lx.audit_forget = 'on'")
                try:
                    await conn.execute(
                        f"UPDATE {schema}.audit_log SET action = 'x' WHERE actor_id = $1",
                        actor,  # noqa: S608
                    )
                    outcomes["forget changing the action"] = "allowed"
                except asyncpg.PostgresError as exc:
                    outcomes["forget changing the action"] = str(exc)
            async with conn.transaction():
                await conn.execute("SET LOCAL lx.audit_forget = 'on'")
                await conn.execute(
                    f"UPDATE {schema}.audit_log SET actor_id = NULL, "  # noqa: S608
                    "subjects = array_replace(subjects, $1, $2) WHERE actor_id = $1",
                    actor,
                    uuid.UUID(NOBODY),
                )
            left = await conn.fetchval(
                f"SELECT count(*) FROM {schema}.audit_log WHERE action = 'test.row' AND $1 = ANY(subjects)",  # noqa: S608
                uuid.UUID(NOBODY),
            )
            outcomes["rows kept, naming no one"] = str(left)
        finally:
            await conn.close()
        return outcomes

    outcomes = run(attempts())
    refused = {k: v for k, v in outcomes.items() if "append-only" in v}
    assert len(refused) == 5, outcomes
    assert int(outcomes["rows kept, naming no one"]) >= 1


def test_an_erased_person_is_named_nowhere_in_the_audit_log_but_the_entries_stay(
    stack: Stack, module_gateway: httpx.Client
) -> None:
    http = module_gateway
    admin = sign_in_admin(stack, http)
    code = random.choice([c.code for c in all_constituencies()])  # noqa: S311 - not for security
    organiser = make_organiser(http, admin, code)
    subject = register_and_sign_in(http, name=f"Sue Subject {uuid.uuid4().hex[:6]}")
    _profile(http, subject, code)

    async def found() -> bool:
        r = http.get("/api/v1/supporters", headers=organiser.auth, params={"constituency": code})
        return subject.id in {i["user_id"] for i in r.json()["items"]}

    run(wait_until(found, timeout_s=60, what="the subject in the organiser's search"))
    assert any(uuid.UUID(subject.id) in r["subjects"] for r in audit_rows(stack, "skills", organiser.id))
    searches = [r["id"] for r in audit_rows(stack, "skills", organiser.id)]

    for who in (subject, organiser):
        assert http.delete("/api/v1/me", headers=who.auth).status_code == 202

    async def forgotten() -> bool:
        rows = await _fetch(
            stack.dsns["skills"],
            "SELECT count(*) FROM skills.audit_log WHERE actor_id = ANY($1::uuid[]) OR subjects && $1::uuid[]",
            [uuid.UUID(subject.id), uuid.UUID(organiser.id)],
        )
        return int(rows[0][0]) == 0

    run(wait_until(forgotten, timeout_s=60, what="skills to forget both people in its audit log"))
    identity_left = run(
        _fetch(
            stack.dsns["identity"],
            "SELECT count(*) FROM identity.audit_log WHERE actor_id = $1 OR $1 = ANY(subjects)",
            uuid.UUID(organiser.id),
        )
    )
    assert identity_left[0][0] == 0  # the admin's role grant now names nobody
    kept = run(
        _fetch(
            stack.dsns["skills"],
            "SELECT actor_id, subjects FROM skills.audit_log WHERE id = ANY($1::bigint[])",
            searches,
        )
    )
    # The organiser's searches stay, naming no one: no actor, and the nil uuid where the subject was found.
    assert len(kept) == len(searches)
    assert all(r["actor_id"] is None for r in kept)
    assert any(uuid.UUID(NOBODY) in r["subjects"] for r in kept)
