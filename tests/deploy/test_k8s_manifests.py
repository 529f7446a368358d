"""`make k8s-validate` in the test suite: every overlay renders offline with `kubectl kustomize` and every
object passes its schema and the project's rules; the overlays size things as deploy/k8s/README.md says;
and a broken overlay makes the validator fail."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.k8s.tools import validate
from lx_devstack.services import GATEWAY, SERVICES

# Needs kubectl (offline) but no cluster, Postgres or broker.
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ["dev", "prod"]


def rendered(overlay: str) -> list[dict[str, Any]]:
    try:
        return validate.render(validate.OVERLAYS / overlay)
    except validate.RenderError as error:
        pytest.fail(str(error))


def find(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (obj,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def test_the_overlays_are_the_ones_documented() -> None:
    assert [p.name for p in validate.overlays()] == OVERLAYS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_the_overlay_is_valid(overlay: str) -> None:
    count, problems = validate.validate_overlay(validate.OVERLAYS / overlay)
    assert problems == []
    assert count > 100


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_its_deployment_service_account_and_migration_job(overlay: str) -> None:
    objs = rendered(overlay)
    for spec in (*SERVICES, GATEWAY):
        deployment = find(objs, "Deployment", spec.name)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == spec.name
        find(objs, "ServiceAccount", spec.name)
        find(objs, "Service", spec.name)
        (c,) = pod["containers"]
        env = {e["name"]: e for e in c["env"]}
        assert env[f"{spec.env_prefix}HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        if spec.schema or spec is GATEWAY:
            assert_kafka_client(objs, deployment, spec.name, spec.env_prefix)
        if spec.schema:
            assert env[f"{spec.env_prefix}DATABASE_URL"]["value"].startswith(f"postgresql://{spec.role}@")
            assert env[f"{spec.env_prefix}KAFKA_IDEMPOTENT_PRODUCER"]["value"] == "true"
            job = find(objs, "Job", f"{spec.name}-migrate")
            (m,) = job["spec"]["template"]["spec"]["containers"]
            assert m["image"] == c["image"]
            script = m["command"][2]
            assert m["command"][:2] == ["python", "-c"] and "apply_migrations" in script
            compile(script, f"{spec.name}-migrate", "exec")
            # The settings class it names exists, so the Job reads the same variables as the service.
            (line,) = [x for x in script.splitlines() if x.startswith(f"from {spec.module}.settings import ")]
            settings = importlib.import_module(f"{spec.module}.settings")
            assert getattr(settings, line.rsplit(" ", 1)[1]).model_config["env_prefix"] == spec.env_prefix


def assert_kafka_client(objs: list[dict[str, Any]], deployment: dict[str, Any], user: str, prefix: str) -> None:
    """The service reaches Kafka on the TLS listener as its own KafkaUser, trusting the cluster CA."""
    pod = deployment["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env[f"{prefix}KAFKA_BOOTSTRAP_SERVERS"]["value"] == "lx-kafka-bootstrap:9093"
    assert env[f"{prefix}KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env[f"{prefix}KAFKA_SASL_USERNAME"]["value"] == user
    find(objs, "KafkaUser", user)
    assert env[f"{prefix}KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"lx-kafka-user-{user}",
        "key": "password",
    }
    assert env[f"{prefix}KAFKA_SSL_CAFILE"]["value"] == "/etc/lx/kafka-ca/ca.crt"
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "kafka-ca"]
    assert mount == {"name": "kafka-ca", "mountPath": "/etc/lx/kafka-ca", "readOnly": True}
    (volume,) = [v for v in pod["volumes"] if v["name"] == "kafka-ca"]
    assert volume["secret"] == {"secretName": "lx-cluster-ca-cert", "items": [{"key": "ca.crt", "path": "ca.crt"}]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_listens_only_with_tls_and_scram_and_authorizes_every_call(overlay: str) -> None:
    objs = rendered(overlay)
    kafka = find(objs, "Kafka", "lx")["spec"]
    (listener,) = kafka["kafka"]["listeners"]
    assert (listener["port"], listener["type"], listener["tls"]) == (9093, "internal", True)
    assert listener["authentication"] == {"type": "scram-sha-512"}
    assert kafka["kafka"]["authorization"] == {"type": "simple"}
    (pods, keda) = listener["networkPolicyPeers"]
    (names,) = pods["podSelector"]["matchExpressions"]
    assert sorted(names["values"]) == sorted([*(s.name for s in SERVICES if s.schema), GATEWAY.name])
    assert keda == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
    # The User Operator makes each KafkaUser's credentials, in Secrets the Deployments reference.
    assert kafka["entityOperator"]["userOperator"]["secretPrefix"] == "lx-kafka-user-"
    # Nothing is allowed to the old plain port any more; every Kafka flow is on 9093.
    kafka_ports = set()
    for policy_obj in (o for o in objs if o["kind"] == "NetworkPolicy"):
        spec = policy_obj["spec"]
        rules = [*(spec.get("ingress") or []), *(spec.get("egress") or [])]
        for rule in rules:
            peers = [*(rule.get("to") or []), *(rule.get("from") or [])]
            kafka_peer = any("strimzi.io/cluster" in str(p) for p in peers) or policy_obj["metadata"]["name"] == "kafka"
            for port in rule.get("ports") or []:
                if kafka_peer and port["port"] in (9092, 9093):
                    kafka_ports.add(port["port"])
    assert kafka_ports == {9093}


def test_keda_reads_lag_as_its_own_user_over_tls() -> None:
    objs = rendered("prod")
    auth = find(objs, "TriggerAuthentication", "kafka-lag")["spec"]
    config = find(objs, "ConfigMap", "lx-keda-kafka")["data"]
    by_parameter = {r["parameter"]: r for r in auth["configMapTargetRef"]}
    assert {p: config[r["key"]] for p, r in by_parameter.items()} == {
        "sasl": "scram_sha512",
        "tls": "enable",
        "username": "keda",
    }
    secrets = {r["parameter"]: (r["name"], r["key"]) for r in auth["secretTargetRef"]}
    assert secrets == {"password": ("lx-kafka-user-keda", "password"), "ca": ("lx-cluster-ca-cert", "ca.crt")}
    find(objs, "KafkaUser", "keda")
    for scaled in (o for o in objs if o["kind"] == "ScaledObject"):
        (lag,) = [t for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
        assert lag["authenticationRef"] == {"name": "kafka-lag"}
        assert lag["metadata"]["bootstrapServers"] == "lx-kafka-bootstrap.labour-exchange.svc:9093"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_database_has_a_login_role_per_service_schema(overlay: str) -> None:
    cluster = find(rendered(overlay), "Cluster", "lx-postgres")["spec"]
    roles = {r["name"]: r for r in cluster["managed"]["roles"]}
    sql = "\n".join(cluster["bootstrap"]["initdb"]["postInitApplicationSQL"])
    for spec in SERVICES:
        if spec.schema:
            assert roles[spec.role]["login"] is True and roles[spec.role]["superuser"] is False
            assert roles[spec.role]["passwordSecret"]["name"] == f"lx-postgres-{spec.schema}"
            assert f"CREATE SCHEMA {spec.schema} AUTHORIZATION {spec.role}" in sql
    # The key vault, as the local stack makes it: identity's, the others may only use its functions.
    assert "CREATE SCHEMA keyvault AUTHORIZATION lx_identity" in sql
    others = ", ".join(str(s.role) for s in SERVICES if s.role and s.name != "identity")
    assert f"GRANT USAGE ON SCHEMA keyvault TO {others}" in sql
    assert cluster["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")


def test_the_overlays_size_things_as_documented() -> None:
    dev, prod = rendered("dev"), rendered("prod")
    assert {o["spec"]["replicas"] for o in dev if o["kind"] == "Deployment"} == {1}
    assert {o["spec"]["replicas"] for o in prod if o["kind"] == "Deployment"} == {3}
    assert [o["metadata"]["name"] for o in dev if o["kind"] == "KafkaNodePool"] == ["brokers"]
    assert find(dev, "KafkaNodePool", "brokers")["spec"]["roles"] == ["controller", "broker"]
    assert find(prod, "KafkaNodePool", "brokers")["spec"]["replicas"] == 6
    assert find(prod, "KafkaNodePool", "controllers")["spec"]["replicas"] == 3
    assert {o["spec"]["replicas"] for o in dev if o["kind"] == "KafkaTopic"} == {1}
    assert {o["spec"]["replicas"] for o in prod if o["kind"] == "KafkaTopic"} == {3}
    assert find(dev, "Cluster", "lx-postgres")["spec"]["instances"] == 1
    assert find(prod, "Cluster", "lx-postgres")["spec"]["storage"]["size"] == "500Gi"
    assert find(prod, "HTTPRoute", "labour-exchange")["spec"]["hostnames"] == ["www.labour-exchange.example.org"]


def test_the_consumers_scale_on_lag_and_the_http_services_on_cpu() -> None:
    objs = rendered("prod")
    for spec in SERVICES:
        if spec.schema:
            scaled = find(objs, "ScaledObject", spec.name)["spec"]
            lag = [t for t in scaled["triggers"] if t["type"] == "kafka"]
            assert lag and lag[0]["metadata"]["consumerGroup"] == spec.name
            assert scaled["maxReplicaCount"] <= 12
    for name in ("gateway", "web"):
        find(objs, "HorizontalPodAutoscaler", name)


def test_the_validator_fails_on_a_broken_overlay(tmp_path: Path) -> None:
    """An overlay that drops the matcher's limits and a DLQ topic, run through the same command as
    `make k8s-validate`: it must fail and say why."""
    base = os.path.relpath(validate.K8S / "base", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- {base}
images:
- {{name: labour-exchange/matcher, newTag: "1.0.0"}}
patches:
- target: {{kind: Deployment, name: matcher}}
  patch: |-
    - {{op: remove, path: /spec/template/spec/containers/0/resources/limits}}
- target: {{kind: KafkaTopic, name: matcher-match-proposed-v1-dlq}}
  patch: |-
    $patch: delete
    apiVersion: kafka.strimzi.io/v1
    kind: KafkaTopic
    metadata:
      name: matcher-match-proposed-v1-dlq
"""
    )
    done = subprocess.run(
        [sys.executable, "-m", "deploy.k8s.tools.validate", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Deployment/matcher container matcher: no cpu limits" in done.stdout
    assert "no dead-letter topic matcher.match-proposed.v1.dlq" in done.stdout
    assert "topic matcher.match-proposed.v1.dlq (lx_contracts) has no KafkaTopic" in done.stdout


def test_make_k8s_validate_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "deploy.k8s.tools.validate"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dev: " in done.stdout and "prod: " in done.stdout
