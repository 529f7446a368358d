"""Shared by the hostile-client tests: callers that present their own client address through the gateway.

The gateway believes X-Forwarded-For only from a caller holding the web service's proxy key (see
services/gateway/gateway_svc/clientaddr.py). These tests present made-up addresses from the TEST-NET
ranges that way, so their traffic is counted against addresses of their own and never drains the
rate-limit bucket of 127.0.0.1 that every other test's anonymous calls (sign-up, sign-in) share."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from lx_devstack.stack import Stack

PROXY_KEY_HEADER = "X-LX-Proxy-Key"
_addresses = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def next_address() -> str:
    """A client address no other caller in this session has used."""
    return next(_addresses)


def web_proxy_key(stack: Stack) -> str:
    return stack.service_env(stack.spec("web"))["WEB_GATEWAY_PROXY_KEY"]


def as_client(stack: Stack, address: str) -> dict[str, str]:
    """Headers with which the gateway takes `address` as the client's own."""
    return {PROXY_KEY_HEADER: web_proxy_key(stack), "X-Forwarded-For": address}


@pytest.fixture(scope="module")
def own_address_gateway(stack: Stack) -> Iterator[httpx.Client]:
    """A gateway client whose calls come from an address of this module's own."""
    with httpx.Client(base_url=stack.gateway_url, timeout=15.0, headers=as_client(stack, next_address())) as client:
        yield client
