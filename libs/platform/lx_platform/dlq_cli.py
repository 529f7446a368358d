"""Look at a dead-letter topic and send its events back to where they came from.

lx-dlq inspect   --topic requests.offer-made.v1.dlq [--bootstrap 127.0.0.1:19092] [--since ISO] [--show-values]
lx-dlq republish --topic requests.offer-made.v1.dlq [--since ISO] [--consumer matcher] [--event-id ID] [--dry-run]

Re-publishing is safe: every consumer keeps an inbox of the event ids it handled, so a consumer that
already handled an event skips it; one that failed gets another five tries (and dead-letters it again if
the cause is still there). Malformed envelopes are never re-published: they cannot succeed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lx_platform.kafka import make_producer, read_to_end
from lx_platform.kafka_security import aiokafka_kwargs, client_settings


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def original_topic(self) -> str | None:
        return self.headers.get("dlq-original-topic")

    @property
    def malformed(self) -> bool:
        return self.headers.get("dlq-error", "").startswith("malformed envelope")

    def event_id(self) -> str | None:
        try:
            found = json.loads(self.value).get("id")
        except (ValueError, AttributeError):
            return None
        return found if isinstance(found, str) else None

    def summary(self, *, show_value: bool) -> dict[str, object]:
        out: dict[str, object] = {
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": self.timestamp.isoformat(),
            "event_id": self.event_id(),
            "original_topic": self.original_topic,
            "original_partition": self.headers.get("dlq-original-partition"),
            "original_offset": self.headers.get("dlq-original-offset"),
            "consumer": self.headers.get("dlq-consumer"),
            "attempts": self.headers.get("dlq-attempts"),
            "error": self.headers.get("dlq-error"),
        }
        if show_value:  # events may carry personal data: only when asked
            out["value"] = self.value.decode("utf-8", "replace")
        return out


async def read_dead_letters(
    bootstrap: str, topic: str, *, since: datetime | None = None, security: Mapping[str, Any] | None = None
) -> AsyncIterator[DeadLetter]:
    """Every record the topic held when the call began (no consumer group: nothing is committed)."""
    async for r in read_to_end(bootstrap, topic, client_id="lx-dlq", security=security):
        at = datetime.fromtimestamp(r.timestamp / 1000, UTC)
        if since is None or at >= since:
            headers = {k: v.decode("utf-8", "replace") for k, v in (r.headers or ())}
            yield DeadLetter(r.partition, r.offset, at, r.key, r.value or b"", headers)


async def republish(
    bootstrap: str,
    topic: str,
    *,
    since: datetime | None,
    consumer: str | None,
    event_id: str | None,
    dry_run: bool,
    security: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """Send matching dead letters back to their original topic, with their original key and headers.
    Returns (re-published, skipped)."""
    producer = make_producer(bootstrap, client_id="lx-dlq", idempotent=False, security=security)
    sent = skipped = 0
    if not dry_run:
        await producer.start()
    try:
        async for dead in read_dead_letters(bootstrap, topic, since=since, security=security):
            if consumer and dead.headers.get("dlq-consumer") != consumer:
                continue
            if event_id and dead.event_id() != event_id:
                continue
            target = dead.original_topic
            if dead.malformed or not target or target.endswith(".dlq"):
                skipped += 1
                print(json.dumps({"skipped": dead.summary(show_value=False)}))
                continue
            headers = [(k, v.encode()) for k, v in dead.headers.items() if not k.startswith("dlq-")]
            headers.append(("dlq-republished-from", f"{topic}/{dead.partition}/{dead.offset}".encode()))
            if not dry_run:
                await producer.send_and_wait(target, value=dead.value, key=dead.key, headers=headers)
            sent += 1
            print(json.dumps({"republished" if not dry_run else "would_republish": dead.summary(show_value=False)}))
    finally:
        if not dry_run:
            await producer.stop()
    return sent, skipped


async def _inspect(args: argparse.Namespace) -> None:
    n = 0
    async for dead in read_dead_letters(args.bootstrap, args.topic, since=args.since, security=args.security):
        print(json.dumps(dead.summary(show_value=args.show_values)))
        n += 1
    print(f"{n} dead letters in {args.topic}", file=sys.stderr)


async def _republish(args: argparse.Namespace) -> None:
    sent, skipped = await republish(
        args.bootstrap,
        args.topic,
        since=args.since,
        consumer=args.consumer,
        event_id=args.event_id,
        dry_run=args.dry_run,
        security=args.security,
    )
    verb = "would re-publish" if args.dry_run else "re-published"
    print(f"{verb} {sent}, skipped {skipped} (malformed or without an original topic)", file=sys.stderr)


def _when(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lx-dlq", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ins = sub.add_parser("inspect", help="list dead letters (one JSON object a line)")
    rep = sub.add_parser("republish", help="send dead letters back to their original topic")
    for p in (ins, rep):
        p.add_argument("--topic", required=True, help="the dead-letter topic, <topic>.dlq")
        p.add_argument("--bootstrap", default=None, help="default: the pod's <PREFIX>KAFKA_BOOTSTRAP_SERVERS")
        p.add_argument(
            "--kafka-env-prefix",
            default=None,
            help="whose Kafka settings to use, e.g. REQUESTS_ (default: the one service whose variables are set)",
        )
        p.add_argument("--since", type=_when, default=None, help="only those dead-lettered at or after (ISO 8601)")
    ins.add_argument("--show-values", action="store_true", help="print the events too (may hold personal data)")
    rep.add_argument("--consumer", default=None, help="only those a given consumer group dead-lettered")
    rep.add_argument("--event-id", default=None, help="only this event")
    rep.add_argument("--dry-run", action="store_true", help="say what would be sent, send nothing")
    args = parser.parse_args(argv)
    if not args.topic.endswith(".dlq"):
        parser.error("--topic must be a dead-letter topic (ending in .dlq)")
    # The pod's own Kafka user (its <PREFIX>KAFKA_* variables); PLAINTEXT and 127.0.0.1:19092 on the local stack.
    kafka = client_settings(args.kafka_env_prefix)
    args.bootstrap = args.bootstrap or kafka.kafka_bootstrap_servers
    args.security = aiokafka_kwargs(kafka)
    asyncio.run(_inspect(args) if args.command == "inspect" else _republish(args))


if __name__ == "__main__":
    main()
