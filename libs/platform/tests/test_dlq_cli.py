"""lx-dlq against the real broker: dead letters go back to their original topic with their key and
headers; malformed ones and other consumers' stay; a dry run sends nothing."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from lx_devstack.stack import Stack
from lx_devstack.testkit import envelope, read_all
from lx_platform.dlq_cli import read_dead_letters, republish
from lx_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration


async def test_republish_sends_back_what_a_consumer_dead_lettered_and_nothing_else(stack: Stack) -> None:
    topic = f"test.dlq-cli-{uuid.uuid4().hex[:8]}.v1"
    dlq = topic + ".dlq"
    await ensure_topics(stack.bootstrap_servers, {topic: 1, dlq: 1})
    good, other, bad = envelope(topic, {"n": 1}), envelope(topic, {"n": 2}), b"not json"

    def headers(consumer: str, error: str) -> list[tuple[str, bytes]]:
        return [
            ("x-request-id", b"rid-1"),
            ("dlq-error", error.encode()),
            ("dlq-attempts", b"5"),
            ("dlq-consumer", consumer.encode()),
            ("dlq-original-topic", topic.encode()),
            ("dlq-original-partition", b"0"),
            ("dlq-original-offset", b"7"),
        ]

    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(dlq, value=good, key=b"k1", headers=headers("matcher", "ValueError('x')"))
        await producer.send_and_wait(dlq, value=other, key=b"k2", headers=headers("skills", "ValueError('y')"))
        await producer.send_and_wait(dlq, value=bad, key=b"k3", headers=headers("matcher", "malformed envelope: 1"))
    finally:
        await producer.stop()

    listed = [d async for d in read_dead_letters(stack.bootstrap_servers, dlq)]
    assert [d.headers["dlq-consumer"] for d in listed] == ["matcher", "skills", "matcher"]
    assert "value" not in listed[0].summary(show_value=False)

    kwargs = {"since": None, "consumer": "matcher", "event_id": None}
    assert await republish(stack.bootstrap_servers, dlq, dry_run=True, **kwargs) == (1, 1)  # type: ignore[arg-type]
    assert await read_all(stack.bootstrap_servers, topic, timeout_s=5) == []

    assert await republish(stack.bootstrap_servers, dlq, dry_run=False, **kwargs) == (1, 1)  # type: ignore[arg-type]
    back = await read_all(stack.bootstrap_servers, topic, expect=1, timeout_s=15)
    assert [(r.value, r.key) for r in back] == [(good, b"k1")]  # type: ignore[attr-defined]
    sent_headers = dict(back[0].headers)  # type: ignore[attr-defined]
    assert sent_headers["x-request-id"] == b"rid-1"
    assert sent_headers["dlq-republished-from"] == f"{dlq}/0/0".encode()
    assert not [k for k in sent_headers if k.startswith("dlq-") and k != "dlq-republished-from"]
