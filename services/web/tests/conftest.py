"""Browser fixtures for the web pages: Debian's Chromium driven by Playwright, against the test stack.

The stack is the session-wide one from lx_devstack.testing (the whole system as `make run` starts it);
the pages are reached through its gateway, as a browser reaches them."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from lx_devstack.stack import Stack
from lx_devstack.testkit import wait_until

CHROMIUM = os.environ.get("LX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 15_000  # the longest any page may take to show what a test expects


@pytest.fixture(scope="session")
def web_url(stack: Stack) -> str:
    """The site's address (the gateway); the devstack points the web service at this stack's API."""
    assert stack.service_env(stack.spec("web"))["WEB_API_BASE_URL"] == stack.gateway_url
    return stack.gateway_url


@pytest.fixture(scope="session")
def skills_known(stack: Stack) -> None:
    """Wait until the requests service has learnt the skills the tests ask for (from skills' events)."""

    async def known() -> bool:
        conn = await asyncpg.connect(stack.dsns["requests"])
        try:
            found = await conn.fetchval(
                "SELECT count(*) FROM requests.skills WHERE slug = ANY($1::text[])", ["leafleting", "canvassing"]
            )
            return bool(found == 2)
        finally:
            await conn.close()

    asyncio.run(wait_until(known, timeout_s=60, what="requests to know the leafleting and canvassing skills"))


@pytest.fixture(scope="module")
def chromium(web_url: str, skills_known: None) -> Iterator[object]:
    """One headless Chromium per test module. Module, not session: Playwright's synchronous API runs an
    event loop of its own while it is open, and the async tests of other modules need theirs."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium, web_url: str):  # type: ignore[no-untyped-def]
    """Open a fresh browser profile (its own cookies) at a given viewport width; closed after the test."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    contexts = []

    def open_page(width: int = 1280, height: int = 900):  # type: ignore[no-untyped-def]
        context = chromium.new_context(base_url=web_url, viewport={"width": width, "height": height})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@dataclass
class Supporter:
    email: str
    password: str
    name: str


def new_supporter_details(name: str = "Web Tester") -> Supporter:
    return Supporter(f"web-{uuid.uuid4().hex[:12]}@example.org", "a long enough password " + uuid.uuid4().hex[:6], name)
