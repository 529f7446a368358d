"""Gateway routing table, rate limiter and OpenAPI merge, without I/O."""

from __future__ import annotations

import pytest

from gateway_svc.openapi import merge
from gateway_svc.ratelimit import RateLimiter
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


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("a")
    assert 0 < wait <= 1.0
    assert limiter.retry_after(wait) == 1
    assert limiter.take("b") == 0, "clients have their own buckets"
    clock.now += 1.0
    assert limiter.take("a") == 0


def test_rate_limiter_forgets_idle_clients() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=600, burst=10, clock=clock)
    for n in range(100):
        limiter.take(f"client-{n}")
    clock.now += 120
    limiter.take("fresh")
    assert len(limiter._buckets) == 1  # noqa: SLF001


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
