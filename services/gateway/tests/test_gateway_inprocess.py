"""A gateway built in-process, calling small real HTTP upstreams on loopback: client addresses,
rate limits per user and per address, timeouts and circuit breakers, CORS and response headers."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from gateway_svc.settings import UpstreamTimeout
from lx_devstack.testkit import wait_until

pytestmark = pytest.mark.integration

PROXY_KEY = "a-proxy-key-for-tests"


def client(app: Any, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client that reaches the gateway from `peer`, as its socket address."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 40000)), base_url="http://gw")


# -- who the client is ---------------------------------------------------------------------------


async def test_web_with_the_proxy_key_passes_the_browsers_address_and_others_cannot(
    upstream: Any, make_gateway: Any
) -> None:
    url, state = upstream
    app = make_gateway(url, proxy_keys=PROXY_KEY)
    async with client(app) as c:
        browser = {"X-Forwarded-For": "198.51.100.9"}
        vouched = await c.get("/api/v1/skills", headers={**browser, "X-LX-Proxy-Key": PROXY_KEY})
        assert vouched.json()["headers"]["x-forwarded-for"] == "198.51.100.9"
        spoofed = await c.get("/api/v1/skills", headers=browser)
        assert spoofed.json()["headers"]["x-forwarded-for"] == "127.0.0.1"
        wrong = await c.get("/api/v1/skills", headers={**browser, "X-LX-Proxy-Key": "guess"})
        assert wrong.json()["headers"]["x-forwarded-for"] == "127.0.0.1"
        assert "lx_gateway_wrong_proxy_key_total 1.0" in (await c.get("/metrics")).text
    assert len(state.seen) == 3
    assert all("x-lx-proxy-key" not in seen for seen in state.seen), "the key never leaves the gateway"


async def test_behind_a_trusted_load_balancer_the_right_most_untrusted_address_counts(
    upstream: Any, make_gateway: Any
) -> None:
    url, _ = upstream
    app = make_gateway(url, trusted_proxies="172.16.0.0/12")
    async with client(app, peer="172.16.1.1") as c:
        r = await c.get(
            "/api/v1/skills",
            headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 172.16.2.2", "X-Forwarded-Proto": "https"},
        )
        assert r.json()["headers"]["x-forwarded-for"] == "203.0.113.7"
        assert r.json()["headers"]["x-forwarded-proto"] == "https", "the balancer took it over TLS"
    async with client(app, peer="203.0.113.50") as c:
        r = await c.get("/api/v1/skills", headers={"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"})
        assert r.json()["headers"]["x-forwarded-for"] == "203.0.113.50"
        assert r.json()["headers"]["x-forwarded-proto"] == "http"


# -- rate limits ---------------------------------------------------------------------------------


async def test_browsers_behind_web_get_buckets_of_their_own_and_spoofers_share_one(
    upstream: Any, make_gateway: Any
) -> None:
    url, _ = upstream
    app = make_gateway(url, proxy_keys=PROXY_KEY, rate_limit_per_minute=60, rate_limit_burst=3)
    async with client(app) as c:
        for browser in ("198.51.100.1", "198.51.100.2"):
            headers = {"X-Forwarded-For": browser, "X-LX-Proxy-Key": PROXY_KEY}
            codes = [(await c.get("/x", headers=headers)).status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429], browser
        spoofed = [(await c.get("/x", headers={"X-Forwarded-For": f"203.0.113.{n}"})).status_code for n in range(4)]
        assert spoofed == [200, 200, 200, 429], "made-up addresses without the key share the peer's bucket"
        limited = await c.get("/x")
        assert limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) >= 1 and limited.headers["ratelimit-remaining"] == "0"


async def test_signed_in_users_have_their_own_larger_buckets(upstream: Any, make_gateway: Any, issuer: Any) -> None:
    url, _ = upstream
    app = make_gateway(
        url, rate_limit_per_minute=60, rate_limit_burst=2, user_rate_limit_per_minute=60, user_rate_limit_burst=5
    )
    alice, bob = issuer.token(uuid.uuid4()), issuer.token(uuid.uuid4())
    async with client(app) as c:
        assert [(await c.get("/api/v1/me")).status_code for _ in range(3)] == [200, 200, 429]
        as_alice = [await c.get("/api/v1/me", headers={"Authorization": f"Bearer {alice}"}) for _ in range(6)]
        assert [r.status_code for r in as_alice] == [200] * 5 + [429]
        assert as_alice[0].headers["ratelimit-limit"] == "5" and as_alice[0].headers["ratelimit-remaining"] == "4"
        assert as_alice[-1].json()["status"] == 429
        bob_answer = await c.get("/api/v1/me", headers={"Authorization": f"Bearer {bob}"})
        assert bob_answer.status_code == 200, "one user's bucket is not another's, on the same address"


async def test_made_up_tokens_count_against_the_address(upstream: Any, make_gateway: Any) -> None:
    url, state = upstream
    app = make_gateway(url, rate_limit_per_minute=60, rate_limit_burst=3)
    async with client(app) as c:
        bad = {"Authorization": "Bearer not.a.token"}
        codes = [(await c.get("/api/v1/me", headers=bad)).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
    assert state.seen == []


# -- timeouts and circuit breakers ---------------------------------------------------------------


async def test_a_slow_upstream_times_out_then_its_breaker_answers_at_once_and_others_still_work(
    upstream: Any, other_upstream: Any, make_gateway: Any
) -> None:
    (slow_url, slow), (fast_url, _) = upstream, other_upstream
    app = make_gateway(
        fast_url,
        upstreams={"matcher": slow_url},
        upstream_timeouts={"matcher": UpstreamTimeout(read=0.3)},
        breaker_failure_threshold=2,
        breaker_cooldown_s=1.0,
    )
    slow.delay_s = 2.0
    async with client(app) as c:
        for _ in range(2):
            timed_out = await c.get("/api/v1/stats/national")
            assert timed_out.status_code == 504
            assert timed_out.headers["content-type"] == "application/problem+json"
        calls_before = len(slow.seen)
        started = time.monotonic()
        refused = await c.get("/api/v1/stats/national")
        assert time.monotonic() - started < 0.25, "an open breaker answers without waiting on the upstream"
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
        assert "matcher" in refused.json()["detail"]
        assert len(slow.seen) == calls_before
        assert (await c.get("/api/v1/skills")).status_code == 200, "other upstreams are not affected"

        metrics = (await c.get("/metrics")).text
        assert 'lx_gateway_breaker_state{upstream="matcher"} 2.0' in metrics
        assert 'lx_gateway_breaker_state{upstream="skills"} 0.0' in metrics
        assert 'lx_gateway_upstream_failures_total{kind="timeout",upstream="matcher"}' in metrics

        slow.delay_s = 0.0

        async def closed_again() -> bool:
            return (await c.get("/api/v1/stats/national")).status_code == 200

        await wait_until(closed_again, timeout_s=10, what="a trial call after the cool-down to close the breaker")
        assert 'lx_gateway_breaker_state{upstream="matcher"} 0.0' in (await c.get("/metrics")).text


async def test_bulk_routes_keep_their_long_timeout(upstream: Any, make_gateway: Any, issuer: Any) -> None:
    url, state = upstream
    app = make_gateway(url, upstream_timeouts={"skills": UpstreamTimeout(read=0.2)}, bulk_upstream_timeout_s=5.0)
    state.delay_s = 0.5
    auth = {"Authorization": f"Bearer {issuer.token()}"}
    async with client(app) as c:
        assert (await c.get("/api/v1/skills", headers=auth)).status_code == 504
        assert (await c.post("/api/v1/admin/imports/supporters", headers=auth, content=b"x")).status_code == 200


async def test_a_refused_upstream_is_a_503_and_opens_only_its_own_breaker(upstream: Any, make_gateway: Any) -> None:
    url, _ = upstream
    app = make_gateway(url, upstreams={"matcher": "http://127.0.0.1:9"}, breaker_failure_threshold=3)
    async with client(app) as c:
        answers = [await c.get("/api/v1/stats/national") for _ in range(4)]
        assert [a.status_code for a in answers] == [503] * 4
        assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers)
        assert (await c.get("/api/v1/skills")).status_code == 200
    assert app.state.breakers["matcher"].state.name == "OPEN"
    assert app.state.breakers["skills"].state.name == "CLOSED"


# -- CORS and response headers -------------------------------------------------------------------


async def test_preflights_from_configured_origins_only(upstream: Any, make_gateway: Any) -> None:
    url, state = upstream
    app = make_gateway(url, cors_origins="https://app.example")
    async with client(app) as c:
        ok = await c.options(
            "/api/v1/me",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "PATCH" in ok.headers["access-control-allow-methods"]
        refused = await c.options(
            "/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        assert "access-control-allow-origin" not in refused.headers
        assert state.seen == [], "preflights are answered by the gateway"
        real = await c.get("/api/v1/skills", headers={"Origin": "https://app.example"})
        assert real.headers["access-control-allow-origin"] == "https://app.example"
        assert "RateLimit-Remaining" in real.headers["access-control-expose-headers"]
        own = await c.get("/api/v1/skills", headers={"Origin": "http://127.0.0.1:8000"})
        assert own.headers["access-control-allow-origin"] == "http://127.0.0.1:8000"
        foreign = await c.get("/api/v1/skills", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers
        assert "access-control-allow-credentials" not in foreign.headers


async def test_api_answers_carry_security_headers_and_upstream_choices_stand(
    upstream: Any, make_gateway: Any, issuer: Any
) -> None:
    url, _ = upstream
    app = make_gateway(url)
    auth = {"Authorization": f"Bearer {issuer.token()}"}
    async with client(app) as c:
        api = await c.get("/api/v1/me", headers=auth)
        assert api.headers["x-content-type-options"] == "nosniff"
        assert api.headers["referrer-policy"] == "no-referrer"
        assert api.headers["x-frame-options"] == "DENY"
        assert api.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in api.headers
        cached = await c.get("/api/v1/skills", headers={**auth, "X-Answer-Cache-Control": "public, max-age=300"})
        assert cached.headers["cache-control"] == "public, max-age=300"
        anonymous = await c.get("/api/v1/skills")
        assert "cache-control" not in anonymous.headers
        page = await c.get("/requests", headers={"X-Answer-X-Frame-Options": "SAMEORIGIN"})
        assert page.headers["x-frame-options"] == "SAMEORIGIN"
        assert "referrer-policy" not in page.headers, "pages carry the web service's own headers"
        own_error = await c.get("/api/v1/nothing-here")
        assert own_error.headers["x-content-type-options"] == "nosniff"


async def test_https_origins_get_hsts_on_every_answer(upstream: Any, make_gateway: Any) -> None:
    url, _ = upstream
    app = make_gateway(url, public_origin="https://labour-exchange.example")
    async with client(app) as c:
        for path in ("/api/v1/skills", "/requests", "/healthz"):
            assert (await c.get(path)).headers["strict-transport-security"].startswith("max-age=31536000")


async def test_overlong_addresses_and_headers_are_refused_as_problems(upstream: Any, make_gateway: Any) -> None:
    url, state = upstream
    app = make_gateway(url, max_url_bytes=512, max_header_bytes=2048)
    async with client(app) as c:
        long_url = await c.get("/api/v1/skills?q=" + "a" * 600, headers={"X-Request-ID": "long-url-1"})
        assert long_url.status_code == 414
        assert long_url.headers["content-type"] == "application/problem+json"
        assert long_url.json()["request_id"] == "long-url-1" and long_url.headers["x-request-id"] == "long-url-1"
        big = await c.get("/api/v1/skills", headers={"X-Padding": "b" * 3000})
        assert big.status_code == 431 and big.json()["status"] == 431
        assert (await c.get("/api/v1/skills?q=" + "a" * 400)).status_code == 200
    assert len(state.seen) == 1


async def test_cookies_an_upstream_sets_reach_only_that_caller_and_are_never_sent_for_the_next(
    upstream: Any, make_gateway: Any
) -> None:
    url, state = upstream
    app = make_gateway(url)
    async with client(app) as first:
        answer = await first.get("/requests", headers={"X-Answer-Set-Cookie": "lx_session=someone; Path=/; HttpOnly"})
        assert answer.headers["set-cookie"].startswith("lx_session=someone")
    async with client(app) as second:
        await second.get("/requests")
        await second.get("/api/v1/skills")
    assert all("cookie" not in seen for seen in state.seen), "the gateway keeps no cookie jar of its own"


async def test_the_path_query_and_body_reach_the_upstream_as_sent(upstream: Any, make_gateway: Any) -> None:
    url, state = upstream
    app = make_gateway(url)
    async with client(app) as c:
        answer = await c.get("/api/v1/skills/a%20b%2Fc?q=caf%C3%A9&x=1+2&empty=")
        assert answer.status_code == 200
        assert answer.json()["path"] == "/api/v1/skills/a b/c"
        posted = await c.post(
            "/api/v1/requests", content=b'{"title": "x"}', headers={"Content-Type": "application/json"}
        )
        assert posted.status_code == 200
        bare = await c.post("/api/v1/requests", content=b"{}")
        assert bare.status_code == 200
    assert state.seen[-2]["content-type"] == "application/json" and state.seen[-2]["content-length"] == "14"
    assert "content-type" not in state.seen[-1], "no content type is made up for a body sent without one"
