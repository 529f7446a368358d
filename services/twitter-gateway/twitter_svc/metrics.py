"""The twitter gateway's own metrics (beside the platform's HTTP, event and outbox metrics)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from twitter_svc.xapi import RateState

X_CALLS = Counter("lx_x_calls_total", "Calls to X made by the loops, by operation and outcome", ["op", "outcome"])
X_FAILURES = Counter(
    "lx_x_failures_total", "Failed calls to X by kind (rate_limited, unavailable, auth, bad_response)", ["kind"]
)
TWEETS_INGESTED = Counter("lx_x_tweets_ingested_total", "New tweets stored and published, by stream", ["stream"])
TWEETS_IGNORED = Counter(
    "lx_x_tweets_ignored_total", "Tweets read but not stored, by reason (retweet, own, duplicate)", ["reason"]
)
TWEETS_DELETED = Counter("lx_x_tweets_scrubbed_total", "Stored tweets whose text was removed, by reason", ["reason"])
OUTGOING_SENT = Counter("lx_x_outgoing_sent_total", "Replies, DMs and revokes sent to X", ["kind"])
OUTGOING_FAILED = Counter(
    "lx_x_outgoing_failed_total", "Replies, DMs and revokes given up after the last attempt", ["kind"]
)
OUTGOING_CANCELLED = Counter(
    "lx_x_outgoing_cancelled_total",
    "Queued DMs or replies dropped before sending (unlinked, consent, posting off)",
    ["kind"],
)
OUTGOING_BACKLOG = Gauge("lx_x_outgoing_backlog", "Queued replies, DMs and revokes not yet sent")
READS_USED = Gauge("lx_x_monthly_reads_used", "Tweets read from X this month (against the read budget)")
POSTS_USED = Gauge("lx_x_monthly_posts_used", "Replies and DMs sent this month (against the post budget)")
READ_BUDGET = Gauge("lx_x_monthly_read_budget", "The monthly read budget set by the admin")
POST_BUDGET = Gauge("lx_x_monthly_post_budget", "The monthly post budget set by the admin")


class _RateLimits(Collector):
    """X's own rate-limit windows, as the last response of each endpoint reported them."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[RateState]] | None = None

    def collect(self) -> Iterator[Metric]:
        remaining = GaugeMetricFamily(
            "lx_x_rate_limit_remaining", "Calls left in X's current rate-limit window, by endpoint", labels=["endpoint"]
        )
        limit = GaugeMetricFamily(
            "lx_x_rate_limit_limit", "Calls allowed per X rate-limit window, by endpoint", labels=["endpoint"]
        )
        reset = GaugeMetricFamily(
            "lx_x_rate_limit_reset_seconds",
            "Seconds until X's rate-limit window resets, by endpoint",
            labels=["endpoint"],
        )
        now = datetime.now(UTC)
        for state in self.source() if self.source else ():
            if state.remaining is not None:
                remaining.add_metric([state.endpoint], state.remaining)
            if state.limit is not None:
                limit.add_metric([state.endpoint], state.limit)
            if state.reset_at is not None:
                reset.add_metric([state.endpoint], max(0.0, (state.reset_at - now).total_seconds()))
        yield from (remaining, limit, reset)


_RATE_LIMITS = _RateLimits()
REGISTRY.register(_RATE_LIMITS)


def watch_rate_limits(states: Callable[[], Iterable[RateState]]) -> None:
    """Export the rate-limit windows of this X client (the newest client wins: one per process)."""
    _RATE_LIMITS.source = states
