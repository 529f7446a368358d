"""The matcher reads new events within tens of milliseconds: its consumer's fetch is held briefly."""

from __future__ import annotations

from pathlib import Path

import pytest

from lx_platform.runtime import ServiceRuntime
from lx_platform.settings import ServiceSettings
from matcher_svc.app import create_app
from matcher_svc.settings import MatcherSettings

pytestmark = pytest.mark.unit


def fetch_wait_of(runtime: ServiceRuntime) -> int:
    runtime.events.subscribe()
    subscriber = runtime.events._subscriber  # noqa: SLF001 - what the broker will build its consumer with
    return int(subscriber._connection_args["fetch_max_wait_ms"])  # noqa: SLF001


def test_the_matchers_consumer_holds_a_fetch_50_ms_at_most() -> None:
    app = create_app(MatcherSettings())
    assert fetch_wait_of(app.state.runtime) == 50


def test_other_services_keep_the_default_and_the_setting_is_honoured() -> None:
    plain = ServiceRuntime(name="plain", settings=ServiceSettings(), migrations_dir=Path("."))
    plain.events.on("some.topic.v1")(_nothing)
    assert fetch_wait_of(plain) == 500
    tuned = ServiceRuntime(name="tuned", settings=ServiceSettings(kafka_fetch_max_wait_ms=20), migrations_dir=Path("."))
    tuned.events.on("some.topic.v1")(_nothing)
    assert fetch_wait_of(tuned) == 20


async def _nothing(*_: object) -> None:
    return None
