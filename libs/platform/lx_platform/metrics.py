"""Prometheus metrics every service exposes; one registry per process (one service per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("lx_http_requests_total", "HTTP requests handled", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "lx_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter("lx_events_published_total", "Events published by the outbox relay", ["topic"])
EVENTS_CONSUMED = Counter(
    "lx_events_consumed_total",
    "Events consumed, by outcome (handled, duplicate, retried, dead_lettered, malformed, erased)",
    ["topic", "outcome"],
)
EVENTS_NOT_RECORDED_ERASED = Counter(
    "lx_events_not_recorded_erased_total",
    "Events not written to the outbox because a person they name has been erased (their key is destroyed)",
    ["topic"],
)
DLQ_MESSAGES = Counter("lx_dlq_messages_total", "Messages sent to a dead-letter topic", ["topic"])
OUTBOX_BACKLOG = Gauge("lx_outbox_backlog", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge("lx_outbox_oldest_unpublished_seconds", "Age of the oldest unpublished outbox row")
RELAY_FAILURES = Counter("lx_outbox_relay_failures_total", "Relay batches that failed and will retry")
CONSUMER_LAG = Gauge(
    "lx_consumer_lag",
    "Records not yet consumed (high-water mark minus position), by topic and partition",
    ["consumer", "topic", "partition"],
)
