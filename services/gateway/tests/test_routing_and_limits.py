"""Gateway routing table and OpenAPI merge, without I/O."""

from __future__ import annotations

import pytest

from gateway_svc.openapi import merge
from gateway_svc.routing import BULK_ROUTES, route

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/auth/register", "identity"),
        ("/api/v1/auth/jwks.json", "identity"),
        ("/api/v1/auth/x/authorize", "twitter-gateway"),
        ("/api/v1/me", "identity"),
        ("/api/v1/me/export", "identity"),
        ("/api/v1/me/profile", "skills"),
        ("/api/v1/me/x", "twitter-gateway"),
        ("/api/v1/me/opportunities", "matcher"),
        ("/api/v1/me/offers", "requests"),
        ("/api/v1/admin/users/1/roles", "identity"),
        ("/api/v1/admin/x", "twitter-gateway"),
        ("/api/v1/admin/imports/supporters", "skills"),
        ("/api/v1/constituencies", "skills"),
        ("/api/v1/supporters", "skills"),
        ("/api/v1/requests", "requests"),
        ("/api/v1/requests/abc/offers/def/accept", "requests"),
        ("/api/v1/requests/abc/matches", "matcher"),
        ("/api/v1/stats/national", "matcher"),
        ("/", "web"),
        ("/requests/abc", "web"),
    ],
)
def test_paths_go_to_their_owning_service(path: str, service: str) -> None:
    target = route(path)
    assert target is not None and target[0] == service


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v2/me", "/metrics", "/healthz", "/openapi.json"])
def test_unknown_and_internal_paths_route_nowhere(path: str) -> None:
    assert route(path) is None


def test_only_bulk_imports_get_the_long_timeout() -> None:
    slow = [
        path
        for path in ("/api/v1/admin/imports/supporters", "/api/v1/me", "/api/v1/requests")
        if route(path)[1] in BULK_ROUTES
    ]  # type: ignore[index]
    assert slow == ["/api/v1/admin/imports/supporters"]


def test_route_labels_are_templates_not_paths() -> None:
    assert route("/api/v1/requests/123/matches") == route("/api/v1/requests/456/matches")


def test_openapi_merge_keeps_paths_and_prefixes_clashing_schemas() -> None:
    a = {
        "paths": {"/api/v1/a": {"get": {"$ref": "#/components/schemas/Item"}}, "/healthz": {}},
        "components": {"schemas": {"Item": {"type": "object", "title": "A"}, "Same": {"type": "string"}}},
    }
    b = {
        "paths": {"/api/v1/b": {"get": {"$ref": "#/components/schemas/Item"}}},
        "components": {"schemas": {"Item": {"type": "object", "title": "B"}, "Same": {"type": "string"}}},
    }
    merged = merge({"identity": a, "twitter-gateway": b}, missing=["skills"])
    assert set(merged["paths"]) == {"/api/v1/a", "/api/v1/b"}
    schemas = merged["components"]["schemas"]
    assert schemas["Item"]["title"] == "A" and schemas["twitter_gateway__Item"]["title"] == "B"
    assert merged["paths"]["/api/v1/b"]["get"]["$ref"] == "#/components/schemas/twitter_gateway__Item"
    assert "Same" in schemas and "twitter_gateway__Same" not in schemas
    assert "skills" in merged["info"]["description"]
