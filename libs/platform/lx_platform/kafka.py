"""Kafka clients with the project's delivery settings, reading a topic to its end, and explicit topic creation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

log = logging.getLogger(__name__)


def make_producer(
    bootstrap_servers: str, *, client_id: str, idempotent: bool, security: Mapping[str, Any] | None = None
) -> AIOKafkaProducer:
    """acks=all always; idempotence where the broker supports it (Apache Kafka, not the dev broker);
    `security` is `lx_platform.kafka_security.aiokafka_kwargs(settings)` (empty for the dev broker).

    No linger: the relay hands a whole committed batch to the producer at once (records added while
    a send is in flight are batched anyway) and waits for it, so lingering only delayed each event by
    5 ms, twice on the way from a request opened to its proposals."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=idempotent,
        linger_ms=0,
        request_timeout_ms=15_000,
        **(security or {}),
    )


class ServiceKafkaBroker(KafkaBroker):
    """FastStream's broker whose subscribers fetch with the project's `fetch_max_wait_ms` unless told otherwise.

    A consumer waits for new records by sending a fetch that the broker holds for up to
    `fetch_max_wait_ms`. The dev broker (Tansu) does not answer a held fetch when a record arrives: the
    record waits for the fetch to end. From produce to a group consumer of 14 topics x 12 partitions at
    40 records a second (bench/README.md): p50 117 ms, p99 300 ms at aiokafka's default of 500 ms;
    31 / 68 ms at 100 ms; 20 / 40 ms at 50 ms; 14 / 26 ms at 20 ms; even one partition at 3 records a
    second waited 99 / 260 ms at 500 ms. aiokafka also sends no new fetch to a broker while one is held,
    so on any broker a record of a partition just read can wait out the held fetch. A shorter wait
    costs CPU while idle: every empty fetch is answered and parsed (about 1.8 ms of the consumer's CPU
    per fetch for 168 partitions: 0.8 % of a core at 500 ms, 4 % at 50 ms, 9 % at 20 ms)."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int = 500, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = fetch_max_wait_ms

    def subscriber(self, *topics: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("fetch_max_wait_ms", self.fetch_max_wait_ms)
        return super().subscriber(*topics, **kwargs)


async def read_to_end(
    bootstrap_servers: str, topic: str, *, client_id: str, security: Mapping[str, Any] | None = None
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record the topic held when the call began, from its beginning, for operators' tools (no consumer
    group: nothing is committed); nothing when the topic does not exist."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, client_id=client_id, **(security or {})
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - a topic not yet in the cached metadata
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        left = {tp for tp in tps if ends[tp] > 0}
        while left:
            batch = await consumer.getmany(*left, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < ends[tp]:
                        yield r
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
    finally:
        await consumer.stop()


async def ensure_topics(
    bootstrap_servers: str, topics: dict[str, int], *, security: Mapping[str, Any] | None = None
) -> list[str]:
    """Create the topics that do not exist yet, with the given partition counts (the local stack and benches;
    in production Strimzi's KafkaTopics make them and the services' users may not)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="lx-topics", **(security or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics.items() if name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in wanted]
    finally:
        await admin.close()
