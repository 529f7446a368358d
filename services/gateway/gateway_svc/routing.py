"""Which service owns which public path. First match wins; pages go to the web client."""

from __future__ import annotations

import re

_TABLE: list[tuple[str, str]] = [
    (r"^/api/v1/auth/x(/|$)", "twitter-gateway"),
    (r"^/api/v1/me/x$", "twitter-gateway"),
    (r"^/api/v1/admin/x$", "twitter-gateway"),
    (r"^/api/v1/auth(/|$)", "identity"),
    (r"^/api/v1/me(/export)?$", "identity"),
    (r"^/api/v1/me/access-log$", "identity"),
    (r"^/api/v1/consents/wording$", "identity"),
    (r"^/api/v1/admin/users(/|$)", "identity"),
    (r"^/api/v1/admin/access-log$", "identity"),
    (r"^/api/v1/admin/erasures/[^/]+$", "identity"),
    (r"^/api/v1/(constituencies|skills|supporters)(/|$)", "skills"),
    (r"^/api/v1/me/profile$", "skills"),
    (r"^/api/v1/admin/imports(/|$)", "skills"),
    (r"^/api/v1/requests/[^/]+/matches$", "matcher"),
    (r"^/api/v1/me/opportunities$", "matcher"),
    (r"^/api/v1/stats(/|$)", "matcher"),
    (r"^/api/v1/requests(/|$)", "requests"),
    (r"^/api/v1/me/(requests|offers|invitations)$", "requests"),
]


def readable(pattern: str) -> str:
    """A routing pattern as the path template people read on dashboards: `/api/v1/requests/{id}/matches`."""
    text = pattern.removeprefix("^").removesuffix("$")
    text = text.replace("(/|$)", "/*").replace("[^/]+", "{id}")
    text = re.sub(r"\(([^()]*)\)\?", r"[\1]", text)  # an optional part: (/export)? -> [/export]
    return text.replace("\\", "")


ROUTES: list[tuple[re.Pattern[str], str, str]] = [(re.compile(p), readable(p), s) for p, s in _TABLE]

# Routes where a person waits on bulk work: they get the long upstream timeout, not the usual one.
BULK_ROUTES = {readable(r"^/api/v1/admin/imports(/|$)")}

# Internal endpoints of the services behind the gateway are never reachable through it.
_INTERNAL = re.compile(r"^/(healthz|readyz|metrics|openapi\.json|asyncapi\.json|docs|redoc)(/|$)")


def route(path: str) -> tuple[str, str] | None:
    """(service, route template) for a public path, or None if nothing public lives there."""
    if path.startswith("/api/"):
        for pattern, template, service in ROUTES:
            if pattern.match(path):
                return service, template
        return None
    if _INTERNAL.match(path):
        return None
    return "web", "/{page}"
