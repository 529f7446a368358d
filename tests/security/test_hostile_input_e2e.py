"""Inputs schemathesis found giving 500s, pinned down: each is refused as a problem, never a 500."""

from __future__ import annotations

import socket

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/requests/%1B%01",  # control characters, decoded by the gateway
        "/api/v1/requests/a%20b/offers/%0A/withdraw",
        "/api/v1/stats/constituencies/%C3%A0%23w",  # non-ASCII and an encoded '#'
        "/schemathesis-probe%5C%1B",  # a page path, for the web service
    ],
)
def test_a_path_with_characters_a_url_may_not_hold_is_routed_not_a_500(stack: Stack, path: str) -> None:
    # Sent raw, as a client may; httpx would normalise the path first.
    port = int(stack.gateway_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65_536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status < 500, answer[:400]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/auth/token", {"email": "nul\u0000@example.org", "password": "x"}),
        ("PUT", "/api/v1/me/profile", {"constituency_code": "E14001354", "skills": [{"slug": "a\u0000", "level": 1}]}),
        (
            "POST",
            "/api/v1/requests",
            {
                "title": "Leaflets",
                "description": "x",
                "constituency_code": "E14001354",
                "skills": [{"slug": "leaf\u0000leting", "min_level": 1, "people": 1}],
            },
        ),
    ],
)
def test_text_with_a_nul_character_is_invalid_input_not_a_500(
    gateway: httpx.Client, person: Person, method: str, path: str, body: dict[str, object]
) -> None:
    r = gateway.request(method, path, headers=person.auth, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM


def test_a_body_that_is_not_utf8_is_invalid_json_not_a_bad_request(gateway: httpx.Client) -> None:
    r = gateway.post("/api/v1/auth/register", content=b"\xc3\x28\xa0\xa1", headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["errors"] == [{"field": "body", "message": "The body is not valid JSON."}]
