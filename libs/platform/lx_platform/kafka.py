"""Kafka clients with the project's delivery settings, and explicit topic creation."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


def make_producer(bootstrap_servers: str, *, client_id: str, idempotent: bool) -> AIOKafkaProducer:
    """acks=all always; idempotence where the broker supports it (Apache Kafka, not the dev broker)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=idempotent,
        linger_ms=5,
        request_timeout_ms=15_000,
    )


async def ensure_topics(bootstrap_servers: str, topics: dict[str, int]) -> list[str]:
    """Create the topics that do not exist yet, with the given partition counts."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="lx-topics")
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
