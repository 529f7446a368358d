"""Free loopback ports for stacks started beside another one (tests, benchmarks)."""

from __future__ import annotations

import random
import socket

from lx_devstack.broker import port_is_free
from lx_devstack.services import FAKE_X, SERVICES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_service_port_base() -> int:
    """A base port such that base + every service's offset (and the fake X's) is free."""
    offsets = [spec.port_offset for spec in (*SERVICES, FAKE_X)]
    for _ in range(200):
        base = random.randrange(20_000, 40_000, 10)  # noqa: S311 - not a secret
        if all(port_is_free(base + o) for o in offsets):
            return base
    raise RuntimeError("no free block of ports for the services")
