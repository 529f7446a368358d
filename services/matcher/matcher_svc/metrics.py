"""The matcher's own metrics (beside the platform's HTTP, event and outbox metrics)."""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from matcher_svc import repository as repo

# Ranking reads every reachable supporter's profile: it is the matcher's one expensive step.
MATCH_SECONDS = Histogram(
    "lx_matcher_propose_seconds",
    "Time to rank supporters and record proposals for a request that opened",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# From the request-opened event's time to proposals committed: what a requester waits for matches.
MATCH_DELAY = Histogram(
    "lx_matcher_request_to_proposal_seconds",
    "Time from a request opening (its event's time) to the matcher having ranked supporters for it",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
PROPOSALS = Counter("lx_matcher_proposals_total", "Supporters proposed for requests that opened")
REQUESTS = Gauge("lx_matcher_requests", "Requests the matcher knows of, by status (as in the statistics)", ["status"])

STATUSES = ("open", "filled", "completed", "cancelled", "pending")


async def observe_requests(pool: asyncpg.Pool) -> None:
    """Refresh the request counts from the statistics tables (a periodic job)."""
    async with pool.acquire() as conn:
        counts = await repo.request_counts(conn, None)
    totals = dict.fromkeys(STATUSES, 0)
    for per_code in counts.values():
        for status, n in per_code.items():
            totals[status] = totals.get(status, 0) + n
    for status, n in totals.items():
        REQUESTS.labels(status).set(n)
