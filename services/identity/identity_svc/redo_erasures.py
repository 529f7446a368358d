"""Erase again everyone erased after a point in time: the step after restoring a database backup.

A restore to a moment before some erasures brings those people back in every service's database, and with
them the keys that sealed their events. Their `identity.user-erased.v1` events are still on the topic (Kafka
is not rolled back). This reads that topic, opens each event erased at or after `--since` with the restored
keys, and erases each person whose account is back exactly as their own request did (`service.erase`): the
account goes at once and a new erasure event makes every other service erase its copy and confirm, after
which identity destroys the key again.

    python -m identity_svc.redo_erasures --since 2026-05-07T18:00:00Z [--dry-run]

Runs with identity's settings (`IDENTITY_DATABASE_URL`, `IDENTITY_KAFKA_*`: the KafkaUser identity); prints one
line per erasure event considered and what was done. Idempotent: run it twice and the second run finds no
one to erase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from identity_svc import repository as repo
from identity_svc import service
from identity_svc.settings import IdentitySettings
from lx_contracts import identity as ev
from lx_contracts import topics
from lx_contracts.envelope import CloudEvent
from lx_platform.db import create_pool
from lx_platform.kafka import read_to_end
from lx_platform.kafka_security import aiokafka_kwargs
from lx_platform.sealing import open_sealed


@dataclass(frozen=True)
class Outcome:
    event_id: str
    erased_at: datetime | None
    action: str  # erased | would-erase | gone | before | unreadable | refused
    detail: str = ""

    def line(self) -> str:
        at = self.erased_at.isoformat() if self.erased_at else "-"
        return f"{self.event_id} erased_at={at} {self.action}{(': ' + self.detail) if self.detail else ''}"


async def erasure_events(
    bootstrap_servers: str, *, timeout_s: float = 30.0, security: Mapping[str, Any] | None = None
) -> list[bytes]:
    """Every record of the erasure topic, from the beginning to its end when the call began."""
    topic = topics.USER_ERASED.name
    try:
        async with asyncio.timeout(timeout_s):
            return [
                r.value or b""
                async for r in read_to_end(bootstrap_servers, topic, client_id="lx-redo-erasures", security=security)
            ]
    except TimeoutError:
        raise TimeoutError(f"could not read {topic} to its end in {timeout_s} s") from None


async def redo(db: asyncpg.Pool, values: Sequence[bytes], *, since: datetime, dry_run: bool) -> list[Outcome]:
    """Erase again each person erased at or after `since` whose account the database holds."""
    outcomes = []
    for value in values:
        try:
            event = CloudEvent.model_validate_json(value)
        except ValidationError:
            continue  # not an event (a test's or an operator's stray record)
        async with db.acquire() as conn:
            opened = await open_sealed(conn, event.data, subject=event.subject)
        try:
            data = ev.UserErased.model_validate(opened.data)
        except ValidationError:
            at = _at(event.data.get("at"))
            if at is not None and at < since:
                outcomes.append(Outcome(str(event.id), at, "before"))
            else:
                # Their key is gone: this database never had them, or their erasure has been redone already.
                outcomes.append(Outcome(str(event.id), at, "unreadable", "no key for this person here"))
            continue
        if data.at < since:
            outcomes.append(Outcome(str(event.id), data.at, "before"))
            continue
        async with db.acquire() as conn:
            account = await repo.get_user(conn, data.user_id)
        if account is None:
            outcomes.append(Outcome(str(event.id), data.at, "gone", "no account here"))
            continue
        if dry_run:
            outcomes.append(Outcome(str(event.id), data.at, "would-erase"))
            continue
        try:
            await service.erase(db=db, user_id=data.user_id)
        except service.Conflict as exc:
            outcomes.append(Outcome(str(event.id), data.at, "refused", str(exc)))
            continue
        outcomes.append(Outcome(str(event.id), data.at, "erased"))
    return outcomes


def _at(value: object) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at if at.tzinfo else None


def _since(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time with its zone, e.g. 2026-05-07T18:00:00Z")
    return at


async def _main(since: datetime, dry_run: bool) -> int:
    settings = IdentitySettings()
    db = await create_pool(settings.database_url, schema=settings.db_schema, application_name="identity-redo-erasures")
    try:
        values = await erasure_events(settings.kafka_bootstrap_servers, security=aiokafka_kwargs(settings))
        outcomes = await redo(db, values, since=since, dry_run=dry_run)
    finally:
        await db.close()
    for o in outcomes:
        print(o.line())
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.action] = counts.get(o.action, 0) + 1
    print(json.dumps({"since": since.isoformat(), "dry_run": dry_run, **counts}))
    return 1 if counts.get("refused") else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m identity_svc.redo_erasures", description=__doc__.split("\n")[0])
    parser.add_argument("--since", type=_since, required=True, help="the restore's recovery time, with its zone")
    parser.add_argument("--dry-run", action="store_true", help="say who would be erased, erase no one")
    args = parser.parse_args(argv)
    return asyncio.run(_main(args.since, args.dry_run))


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Outcome", "erasure_events", "main", "redo"]
