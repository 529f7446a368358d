"""Brute force on sign-in, through the gateway: throttled per account and source address.

tests/e2e/test_identity_flow.py::test_sign_in_failures_are_throttled_per_account_and_source covers the
rule for callers told apart by their socket address (127.0.0.1 and 127.0.0.2). These cover browsers
behind the web service, whose addresses the gateway learns from X-Forwarded-For only when the caller
holds the web proxy key (services/gateway/gateway_svc/clientaddr.py), and an attacker who writes
X-Forwarded-For without it to look like many addresses."""

from __future__ import annotations

import httpx
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in

from .conftest import PROXY_KEY_HEADER, as_client, next_address

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
LIMIT = 10  # failures in the window before sign-in is refused (api.md: 10 in 15 minutes)


def sign_in(gateway: httpx.Client, person: Person, password: str, headers: dict[str, str]) -> httpx.Response:
    return gateway.post("/api/v1/auth/token", headers=headers, json={"email": person.email, "password": password})


def assert_throttled(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == PROBLEM
    assert int(r.headers["retry-after"]) > 0


def test_ten_failures_lock_that_account_from_that_address_only(stack: Stack, gateway: httpx.Client) -> None:
    victim = register_and_sign_in(gateway)
    bystander = register_and_sign_in(gateway)
    attacker, victims_own = as_client(stack, next_address()), as_client(stack, next_address())
    for attempt in range(LIMIT):
        assert sign_in(gateway, victim, "not the password", attacker).status_code == 401, attempt

    # The right password from the locked address is refused too: a guess that happens to be right
    # must not be told apart from a wrong one once throttled.
    assert_throttled(sign_in(gateway, victim, victim.password, attacker))
    assert_throttled(sign_in(gateway, victim, "not the password", attacker))
    # Another account from the same address is unaffected...
    assert sign_in(gateway, bystander, bystander.password, attacker).status_code == 200
    # ...and the victim, from their own address, can still sign in: the attacker cannot lock them out.
    assert sign_in(gateway, victim, victim.password, victims_own).status_code == 200
    assert_throttled(sign_in(gateway, victim, victim.password, attacker))


def test_an_attacker_cannot_escape_the_lock_by_writing_x_forwarded_for_without_the_proxy_key(
    stack: Stack, gateway: httpx.Client
) -> None:
    victim = register_and_sign_in(gateway)
    # Without the key (or with a wrong one) the gateway ignores X-Forwarded-For: every try comes from
    # the caller's own socket address, however many addresses it claims.
    forged = [
        {"X-Forwarded-For": f"203.0.113.{n}"}
        if n % 2
        else {"X-Forwarded-For": f"203.0.113.{n}", PROXY_KEY_HEADER: "guess"}
        for n in range(1, LIMIT + 3)
    ]
    # Sent from 127.0.0.3, so the lock this makes is this test's own and no other test signs in from there.
    with httpx.Client(
        base_url=stack.gateway_url, timeout=15, transport=httpx.HTTPTransport(local_address="127.0.0.3")
    ) as own:
        for headers in forged[:LIMIT]:
            assert sign_in(own, victim, "not the password", headers).status_code == 401
        assert_throttled(sign_in(own, victim, victim.password, forged[LIMIT]))
        assert_throttled(sign_in(own, victim, victim.password, forged[LIMIT + 1]))
    # The victim elsewhere is fine.
    assert sign_in(gateway, victim, victim.password, as_client(stack, next_address())).status_code == 200
