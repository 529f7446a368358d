"""The rules of the manifests catch what they are for: each test breaks one thing in a small, valid set of
objects and expects that finding, so a checker that stopped looking would fail here."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from deploy.k8s.tools import policy, validate

pytestmark = pytest.mark.unit

Objs = dict[str, dict[str, Any]]

LABELS = {"app.kubernetes.io/name": "matcher", "app.kubernetes.io/component": "server"}


def good() -> Objs:
    container = {
        "name": "matcher",
        "image": "registry.example.org/labour-exchange/matcher:1.0.0",
        "env": [
            {"name": "MATCHER_DATABASE_URL", "value": "postgresql://lx_matcher@lx-postgres-rw:5432/labour_exchange"},
            {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "lx-postgres-matcher", "key": "password"}}},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "deployment": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "matcher"},
            "spec": {
                "selector": {"matchLabels": LABELS},
                "template": {
                    "metadata": {"labels": dict(LABELS)},
                    "spec": {
                        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [container],
                    },
                },
            },
        },
        "pdb": {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "matcher"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(LABELS)}},
        },
        "netpol": {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "matcher"},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "matcher"}}, "policyTypes": ["Egress"]},
        },
        "deny": {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        "scaler": {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "matcher"},
            "spec": {"scaleTargetRef": {"name": "matcher"}, "triggers": []},
        },
        "topic": {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": {"name": "matcher-match-proposed-v1"},
            "spec": {"topicName": "matcher.match-proposed.v1"},
        },
        "dlq": {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": {"name": "matcher-match-proposed-v1-dlq"},
            "spec": {"topicName": "matcher.match-proposed.v1.dlq"},
        },
    }


def container(objs: Objs) -> dict[str, Any]:
    c: dict[str, Any] = objs["deployment"]["spec"]["template"]["spec"]["containers"][0]
    return c


def test_the_good_set_has_no_findings() -> None:
    assert policy.check(good().values()) == []


def _drop_limits(o: Objs) -> None:
    del container(o)["resources"]["limits"]


def _root(o: Objs) -> None:
    container(o)["securityContext"]["runAsUser"] = 0


def _not_non_root(o: Objs) -> None:
    del container(o)["securityContext"]["runAsNonRoot"]
    o["deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False


def _writable(o: Objs) -> None:
    container(o)["securityContext"]["readOnlyRootFilesystem"] = False


def _escalation(o: Objs) -> None:
    del container(o)["securityContext"]["allowPrivilegeEscalation"]


def _capabilities(o: Objs) -> None:
    container(o)["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}


def _no_readiness(o: Objs) -> None:
    del container(o)["readinessProbe"]


def _no_liveness(o: Objs) -> None:
    del container(o)["livenessProbe"]


def _no_pdb(o: Objs) -> None:
    o["pdb"]["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "skills"}}


def _only_default_deny(o: Objs) -> None:
    del o["netpol"]


def _no_default_deny(o: Objs) -> None:
    o["deny"]["spec"]["egress"] = [{}]


def _no_scaler(o: Objs) -> None:
    del o["scaler"]


def _two_scalers(o: Objs) -> None:
    o["hpa"] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "matcher"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "matcher"}},
    }


def _no_dlq(o: Objs) -> None:
    del o["dlq"]


def _secret_literal(o: Objs) -> None:
    container(o)["env"].append({"name": "MATCHER_TOKEN_KEYS", "value": "k1:abc"})


def _password_in_url(o: Objs) -> None:
    container(o)["env"][0]["value"] = "postgresql://lx_matcher:hunter2@lx-postgres-rw/labour_exchange"


def _secret_object(o: Objs) -> None:
    o["secret"] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "lx-web"}, "data": {}}


def _latest(o: Objs) -> None:
    container(o)["image"] = "registry.example.org/labour-exchange/matcher:latest"


@pytest.mark.parametrize(
    ("breakage", "finding"),
    [
        (_drop_limits, "no cpu limits"),
        (_root, "runs as uid 0"),
        (_not_non_root, "runAsNonRoot is not true"),
        (_writable, "root filesystem is not read-only"),
        (_escalation, "privilege escalation is not disabled"),
        (_capabilities, "capabilities are not all dropped"),
        (_no_readiness, "no readinessProbe"),
        (_no_liveness, "no livenessProbe"),
        (_no_pdb, "no PodDisruptionBudget"),
        (_only_default_deny, "no NetworkPolicy of its own"),
        (_no_default_deny, "no default-deny NetworkPolicy"),
        (_no_scaler, "scaled by nothing"),
        (_two_scalers, "want exactly one"),
        (_no_dlq, "no dead-letter topic matcher.match-proposed.v1.dlq"),
        (_secret_literal, "MATCHER_TOKEN_KEYS is written in the manifest"),
        (_password_in_url, "MATCHER_DATABASE_URL carries a password"),
        (_secret_object, "Secret/lx-web: secrets are referenced"),
        (_latest, "has no fixed tag or digest"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_the_rules_catch_a_breakage(breakage: Callable[[Objs], None], finding: str) -> None:
    objs = copy.deepcopy(good())
    breakage(objs)
    findings = policy.check(objs.values())
    assert any(finding in f for f in findings), findings


def test_a_job_needs_the_hardening_and_limits_but_no_probes() -> None:
    objs = good()
    pod = copy.deepcopy(objs["deployment"]["spec"]["template"])
    del pod["spec"]["containers"][0]["livenessProbe"], pod["spec"]["containers"][0]["readinessProbe"]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "matcher-migrate"}, "spec": {"template": pod}}
    assert policy.check([*objs.values(), job]) == []
    del pod["spec"]["containers"][0]["resources"]["requests"]
    assert "Job/matcher-migrate container matcher: no memory requests" in policy.check([*objs.values(), job])


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ({}, {"a": "1"}, True),
        (None, {"a": "1"}, False),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}, {"a": "3"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"b": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"}, True),
    ],
)
def test_label_selectors_select_as_kubernetes_does(
    selector: dict[str, Any] | None, labels: dict[str, str], selected: bool
) -> None:
    assert policy.selector_matches(selector, labels) is selected


# -- schemas of the custom resources -------------------------------------------------------------


def topic(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t", "labels": {"strimzi.io/cluster": "lx"}},
        "spec": {"topicName": "t", "partitions": 12, "replicas": 3, "config": {"retention.ms": 1}, **spec},
    }


def test_a_valid_custom_resource_passes() -> None:
    assert validate.validate_object(topic()) == []


def test_a_misspelt_field_of_a_custom_resource_is_an_error() -> None:
    problems = validate.validate_object(topic(partiton=3))
    assert problems == ["KafkaTopic/t: spec: Additional properties are not allowed ('partiton' was unexpected)"]


def test_a_wrongly_typed_field_of_a_custom_resource_is_an_error() -> None:
    assert validate.validate_object(topic(partitions="twelve")) == [
        "KafkaTopic/t: spec/partitions: 'twelve' is not of type 'integer'"
    ]


def test_free_form_fields_stay_free() -> None:
    # Strimzi's topic config is x-kubernetes-preserve-unknown-fields: any Kafka setting goes.
    assert validate.validate_object(topic(config={"segment.bytes": 1073741824, "cleanup.policy": "compact"})) == []


def test_a_custom_resource_without_a_vendored_schema_is_an_error() -> None:
    obj = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "m"}}
    assert "no schema for monitoring.coreos.com/v1 ServiceMonitor" in validate.validate_object(obj)[0]


def test_core_kinds_are_checked_strictly_at_the_target_version() -> None:
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}}
    assert validate.validate_object(sa) == []
    assert "'automountToken' was unexpected" in validate.validate_object({**sa, "automountToken": False})[0]
    gone = {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "p"}}
    assert "is not a kind of Kubernetes 1.32.0" in validate.validate_object(gone)[0]


def test_structural_schemas_follow_the_api_server() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"x-kubernetes-int-or-string": True},
            "b": {"type": "string", "nullable": True},
            "c": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"d": {}}},
        },
    }
    assert validate._structural(schema) == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "a": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "b": {"type": ["string", "null"]},
            "c": {"type": "object", "properties": {"d": {}}},
        },
    }


# -- Kafka clients authenticate ------------------------------------------------------------------


def with_kafka() -> Objs:
    """The good set, with the matcher talking to Kafka as its KafkaUser over TLS and KEDA reading its lag."""
    objs = good()
    c = container(objs)
    c["env"] += [
        {"name": "MATCHER_KAFKA_BOOTSTRAP_SERVERS", "value": "lx-kafka-bootstrap:9093"},
        {"name": "MATCHER_KAFKA_SECURITY_PROTOCOL", "value": "SASL_SSL"},
        {"name": "MATCHER_KAFKA_SASL_USERNAME", "value": "matcher"},
        {
            "name": "MATCHER_KAFKA_SASL_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "lx-kafka-user-matcher", "key": "password"}},
        },
        {"name": "MATCHER_KAFKA_SSL_CAFILE", "value": "/etc/lx/kafka-ca/ca.crt"},
    ]
    c["volumeMounts"] = [{"name": "kafka-ca", "mountPath": "/etc/lx/kafka-ca", "readOnly": True}]
    objs["deployment"]["spec"]["template"]["spec"]["volumes"] = [
        {"name": "kafka-ca", "secret": {"secretName": "lx-cluster-ca-cert"}}
    ]
    objs["user"] = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaUser", "metadata": {"name": "matcher"}}
    objs["auth"] = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "kafka-lag"},
    }
    objs["scaler"]["spec"]["triggers"] = [
        {"type": "kafka", "name": "consumer-lag", "authenticationRef": {"name": "kafka-lag"}, "metadata": {}}
    ]
    return objs


def _env(o: Objs, name: str) -> dict[str, Any]:
    (e,) = [e for e in container(o)["env"] if e["name"] == name]
    return e


def _plain_port(o: Objs) -> None:
    _env(o, "MATCHER_KAFKA_BOOTSTRAP_SERVERS")["value"] = "lx-kafka-bootstrap:9092"


def _plaintext(o: Objs) -> None:
    _env(o, "MATCHER_KAFKA_SECURITY_PROTOCOL")["value"] = "PLAINTEXT"


def _unknown_user(o: Objs) -> None:
    del o["user"]


def _someone_elses_password(o: Objs) -> None:
    _env(o, "MATCHER_KAFKA_SASL_PASSWORD")["valueFrom"]["secretKeyRef"]["name"] = "lx-kafka-user-identity"


def _ca_not_mounted(o: Objs) -> None:
    container(o)["volumeMounts"] = []


def _ca_writable(o: Objs) -> None:
    container(o)["volumeMounts"][0]["readOnly"] = False


def _lag_without_auth(o: Objs) -> None:
    del o["scaler"]["spec"]["triggers"][0]["authenticationRef"]


def test_a_kafka_client_as_its_user_over_tls_has_no_findings() -> None:
    assert policy.check(with_kafka().values()) == []


@pytest.mark.parametrize(
    ("breakage", "finding"),
    [
        (_plain_port, "MATCHER_KAFKA_BOOTSTRAP_SERVERS is not the TLS listener (port 9093)"),
        (_plaintext, "MATCHER_KAFKA_SECURITY_PROTOCOL is not SASL_SSL"),
        (_unknown_user, "MATCHER_KAFKA_SASL_USERNAME 'matcher' is not a KafkaUser"),
        (_someone_elses_password, "MATCHER_KAFKA_SASL_PASSWORD is not the password of lx-kafka-user-matcher"),
        (_ca_not_mounted, "MATCHER_KAFKA_SSL_CAFILE is not in a read-only mount of lx-cluster-ca-cert"),
        (_ca_writable, "MATCHER_KAFKA_SSL_CAFILE is not in a read-only mount of lx-cluster-ca-cert"),
        (_lag_without_auth, "ScaledObject/matcher: kafka trigger consumer-lag has no TriggerAuthentication"),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else None,
)
def test_the_kafka_rules_catch_a_breakage(breakage: Callable[[Objs], None], finding: str) -> None:
    objs = copy.deepcopy(with_kafka())
    breakage(objs)
    findings = policy.check(objs.values())
    assert any(finding in f for f in findings), findings
