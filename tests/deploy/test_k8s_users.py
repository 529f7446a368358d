"""The KafkaUsers in deploy/k8s give each service exactly the rights its code needs: generated from the
contracts and the AsyncAPI documents (a handler added without regenerating users.yaml fails here), no
service can read a topic it does not consume or write one it does not own, and each operator's tool has
what it needs in the pod the runbook names."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from deploy.k8s.tools import users
from lx_contracts.topics import ALL, USER_ERASED, dlq_of

pytestmark = pytest.mark.unit

SERVICES = ("identity", "skills", "requests", "matcher", "twitter-gateway")


def committed() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(users.USERS_FILE.read_text("utf-8")) if d]
    return {d["metadata"]["name"]: d for d in docs}


def rights(user: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        out.setdefault((resource["type"], resource["name"]), set()).update(acl["operations"])
    return out


def consumed(service: str) -> set[str]:
    return set(users.read_asyncapi(service, users.load_documents()[service]).topics)


def test_the_committed_users_match_the_code() -> None:
    assert users.USERS_FILE.read_text("utf-8") == users.render(), (
        "deploy/k8s/base/kafka/users.yaml is stale: run `python -m deploy.k8s.tools.users`"
    )
    assert users.main(["--check"]) == 0


def test_there_is_a_scram_user_per_service_the_gateway_and_keda() -> None:
    found = committed()
    assert list(found) == [*SERVICES, "gateway", "keda"]
    for user in found.values():
        assert user["apiVersion"] == "kafka.strimzi.io/v1"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "lx"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert user["spec"]["authorization"]["type"] == "simple"
        for acl in user["spec"]["authorization"]["acls"]:
            # Named resources only: no prefixes, no wildcards, no cluster rights, nothing beyond read and write.
            assert acl["resource"]["patternType"] == "literal" and "*" not in acl["resource"]["name"]
            assert acl["resource"]["type"] in ("topic", "group")
            assert set(acl["operations"]) <= {"Read", "Write", "Describe"}
            assert acl.get("type", "allow") == "allow"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_exactly_what_it_owns_and_consumes(service: str) -> None:
    got = rights(committed()[service])
    owned = [t for t in ALL if users.owner_of(t.name) == service]
    assert owned, service
    want: dict[tuple[str, str], set[str]] = {}
    for topic in owned:
        want[("topic", topic.name)] = {"Write", "Describe"}
        want[("topic", topic.dlq)] = {"Read", "Describe"}
    reads = consumed(service)
    for topic in reads:
        want.setdefault(("topic", topic), set()).update({"Read", "Describe"})
        want.setdefault(("topic", dlq_of(topic)), set()).update({"Write", "Describe"})
    if reads:
        want[("group", service)] = {"Read"}
    for topic in users.READS_WITHOUT_GROUP.get(service, ()):
        want.setdefault(("topic", topic), set()).update({"Read", "Describe"})
    assert got == want


def test_a_service_cannot_read_what_it_does_not_consume_nor_write_what_others_own() -> None:
    found = committed()
    matcher = rights(found["matcher"])
    # It consumes profiles, but neither writes them nor reads identity's role changes or X's tweets.
    assert "Write" not in matcher[("topic", "skills.profile-updated.v1")]
    assert ("topic", "identity.role-granted.v1") not in matcher
    assert ("topic", "twitter.tweet-received.v1") not in matcher
    # Only the requests service writes requests' events; the others write only their dead letters.
    for name, user in found.items():
        for (kind, resource), ops in rights(user).items():
            if kind == "topic" and "Write" in ops and not resource.endswith(".dlq"):
                assert users.owner_of(resource) == name, (name, resource)


def test_the_gateway_only_reads_the_erasure_topic() -> None:
    assert rights(committed()["gateway"]) == {("topic", USER_ERASED.name): {"Read", "Describe"}}


def test_keda_only_describes_the_consumed_topics_and_the_groups() -> None:
    got = rights(committed()["keda"])
    topics = set().union(*(consumed(s) for s in SERVICES))
    groups = {s for s in SERVICES if consumed(s)}
    assert got == {
        **{("topic", t): {"Describe"} for t in topics},
        **{("group", g): {"Describe"} for g in groups},
    }


def test_operators_tools_have_what_they_need_in_the_owners_pod() -> None:
    found = {name: rights(user) for name, user in committed().items()}
    for topic in ALL:
        owner = found[users.owner_of(topic.name)]
        # lx-dlq inspect reads the dead letters; republish sends them back to the original topic.
        assert {"Read"} <= owner[("topic", topic.dlq)]
        assert {"Write"} <= owner[("topic", topic.name)]
    # identity_svc.redo_erasures reads the erasure topic from the beginning, without a group.
    assert {"Read", "Describe"} <= found["identity"][("topic", USER_ERASED.name)]


def test_a_new_handler_changes_the_users_and_the_check_catches_it() -> None:
    documents = copy.deepcopy(users.load_documents())
    skills = documents["skills"]
    skills["channels"]["skills consumer:requests.offer-made.v1"] = {"address": "requests.offer-made.v1"}
    skills["operations"]["skills consumer:requests.offer-made.v1Subscribe"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/skills%20consumer:requests.offer-made.v1"},
    }
    rendered = users.render(documents)
    assert rendered != users.USERS_FILE.read_text("utf-8")
    skills_rights = users.derive(documents)["skills"].ops
    assert skills_rights[("topic", "requests.offer-made.v1")] == {"Read", "Describe"}
    assert skills_rights[("topic", "requests.offer-made.v1.dlq")] == {"Write", "Describe"}


def test_a_send_to_another_owners_topic_stops_the_generator() -> None:
    documents = copy.deepcopy(users.load_documents())
    matcher = documents["matcher"]
    matcher["channels"]["requests.request-opened.v1"] = {"address": "requests.request-opened.v1"}
    matcher["operations"]["requests.request-opened.v1"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/requests.request-opened.v1"},
    }
    with pytest.raises(users.DerivationError, match="matcher sends to requests.request-opened.v1"):
        users.derive(documents)


def test_a_topic_outside_the_contracts_or_another_group_stops_the_generator() -> None:
    documents = copy.deepcopy(users.load_documents())
    documents["skills"]["operations"]["x"] = {"action": "receive", "channel": {"$ref": "#/channels/other consumer:t"}}
    with pytest.raises(users.DerivationError, match="consumer groups"):
        users.derive(documents)
    documents = copy.deepcopy(users.load_documents())
    documents["skills"]["channels"]["skills consumer:nobody.thing.v1"] = {"address": "nobody.thing.v1"}
    documents["skills"]["operations"]["y"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/skills%20consumer:nobody.thing.v1"},
    }
    with pytest.raises(users.DerivationError, match="not a topic of lx_contracts"):
        users.derive(documents)
