"""The gateway's hardening against the whole stack, as `make run` starts it: an upstream that stops,
bodies streamed without a length, oversized URLs and headers, the browser's address through the web
service's proxy key reaching identity's sign-in throttle, and the API docs under their CSP."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from lx_devstack.ports import free_port
from lx_devstack.services import GATEWAY
from lx_devstack.stack import Stack
from lx_devstack.testing import Person
from lx_devstack.testkit import poll_until

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("LX_CHROMIUM", "/usr/bin/chromium")


def _wait(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """poll_until, counting a gateway not yet listening as not yet."""

    def answered() -> bool:
        try:
            return check()
        except httpx.TransportError:
            return False

    poll_until(answered, timeout_s=timeout_s, what=what)


@pytest.fixture
def gateway_with_proxy_key(stack: Stack) -> Iterator[tuple[httpx.Client, str]]:
    """A second gateway in front of the same services, configured with a proxy key as web would use it."""
    key = uuid.uuid4().hex
    port = free_port()
    env = stack.service_env(GATEWAY) | {"GATEWAY_PORT": str(port), "GATEWAY_PROXY_KEYS": f"retired-key,{key}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway_svc"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=15.0) as client:
            _wait(lambda: client.get("/healthz").status_code == 200, timeout_s=20, what="the second gateway")
            yield client, key
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_stopped_service_gets_fast_503s_while_the_others_answer(
    stack: Stack, gateway: httpx.Client, person: Person
) -> None:
    def opportunities() -> httpx.Response:
        return gateway.get("/api/v1/me/opportunities", headers=person.auth)

    assert opportunities().status_code == 200
    stack.stop_service("matcher")
    try:
        answers = []
        for _ in range(8):
            started = time.monotonic()
            answers.append((opportunities(), time.monotonic() - started))
        assert all(a.status_code == 503 for a, _ in answers)
        assert all(a.headers["content-type"] == "application/problem+json" for a, _ in answers)
        assert all(int(a.headers["retry-after"]) >= 1 for a, _ in answers)
        assert max(elapsed for _, elapsed in answers) < 1.0, "no call waits on the stopped service"
        metrics = gateway.get("/metrics").text
        assert 'lx_gateway_breaker_state{upstream="matcher"} 2.0' in metrics, "its breaker opened"
        assert 'lx_gateway_breaker_state{upstream="identity"} 0.0' in metrics
        assert 'lx_gateway_upstream_failures_total{kind="connect",upstream="matcher"}' in metrics
        assert gateway.get("/api/v1/auth/jwks.json").status_code == 200, "identity still answers"
        assert gateway.get("/api/v1/me/profile", headers=person.auth).status_code in (200, 404), "skills still answers"
    finally:
        stack.start_service("matcher")
    # The breaker lets a trial through after its cool-down and closes when the matcher answers again.
    _wait(
        lambda: opportunities().status_code == 200,
        timeout_s=30,
        what="the matcher to answer through the gateway again",
    )


def test_a_body_streamed_without_a_length_is_refused_as_soon_as_it_passes_one_megabyte(
    stack: Stack, gateway: httpx.Client
) -> None:
    port = int(stack.gateway_url.rsplit(":", 1)[1])
    piece = b"x" * 65_536
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32_768)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        sock.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        while sent < 32_000_000:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(piece)
            if select.select([sock], [], [], 0)[0]:
                break  # an answer is waiting: the gateway did not wait for the rest
        answer = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while b"}" not in answer:
                more = sock.recv(65_536)
                if not more:
                    break
                answer += more
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"application/problem+json" in head.lower() and json.loads(body)["status"] == 413
    # Loopback socket buffers take a few megabytes the gateway never reads; one that read the whole
    # body before judging it would have taken all 32 MB.
    assert sent < 12_000_000, f"the gateway kept reading: {sent:,} bytes sent before it answered"

    small = gateway.post("/api/v1/auth/token", content=iter([b'{"email": "nobody@example.org", ', b'"password": "x"}']))
    assert small.status_code in (401, 422), "a small body without a length still reaches identity"


def test_overlong_urls_and_headers_are_problems_through_the_real_server(gateway: httpx.Client) -> None:
    long_url = gateway.get("/api/v1/requests?q=" + "a" * 5000)
    assert long_url.status_code == 414 and long_url.headers["content-type"] == "application/problem+json"
    big = gateway.get("/api/v1/constituencies", headers={"X-Padding": "b" * 20_000})
    assert big.status_code == 431 and big.headers["content-type"] == "application/problem+json"


def test_security_headers_on_api_answers_and_the_pages_own_headers_kept(stack: Stack, gateway: httpx.Client) -> None:
    api = gateway.get("/api/v1/constituencies")
    assert api.headers["x-content-type-options"] == "nosniff" and api.headers["x-frame-options"] == "DENY"
    assert api.headers["referrer-policy"] == "no-referrer"
    me = gateway.get("/api/v1/me", headers={"Authorization": "Bearer not.a.token"})
    assert me.status_code == 401 and me.headers["cache-control"] == "no-store"
    through = gateway.get("/login")
    direct = httpx.get(f"{stack.url_of('web')}/login", timeout=10.0)
    assert through.status_code == direct.status_code == 200
    for name in ("content-security-policy", "x-frame-options", "referrer-policy", "x-content-type-options"):
        assert through.headers.get(name) == direct.headers.get(name), f"the page's own {name} is kept as web set it"
    preflight = gateway.options(
        "/api/v1/me", headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers


def test_identity_throttles_sign_ins_by_the_browsers_address_when_web_vouches_for_it(
    gateway_with_proxy_key: tuple[httpx.Client, str],
) -> None:
    client, key = gateway_with_proxy_key
    email = f"throttle-{uuid.uuid4().hex[:10]}@example.org"
    wrong = {"email": email, "password": "not the password at all"}

    def sign_in(address: str, *, vouched: bool) -> int:
        headers = {"X-Forwarded-For": address}
        if vouched:
            headers["X-LX-Proxy-Key"] = key
        return client.post("/api/v1/auth/token", json=wrong, headers=headers).status_code

    # Through web (the key): the attacker's browser is throttled, another browser is not.
    assert [sign_in("198.51.100.66", vouched=True) for _ in range(10)] == [401] * 10
    assert sign_in("198.51.100.66", vouched=True) == 429
    assert sign_in("198.51.100.77", vouched=True) == 401, "someone else may still sign in to this account"

    # Without the key a made-up address is not believed: every attempt is the caller's own address.
    email2 = f"throttle-{uuid.uuid4().hex[:10]}@example.org"
    wrong["email"] = email2
    assert [sign_in(f"203.0.113.{n}", vouched=False) for n in range(10)] == [401] * 10
    assert sign_in("203.0.113.200", vouched=False) == 429, "spoofing X-Forwarded-For does not escape the throttle"


def test_the_api_docs_render_under_their_content_security_policy(gateway: httpx.Client) -> None:
    page = gateway.get("/api/docs")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    refused: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page()
            tab.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            tab.goto(f"{gateway.base_url}/api/docs")
            tab.wait_for_selector(".opblock-summary-path", timeout=15_000)
            paths = tab.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert any("/api/v1/auth/token" in path for path in paths), "Swagger UI lists the API's operations"
    assert refused == [], refused
