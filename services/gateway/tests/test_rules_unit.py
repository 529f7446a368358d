"""The gateway's pure rules: token buckets, client addresses, circuit breakers, CORS and headers."""

from __future__ import annotations

import pytest

from gateway_svc.breaker import CircuitBreaker, State
from gateway_svc.bulkhead import Bulkhead
from gateway_svc.clientaddr import ClientAddresses, bucket_key, parse_address
from gateway_svc.edge import EdgePolicy
from gateway_svc.ratelimit import RateLimiter
from gateway_svc.settings import GatewaySettings

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- token buckets -------------------------------------------------------------------------------


def test_rate_limiter_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    decisions = [limiter.take("a") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    refused = limiter.take("a")
    assert not refused.allowed and refused.retry_after_s == 1
    assert refused.headers()["Retry-After"] == "1" and refused.headers()["RateLimit-Limit"] == "3"
    assert limiter.take("b").allowed, "clients have their own buckets"
    clock.now += 1.0
    assert limiter.take("a").allowed


def test_rate_limit_headers_say_when_the_bucket_is_full_again() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=10, clock=clock)
    for _ in range(4):
        decision = limiter.take("a")
    assert decision.remaining == 6 and decision.reset_s == 4
    assert "Retry-After" not in decision.headers()


def test_rate_limiter_forgets_clients_whose_bucket_refilled() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=600, burst=10, clock=clock)
    for n in range(100):
        limiter.take(f"client-{n}")
    clock.now += limiter.full_after_s + 1
    for _ in range(30):  # each call drops a few expired buckets, so memory follows the traffic
        limiter.take("fresh")
    assert len(limiter) == 1


def test_a_flood_of_distinct_clients_cannot_grow_the_buckets_past_the_cap() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=5, max_clients=1000, clock=clock)
    for _ in range(5):
        limiter.take("regular")
    for n in range(20_000):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
        if n % 500 == 0:
            limiter.take("regular")  # recently used: not the one evicted
    assert len(limiter) == 1000
    assert not limiter.take("regular").allowed, "a client in use keeps its (empty) bucket"


# -- client addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7:5123 ", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("unknown", None),
        ("", None),
        ("203.0.113.7, 10.0.0.1", None),
    ],
)
def test_forwarded_entries_are_parsed_with_or_without_ports(raw: str, expected: str | None) -> None:
    parsed = parse_address(raw)
    assert (str(parsed) if parsed else None) == expected


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    resolver = ClientAddresses(trusted_proxies=["172.16.0.0/12"])
    assert resolver.resolve("127.0.0.1", ["198.51.100.9"]) == "127.0.0.1"
    assert resolver.resolve("203.0.113.7", ["198.51.100.9"]) == "203.0.113.7"


def test_the_right_most_untrusted_address_is_the_client() -> None:
    resolver = ClientAddresses(trusted_proxies=["172.16.0.0/12"])
    # The client made up the first entry; the load balancer 172.16.1.1 appended the real one.
    assert resolver.resolve("172.16.1.1", ["6.6.6.6, 203.0.113.7"]) == "203.0.113.7"
    assert resolver.resolve("172.16.1.1", ["6.6.6.6", "203.0.113.7, 172.16.2.2"]) == "203.0.113.7"
    assert resolver.resolve("172.16.1.1", ["172.16.3.3, 172.16.2.2"]) == "172.16.3.3", "all trusted: the left-most"
    assert resolver.resolve("172.16.1.1", []) == "172.16.1.1"
    assert resolver.resolve("172.16.1.1", ["garbage"]) == "172.16.1.1"


def test_a_peer_with_a_proxy_key_is_believed_and_one_without_is_not() -> None:
    resolver = ClientAddresses(proxy_keys=["old-key", "new-key"])
    assert resolver.vouched("new-key") and resolver.vouched("old-key")
    assert not resolver.vouched("new-keyx") and not resolver.vouched("") and not resolver.vouched(None)
    assert resolver.resolve("127.0.0.1", ["198.51.100.9"], peer_vouched=True) == "198.51.100.9"
    assert resolver.resolve("127.0.0.1", ["198.51.100.9"], peer_vouched=False) == "127.0.0.1"
    assert not ClientAddresses().vouched("anything"), "no keys configured: nobody is vouched for"


def test_ipv6_clients_share_a_bucket_per_network() -> None:
    assert bucket_key("2001:db8:1:2::1") == bucket_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert bucket_key("2001:db8:1:3::1") != bucket_key("2001:db8:1:2::1")
    assert bucket_key("203.0.113.7") == "203.0.113.7"


# -- circuit breakers ----------------------------------------------------------------------------


def test_breaker_opens_after_failures_in_a_row_and_a_success_resets_the_count() -> None:
    clock = FakeClock()
    changes: list[State] = []
    breaker = CircuitBreaker(
        "matcher", failure_threshold=3, cooldown_s=10, clock=clock, on_change=lambda _, s: changes.append(s)
    )
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state is State.CLOSED and breaker.allow() == 0
    breaker.failure()
    assert breaker.state is State.OPEN and changes == [State.OPEN]
    assert breaker.allow() == 10
    clock.now += 4.5
    assert breaker.allow() == 6


def test_breaker_lets_one_trial_through_after_the_cool_down() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("matcher", failure_threshold=1, cooldown_s=10, clock=clock)
    breaker.failure()
    clock.now += 10
    assert breaker.allow() == 0 and breaker.state is State.HALF_OPEN
    assert breaker.allow() == 1, "only one trial at a time"
    breaker.failure()
    assert breaker.state is State.OPEN and breaker.allow() == 10, "a failed trial opens it again"
    clock.now += 10
    assert breaker.allow() == 0
    breaker.abandon()
    assert breaker.allow() == 0, "a trial that ended without a verdict lets the next one try"
    breaker.success()
    assert breaker.state is State.CLOSED and breaker.allow() == 0 and breaker.allow() == 0


# -- CORS and response headers -------------------------------------------------------------------

POLICY = EdgePolicy.build(public_origin="http://127.0.0.1:8000/", cors_origins=["https://app.example"])


def test_only_configured_origins_pass_a_preflight() -> None:
    assert POLICY.preflight_refusal("http://127.0.0.1:8000", "POST", "content-type, authorization") is None
    assert POLICY.preflight_refusal("https://APP.example", "DELETE", "") is None
    assert POLICY.preflight_refusal("https://evil.example", "GET", "") is not None
    assert POLICY.preflight_refusal("null", "GET", "") is not None
    assert POLICY.preflight_refusal("https://app.example", "TRACE", "") is not None
    assert "x-custom" in (POLICY.preflight_refusal("https://app.example", "GET", "x-custom") or "")


def _headers(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in pairs}


def test_credentials_are_allowed_only_for_an_allowed_origin_and_never_with_a_wildcard() -> None:
    allowed = _headers(POLICY.response_headers([], origin="https://app.example", from_web=False, authenticated=True))
    assert allowed["access-control-allow-origin"] == "https://app.example"
    assert allowed["access-control-allow-credentials"] == "true"
    assert "Origin" in allowed["vary"]
    refused = _headers(POLICY.response_headers([], origin="https://evil.example", from_web=False, authenticated=True))
    assert not any(k.startswith("access-control-") for k in refused)
    upstream_wildcard = [(b"access-control-allow-origin", b"*"), (b"access-control-allow-credentials", b"true")]
    dropped = _headers(POLICY.response_headers(upstream_wildcard, origin=None, from_web=False, authenticated=False))
    assert not any(k.startswith("access-control-") for k in dropped)
    with pytest.raises(ValueError, match="never"):
        GatewaySettings(cors_origins="*")


def test_api_answers_get_security_headers_without_overriding_the_upstreams() -> None:
    out = _headers(
        POLICY.response_headers(
            [(b"cache-control", b"private, max-age=60"), (b"x-frame-options", b"SAMEORIGIN")],
            origin=None,
            from_web=False,
            authenticated=True,
        )
    )
    assert out["x-content-type-options"] == "nosniff" and out["referrer-policy"] == "no-referrer"
    assert out["x-frame-options"] == "SAMEORIGIN" and out["cache-control"] == "private, max-age=60"
    assert "strict-transport-security" not in out, "the origin is plain http"
    fresh = _headers(POLICY.response_headers([], origin=None, from_web=False, authenticated=True))
    assert fresh["cache-control"] == "no-store" and fresh["x-frame-options"] == "DENY"
    anonymous = _headers(POLICY.response_headers([], origin=None, from_web=False, authenticated=False))
    assert "cache-control" not in anonymous


def test_pages_keep_the_web_services_headers_and_https_adds_hsts() -> None:
    page = _headers(
        POLICY.response_headers([(b"x-frame-options", b"SAMEORIGIN")], origin=None, from_web=True, authenticated=True)
    )
    assert page == {"x-frame-options": "SAMEORIGIN"}
    secure = EdgePolicy.build(public_origin="https://labour-exchange.example", cors_origins=[], hsts_max_age_s=600)
    assert _headers(secure.response_headers([], origin=None, from_web=True, authenticated=False)) == {
        "strict-transport-security": "max-age=600; includeSubDomains"
    }


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert GatewaySettings(trusted_proxies="172.16.0.0/12, ::1").trusted_proxies == ["172.16.0.0/12", "::1"]
    with pytest.raises(ValueError, match="10.0.0.300"):
        GatewaySettings(trusted_proxies="10.0.0.300")


def test_a_bulkhead_lets_through_its_limit_and_refuses_the_rest_until_one_leaves() -> None:
    bulkhead = Bulkhead("matcher", limit=2)
    assert [bulkhead.try_enter() for _ in range(3)] == [True, True, False]
    assert bulkhead.in_flight == 2, "a refused call takes no place"
    bulkhead.leave()
    assert bulkhead.try_enter() is True
    bulkhead.leave()
    bulkhead.leave()
    assert bulkhead.in_flight == 0
    with pytest.raises(RuntimeError):
        bulkhead.leave()
    with pytest.raises(ValueError):
        Bulkhead("matcher", limit=0)
