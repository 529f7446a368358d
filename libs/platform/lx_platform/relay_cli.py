"""Operate a service's outbox from the command line: run the relay alone, or replay a topic.

lx-relay run    --dsn DSN --schema identity [--bootstrap 127.0.0.1:19092]
lx-relay replay --dsn DSN --schema identity --since 2026-01-01T00:00:00Z [--topic T]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import datetime, timedelta

from lx_platform.db import create_pool
from lx_platform.kafka import make_producer
from lx_platform.kafka_security import aiokafka_kwargs, client_settings
from lx_platform.logging import configure_logging
from lx_platform.outbox import OutboxRelay, replay


async def _run(args: argparse.Namespace) -> None:
    pool = await create_pool(args.dsn, schema=args.schema, application_name=f"{args.schema}-relay")
    kafka = client_settings(args.kafka_env_prefix)  # the pod's own Kafka user; PLAINTEXT locally
    producer = make_producer(
        args.bootstrap or kafka.kafka_bootstrap_servers,
        client_id=f"{args.schema}-relay",
        idempotent=args.idempotent,
        security=aiokafka_kwargs(kafka),
    )
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    relay = OutboxRelay(
        pool=pool,
        schema=args.schema,
        producer=producer,
        batch_size=args.batch_size,
        retention=timedelta(hours=args.retention_hours),
    )
    try:
        await relay.run(stop)
    finally:
        await producer.stop()
        await pool.close()


async def _replay(args: argparse.Namespace) -> None:
    pool = await create_pool(args.dsn, schema=args.schema, application_name=f"{args.schema}-replay")
    try:
        n = await replay(pool, topic=args.topic, since=datetime.fromisoformat(args.since))
        print(f"marked {n} retained events for re-publication")
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lx-relay", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the relay until SIGTERM")
    rep = sub.add_parser("replay", help="re-publish retained events")
    for p in (run, rep):
        p.add_argument("--dsn", required=True)
        p.add_argument("--schema", required=True)
    run.add_argument("--bootstrap", default=None, help="default: the pod's <PREFIX>KAFKA_BOOTSTRAP_SERVERS")
    run.add_argument("--kafka-env-prefix", default=None, help="whose Kafka settings to use, e.g. IDENTITY_")
    run.add_argument("--batch-size", type=int, default=500)
    run.add_argument("--retention-hours", type=float, default=24 * 7)
    run.add_argument("--idempotent", action="store_true")
    rep.add_argument("--since", required=True, help="ISO 8601 time")
    rep.add_argument("--topic", default=None)
    args = parser.parse_args(argv)
    configure_logging(f"{args.schema}-relay")
    asyncio.run(_run(args) if args.command == "run" else _replay(args))


if __name__ == "__main__":
    main()
