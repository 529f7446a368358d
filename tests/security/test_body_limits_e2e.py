"""Hostile bodies: JSON nested thousands deep is refused before any parser sees it, by the gateway and by
each service (the platform's request middleware, shared by all), and nothing is hurt.

Bodies over 1 MB get 413 before they are read: services/gateway/tests/test_hardening_e2e.py (with and
without a length, through the real server) and tests/e2e/test_identity_flow.py cover that."""

from __future__ import annotations

import contextlib
import json
import socket

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
WITHINGTON = "E14001354"
DEEP = b"[" * 10_000 + b"]" * 10_000
PROFILE = {
    "constituency_code": WITHINGTON,
    "travel_radius_km": 5,
    "remote_ok": True,
    "max_hours_per_week": 4,
    "availability": [{"day": "sat", "start": "10:00", "end": "13:00"}],
    "skills": [{"slug": "leafleting", "level": 3, "note": "Any weather [really] {honest}"}],
}


def assert_too_deep(status: int, content_type: str, body: bytes) -> None:
    assert status == 422, body[:300]
    assert content_type == PROBLEM
    problem = json.loads(body)
    assert problem["status"] == 422 and "too deeply nested" in problem["detail"]
    assert problem["errors"][0]["field"] == "body"


def test_a_body_nested_ten_thousand_deep_is_refused_by_the_gateway_before_the_rest_arrives(
    stack: Stack, person: Person
) -> None:
    # Announce 20,000 bytes, send only the opening brackets, and wait: an answer can only come from a
    # check that does not need the whole body, which any parser would.
    port = int(stack.gateway_url.rsplit(":", 1)[1])
    opening = DEEP[:10_000]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"PUT /api/v1/me/profile HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {person.access_token}\r\nContent-Length: {len(DEEP)}\r\n\r\n".encode()
            + opening
        )
        answer = b""
        with contextlib.suppress(TimeoutError):
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                more = sock.recv(65_536)
                if not more:
                    break
                answer += more
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 422"), f"no early answer: {head[:200]!r}"
    assert b"content-type: application/problem+json" in head.lower()
    assert_too_deep(422, PROBLEM, body)


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("identity", "/api/v1/auth/token"),
        ("skills", "/api/v1/me/profile"),
        ("requests", "/api/v1/requests"),
        ("twitter-gateway", "/api/v1/admin/x"),
        # The matcher takes no bodies: it only answers GETs.
    ],
)
def test_every_service_taking_bodies_refuses_a_deeply_nested_one_itself_and_stays_healthy(
    stack: Stack, person: Person, service: str, path: str
) -> None:
    with httpx.Client(base_url=stack.url_of(service), timeout=10) as direct:
        method = "PUT" if path in ("/api/v1/me/profile", "/api/v1/admin/x") else "POST"
        r = direct.request(method, path, content=DEEP, headers={**person.auth, "Content-Type": "application/json"})
        assert_too_deep(r.status_code, r.headers["content-type"], r.content)
        assert direct.get("/healthz").status_code == 200


def test_a_deeply_nested_body_without_a_content_type_is_refused_too(gateway: httpx.Client, person: Person) -> None:
    # FastAPI reads a body without a content type as JSON, so the check must not rely on the header.
    r = gateway.put("/api/v1/me/profile", content=DEEP, headers=person.auth)
    assert_too_deep(r.status_code, r.headers["content-type"], r.content)


def test_an_ordinary_body_with_brackets_in_its_text_still_works_after_the_refusals(
    gateway: httpx.Client, person: Person
) -> None:
    assert gateway.put("/api/v1/me/profile", headers=person.auth, content=DEEP).status_code == 422
    r = gateway.put("/api/v1/me/profile", headers=person.auth, json=PROFILE)
    assert r.status_code == 200, r.text
    assert r.json()["skills"][0]["note"] == PROFILE["skills"][0]["note"]  # type: ignore[index]
    assert gateway.get("/api/v1/me/profile", headers=person.auth).json()["constituency_code"] == WITHINGTON
