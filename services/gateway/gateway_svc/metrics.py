"""The gateway's own metrics, next to the shared HTTP ones (lx_platform.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

UPSTREAM_FAILURES = Counter(
    "lx_gateway_upstream_failures_total",
    "Calls to an upstream that failed without an answer, by kind (connect, timeout, error)",
    ["upstream", "kind"],
)
BREAKER_STATE = Gauge(
    "lx_gateway_breaker_state", "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open", ["upstream"]
)
BREAKER_OPENED = Counter("lx_gateway_breaker_opened_total", "Times an upstream's breaker opened", ["upstream"])
BREAKER_REFUSED = Counter(
    "lx_gateway_breaker_refused_total",
    "Calls answered 503 at once because the upstream's breaker was open",
    ["upstream"],
)
UPSTREAM_IN_FLIGHT = Gauge("lx_gateway_upstream_in_flight", "Calls in flight to an upstream", ["upstream"])
UPSTREAM_BUSY = Counter(
    "lx_gateway_upstream_busy_total",
    "Calls answered 503 at once because the gateway already had its most calls in flight to the upstream "
    "(the gateway's congestion, not counted against the upstream)",
    ["upstream"],
)
VERIFIED_TOKENS = Gauge(
    "lx_gateway_verified_tokens",
    "Access tokens remembered as verified until they expire (lx_platform/verified_tokens.py)",
)
RATE_LIMITED = Counter(
    "lx_gateway_rate_limited_total", "Requests answered 429, by bucket kind (user, address)", ["scope"]
)
RATE_BUCKETS = Gauge("lx_gateway_rate_limit_buckets", "Rate-limit buckets held in memory, by kind", ["scope"])
UNTRUSTED_PROXY_KEY = Counter(
    "lx_gateway_wrong_proxy_key_total", "Requests that presented a proxy key the gateway does not know"
)
ERASED_USERS = Gauge("lx_gateway_erased_users", "Erased people whose still-unexpired access tokens the gateway refuses")
ERASED_USERS_ADDED = Counter(
    "lx_gateway_erased_users_added_total", "Erasures taken into the deny list (recent enough to matter)"
)
ERASED_TOKEN_REFUSED = Counter(
    "lx_gateway_erased_token_refused_total", "Requests refused (401) because the token's person was erased"
)
ERASURE_FEED_CAUGHT_UP = Gauge(
    "lx_gateway_erasure_feed_caught_up", "1 once the gateway has read every erasure published before it started"
)
