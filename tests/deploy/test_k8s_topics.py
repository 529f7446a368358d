"""Every topic of the contracts, and its dead-letter topic, is a KafkaTopic in deploy/k8s: a topic added to
lx_contracts.topics without regenerating topics.yaml fails here."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from deploy.k8s.tools import topics, validate
from lx_contracts import identity
from lx_contracts.topics import ALL, Topic, all_topic_names

pytestmark = pytest.mark.unit


def test_the_committed_topics_match_the_contracts() -> None:
    assert topics.TOPICS_FILE.read_text("utf-8") == topics.render(), (
        "deploy/k8s/base/kafka/topics.yaml is stale: run `python -m deploy.k8s.tools.topics`"
    )
    assert topics.main(["--check"]) == 0


def test_a_new_topic_without_its_kafka_topic_is_caught() -> None:
    new = Topic("identity.user-renamed.v1", identity.UserUpdated)
    assert topics.render((*ALL, new)) != topics.TOPICS_FILE.read_text("utf-8")
    committed = [d for d in yaml.safe_load_all(topics.TOPICS_FILE.read_text("utf-8")) if d]
    assert validate.contract_topics_present(committed) == []
    missing = [d for d in committed if d["spec"]["topicName"] != "matcher.match-proposed.v1.dlq"]
    assert validate.contract_topics_present(missing) == [
        "topic matcher.match-proposed.v1.dlq (lx_contracts) has no KafkaTopic"
    ]


def test_every_topic_and_its_dlq_is_declared_with_partitions_replicas_and_retention() -> None:
    docs = {d["spec"]["topicName"]: d for d in yaml.safe_load_all(topics.TOPICS_FILE.read_text("utf-8")) if d}
    assert sorted(docs) == sorted(all_topic_names())
    for topic in ALL:
        event, dlq = docs[topic.name]["spec"], docs[topic.dlq]["spec"]
        assert event["partitions"] == topic.partitions
        assert event["replicas"] == 3 and event["config"]["min.insync.replicas"] == 2
        assert event["config"]["retention.ms"] == topics.EVENT_RETENTION_MS
        assert 1 <= dlq["partitions"] <= topic.partitions
        assert dlq["config"]["retention.ms"] > event["config"]["retention.ms"]


def test_partition_counts_come_from_the_contracts() -> None:
    few = dataclasses.replace(ALL[0], partitions=2)
    (event, dlq) = topics.topics_for(few)
    assert event["spec"]["partitions"] == 2 and dlq["spec"]["partitions"] == 2
