"""Supporter import through the gateway as an admin: identity makes the accounts, skills the profiles;
bad rows are reported and skipped, people with their own accounts are left alone, re-runs change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from lx_devstack.testing import Person
from lx_devstack.testkit import wait_until

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
HEADER = "email,display_name,constituency_code,skills"
WITHINGTON = "E14001354"
TOPIC = "skills.profile-updated.v1"
URL = "/api/v1/admin/imports/supporters"


def email() -> str:
    return f"imported-{uuid.uuid4().hex[:10]}@example.org"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def upload(gateway: httpx.Client, who: Person | None, body: bytes, content_type: str = "text/csv") -> httpx.Response:
    headers = {"Content-Type": content_type, **(who.auth if who else {})}
    return gateway.post(URL, content=body, headers=headers, timeout=60)


def claim(gateway: httpx.Client, invite_code: str, *, discoverable: bool = True) -> dict[str, str]:
    r = gateway.post(
        "/api/v1/auth/invitations/accept",
        json={
            "invite_code": invite_code,
            "password": "a password of my own",
            "consents": {"terms": True, "discoverable": discoverable, "contact_by_x": False},
        },
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_good_rows_become_invited_accounts_with_profiles(gateway: httpx.Client, admin: Person) -> None:
    sam, alex = email(), email()
    r = upload(
        gateway,
        admin,
        csv(
            f"{sam},Sam Patel,{WITHINGTON},graphic-design:4;leafleting:2",
            f"{alex},Alex Doe,Manchester Withington,",
        ),
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert r.headers["cache-control"] == "no-store"
    assert (report["imported"], report["unchanged"], report["skipped_registered"]) == (2, 0, 0)
    assert report["errors"] == []
    assert [i["email"] for i in report["invites"]] == [sam, alex]
    assert all(i["invite_code"] and i["user_id"] for i in report["invites"])

    found = gateway.get("/api/v1/admin/users", params={"email": sam}, headers=admin.auth).json()["items"]
    assert [u["id"] for u in found] == [report["invites"][0]["user_id"]]
    assert found[0]["status"] == "invited"

    sam_auth = claim(gateway, report["invites"][0]["invite_code"])
    profile = gateway.get("/api/v1/me/profile", headers=sam_auth).json()
    assert profile["constituency_code"] == WITHINGTON
    assert profile["skills"] == [
        {"slug": "graphic-design", "level": 4, "note": ""},
        {"slug": "leafleting", "level": 2, "note": ""},
    ]


def test_bad_rows_are_reported_by_row_and_the_good_ones_imported(gateway: httpx.Client, admin: Person) -> None:
    good, bad, duplicate = email(), email(), email()
    r = upload(
        gateway,
        admin,
        csv(
            f"{good},Good Row,{WITHINGTON},video:3",
            f"{bad},,Atlantis,juggling:3",
            "not-an-email,Someone,E14001354,",
            f"{duplicate},First,{WITHINGTON},",
            f"{duplicate.upper()},Second,{WITHINGTON},",
            f"{email()},Bad Level,{WITHINGTON},video:7",
        ),
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["imported"] == 2
    assert [i["email"] for i in report["invites"]] == [good, duplicate]
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "constituency_code"),
        (3, "display_name"),
        (3, "skills"),
        (4, "email"),
        (6, "email"),
        (7, "skills"),
    ]
    assert all(e["message"] for e in report["errors"])
    nobody = gateway.get("/api/v1/admin/users", params={"email": bad}, headers=admin.auth).json()["items"]
    assert nobody == [], "a row with errors creates no account"


async def test_running_the_same_file_again_changes_and_announces_nothing(
    gateway: httpx.Client, admin: Person, events_for: Any
) -> None:
    one, two = email(), email()
    rows = [f"{one},One,{WITHINGTON},canvassing:3", f"{two},Two,{WITHINGTON},printing:1;driving:2"]
    first = upload(gateway, admin, csv(*rows)).json()
    assert (first["imported"], len(first["invites"])) == (2, 2)
    ids = {i["email"]: i["user_id"] for i in first["invites"]}

    again = upload(gateway, admin, csv(*rows))
    assert again.status_code == 200
    assert again.json() == {
        "imported": 0,
        "unchanged": 2,
        "skipped_registered": 0,
        "skipped_registered_rows": [],
        "errors": [],
        "invites": [],
    }

    # A changed row for one person is a change, and its event marks the end of what came before it.
    changed = upload(gateway, admin, csv(f"{one},One,{WITHINGTON},canvassing:5", rows[1])).json()
    assert (changed["imported"], changed["unchanged"], changed["invites"]) == (1, 1, [])

    async def change_published() -> bool:
        return any(
            e["data"]["skills"] == [{"slug": "canvassing", "level": 5}] for e in await events_for(TOPIC, ids[one])
        )

    await wait_until(change_published, timeout_s=30, what="the changed row's event")
    assert [e["data"]["skills"] for e in await events_for(TOPIC, ids[one])] == [
        [{"slug": "canvassing", "level": 3}],
        [{"slug": "canvassing", "level": 5}],
    ]
    assert len(await events_for(TOPIC, ids[two])) == 1


def test_people_with_their_own_account_are_reported_and_untouched(
    gateway: httpx.Client, admin: Person, person: Person
) -> None:
    mine = {"constituency_code": "W07000112", "skills": [{"slug": "welsh-language", "level": 5, "note": "mine"}]}
    assert gateway.put("/api/v1/me/profile", headers=person.auth, json=mine).status_code == 200
    before = gateway.get("/api/v1/me/profile", headers=person.auth).json()
    r = upload(
        gateway, admin, csv(f"{email()},New,{WITHINGTON},", f"{person.email.upper()},Renamed,{WITHINGTON},video:1")
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["imported"], report["skipped_registered"], report["skipped_registered_rows"]) == (1, 1, [3])
    assert [i["user_id"] for i in report["invites"]] != [person.id]
    assert gateway.get("/api/v1/me/profile", headers=person.auth).json() == before
    assert gateway.get("/api/v1/me", headers=person.auth).json()["display_name"] == person.display_name


def test_a_claimed_account_is_no_longer_the_import_s_to_change(gateway: httpx.Client, admin: Person) -> None:
    someone = email()
    first = upload(gateway, admin, csv(f"{someone},Ina,{WITHINGTON},video:2")).json()
    auth = claim(gateway, first["invites"][0]["invite_code"])
    again = upload(gateway, admin, csv(f"{someone},Ina,{WITHINGTON},video:5")).json()
    assert (again["imported"], again["skipped_registered"]) == (0, 1)
    assert gateway.get("/api/v1/me/profile", headers=auth).json()["skills"][0]["level"] == 2


@pytest.mark.parametrize(
    "header",
    [
        "email,name,constituency,skills",
        "email,display_name,constituency_code",
        "display_name,email,constituency_code,skills",
    ],
)
def test_a_wrong_header_is_422_naming_the_expected_one(gateway: httpx.Client, admin: Person, header: str) -> None:
    r = upload(gateway, admin, csv(f"{email()},A,{WITHINGTON},", header=header))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    [error] = r.json()["errors"]
    assert error["field"] == "header" and HEADER in error["message"]


def test_more_than_5000_rows_are_refused_whole(gateway: httpx.Client, admin: Person) -> None:
    rows = [f"p{i}-{uuid.uuid4().hex[:6]}@example.org,P,{WITHINGTON}," for i in range(5001)]
    r = upload(gateway, admin, csv(*rows))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"
    assert (
        gateway.get("/api/v1/admin/users", params={"email": rows[0].split(",")[0]}, headers=admin.auth).json()["items"]
        == []
    )


def test_a_body_over_1_mb_is_413(gateway: httpx.Client, admin: Person) -> None:
    assert upload(gateway, admin, csv("x" * 1_100_000)).status_code == 413


def test_only_csv_or_one_uploaded_file_is_accepted(gateway: httpx.Client, admin: Person) -> None:
    r = upload(gateway, admin, b'{"email": "a@b.org"}', content_type="application/json")
    assert r.status_code == 415 and r.headers["content-type"] == PROBLEM
    assert upload(gateway, admin, "caf\xe9".encode("latin-1")).status_code == 422


def test_a_csv_may_be_uploaded_as_a_file(gateway: httpx.Client, admin: Person) -> None:
    someone = email()
    r = gateway.post(
        URL,
        headers=admin.auth,
        files={"file": ("supporters.csv", csv(f"{someone},Filed,{WITHINGTON},video:2"), "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert [i["email"] for i in r.json()["invites"]] == [someone]
    no_file = gateway.post(URL, headers=admin.auth, files={"note": (None, "no file here")})
    assert no_file.status_code == 422
    assert no_file.json()["errors"] == [{"field": "body", "message": "Upload exactly one CSV file."}]


def test_only_admins_may_import(gateway: httpx.Client, person: Person) -> None:
    body = csv(f"{email()},A,{WITHINGTON},")
    assert upload(gateway, None, body).status_code == 401
    r = upload(gateway, person, body)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM


async def test_imported_people_are_found_only_once_they_claim_and_choose_to_be(
    gateway: httpx.Client, admin: Person
) -> None:
    place = "W07000112"
    report = upload(gateway, admin, csv(f"{email()},Not Yet,{place},video:4")).json()
    user_id = report["invites"][0]["user_id"]

    def found() -> list[str]:
        r = gateway.get("/api/v1/supporters", params={"constituency": place, "limit": 100}, headers=admin.auth)
        return [i["user_id"] for i in r.json()["items"]]

    assert user_id not in found()
    claim(gateway, report["invites"][0]["invite_code"], discoverable=True)

    async def visible() -> bool:
        return user_id in found()

    await wait_until(visible, timeout_s=30, what="the claimed account to become discoverable")
