"""The access log as people read it: each API entry turned into a phrase, a count of people and a service name.

Pure functions (no I/O). The people an entry concerns are only ever counted: their ids never reach a page."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

# What each audited action means, in the words of the person who did it (ADR 13 lists the actions).
ACTIONS = {
    "supporters.search": "Searched supporters",
    "supporters.import": "Imported supporters from a file",
    "matches.view": "Viewed matches for a request",
    "offer.accept": "Accepted someone's offer on a request",
    "offer.decline": "Declined someone's offer on a request",
    "request.approve": "Approved a request",
    "request.reject": "Rejected a request",
    "request.edit": "Edited someone's request",
    "request.completed": "Marked someone's request as completed",
    "request.cancelled": "Cancelled someone's request",
    "invitation.send": "Invited someone to a request",
    "users.search": "Searched people (admin)",
    "role.grant": "Granted a role",
    "role.revoke": "Revoked a role",
}

SERVICES = {
    "identity": "Accounts",
    "skills": "Supporters and skills",
    "requests": "Requests",
    "matcher": "Matching",
}

# Routes (as templates, never concrete paths) whose resource is the request itself, so it can be linked to.
# Offers and invitations have ids of their own in `resource`: those entries get no link.
_REQUEST_ROUTE = re.compile(r"^[A-Z]+ (?:/api/v1)?/requests/\{request_id\}(?:/(?:approve|reject|close|matches))?$")
_REQUEST_ACTIONS = frozenset(
    {"matches.view", "request.approve", "request.reject", "request.edit", "request.completed", "request.cancelled"}
)


@dataclass(frozen=True)
class Entry:
    at: str
    what: str
    people: int
    service: str
    request_id: str | None


def what_of(action: str) -> str:
    """A readable phrase for an action; an action this page does not know yet shows as its code."""
    return ACTIONS.get(action, action)


def people_text(count: int) -> str:
    if count == 0:
        return "nobody"
    return "1 person" if count == 1 else f"{count} people"


def request_link_of(action: str, route: str, resource: Any) -> str | None:
    """The request an entry is about, when the action acts on a request and its route says the resource is one."""
    if action not in _REQUEST_ACTIONS or not isinstance(resource, str) or not _REQUEST_ROUTE.match(route):
        return None
    try:
        return str(uuid.UUID(resource))
    except ValueError:
        return None


def entry_of(item: Any) -> Entry | None:
    """One item of `GET /api/v1/me/access-log` for a page; None when it is not shaped like one."""
    if not isinstance(item, dict) or not isinstance(item.get("action"), str):
        return None
    subjects = item.get("subjects")
    route = item.get("route")
    service = item.get("service")
    action: str = item["action"]
    return Entry(
        at=str(item.get("at") or ""),
        what=what_of(action),
        people=len(subjects) if isinstance(subjects, list) else 0,
        service=SERVICES.get(service, service) if isinstance(service, str) else "",
        request_id=request_link_of(action, route if isinstance(route, str) else "", item.get("resource")),
    )


def entries_of(body: Any) -> list[Entry]:
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return []
    return [e for e in (entry_of(i) for i in items) if e is not None]


def next_cursor_of(body: Any) -> str | None:
    cursor = body.get("next_cursor") if isinstance(body, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def actor_of(value: str) -> tuple[str | None, str | None]:
    """The admin form's user id: (normalised id, None) or (None, the message to show next to the field)."""
    text = value.strip()
    if not text:
        return None, "Enter the person's user id."
    try:
        return str(uuid.UUID(text)), None
    except ValueError:
        return None, "Enter a user id like 3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f."
