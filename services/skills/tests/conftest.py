"""Fixtures the skills tests share: reading what a topic holds about one key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lx_devstack.stack import Stack
from lx_devstack.testkit import events_in, opened, read_all

EventsOn = Callable[[str], Awaitable[list[dict[str, Any]]]]
EventsFor = Callable[[str, str], Awaitable[list[dict[str, Any]]]]


@pytest.fixture
def events_on(stack: Stack) -> EventsOn:
    """Every CloudEvent on `topic` as it stands, with its Kafka key as `_key`."""

    async def read(topic: str) -> list[dict[str, Any]]:
        records = await read_all(stack.bootstrap_servers, topic)
        events = await opened(events_in(records))
        # An event about a person is keyed by their subject key's id; opened, its subject is the person's id.
        return [{**e, "_key": e["subject"]} for e in events]

    return read


@pytest.fixture
def events_for(events_on: EventsOn) -> EventsFor:
    """The CloudEvents on `topic` keyed by `key`, in order."""

    async def read(topic: str, key: str) -> list[dict[str, Any]]:
        return [e for e in await events_on(topic) if e["_key"] == key]

    return read
