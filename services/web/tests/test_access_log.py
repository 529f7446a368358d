"""The pure part of the access-log pages: phrases, counts, request links, the admin's user id field, and a
rendered page that counts the people an entry concerns without naming them."""

from __future__ import annotations

import uuid

import pytest

from web_svc import access_log
from web_svc.views import make_environment

pytestmark = pytest.mark.unit

REQUEST = "6f1c2b9e-8d4a-4c3b-9a2e-1f0e9d8c7b6a"
OFFER = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"


def item(action: str, route: str, resource: str | None, subjects: int = 2) -> dict[str, object]:
    return {
        "at": "2026-07-01T09:30:00Z",
        "service": "requests",
        "action": action,
        "subjects": [str(uuid.uuid4()) for _ in range(subjects)],
        "route": route,
        "resource": resource,
        "request_id": "r-1",
    }


def test_known_actions_read_as_phrases_and_unknown_ones_as_their_code() -> None:
    assert access_log.what_of("supporters.search") == "Searched supporters"
    assert access_log.what_of("matches.view") == "Viewed matches for a request"
    for action in ("offer.accept", "offer.decline", "request.approve", "request.reject", "request.edit",
                   "request.completed", "request.cancelled", "invitation.send", "users.search", "role.grant",
                   "role.revoke", "supporters.import"):  # fmt: skip
        assert access_log.what_of(action) != action
    assert access_log.what_of("something.new") == "something.new"


def test_people_are_counted_never_listed() -> None:
    entry = access_log.entry_of(item("supporters.search", "GET /api/v1/supporters", None, subjects=3))
    assert entry is not None
    assert entry.people == 3 and entry.what == "Searched supporters" and entry.service == "Requests"
    assert [access_log.people_text(n) for n in (0, 1, 7)] == ["nobody", "1 person", "7 people"]


def test_only_entries_about_a_request_link_to_it() -> None:
    def link(action: str, route: str, resource: str | None) -> str | None:
        entry = access_log.entry_of(item(action, route, resource))
        assert entry is not None
        return entry.request_id

    assert link("request.approve", "POST /api/v1/requests/{request_id}/approve", REQUEST) == REQUEST
    assert link("matches.view", "GET /api/v1/requests/{request_id}/matches", REQUEST) == REQUEST
    assert link("request.edit", "PATCH /api/v1/requests/{request_id}", REQUEST) == REQUEST
    assert link("offer.accept", "POST /api/v1/requests/{request_id}/offers/{offer_id}/accept", OFFER) is None
    assert link("invitation.send", "POST /api/v1/requests/{request_id}/invitations", OFFER) is None
    assert link("request.approve", "POST /api/v1/requests/{request_id}/approve", "../admin") is None
    assert link("role.grant", "POST /api/v1/admin/users/{user_id}/roles", "organiser:E14001354") is None


def test_odd_items_are_skipped_and_the_cursor_read() -> None:
    body = {"items": [None, {"action": 3}, item("role.grant", "x", None, 1)], "next_cursor": "abc"}
    assert [e.what for e in access_log.entries_of(body)] == ["Granted a role"]
    assert access_log.next_cursor_of(body) == "abc"
    assert access_log.next_cursor_of({"items": [], "next_cursor": None}) is None
    assert access_log.entries_of("nonsense") == []


def test_the_admin_field_takes_a_uuid_only() -> None:
    assert access_log.actor_of(f"  {REQUEST.upper()} ") == (REQUEST, None)
    assert access_log.actor_of("")[1] == "Enter the person's user id."
    assert access_log.actor_of("123")[0] is None and "like" in (access_log.actor_of("123")[1] or "")


def test_the_rendered_entries_show_counts_and_no_ids() -> None:
    env = make_environment("Europe/London")
    raw = [item("matches.view", "GET /api/v1/requests/{request_id}/matches", REQUEST, subjects=4)]
    entries = access_log.entries_of({"items": raw})
    html = env.from_string('{% import "macros.html" as m %}{{ m.access_entries(entries) }}').render(entries=entries)
    assert "Viewed matches for a request" in html
    assert "4 people" in html
    assert "Wed 1 Jul 2026, 10:30" in html  # British Summer Time
    assert f'href="/requests/{REQUEST}"' in html
    for subject in raw[0]["subjects"]:  # type: ignore[union-attr]
        assert str(subject) not in html
