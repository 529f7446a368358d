"""The rules every rendered overlay must keep, beyond what the schemas say (pure: objects in, findings out).

- every container of every workload runs as a non-root user, with a read-only root filesystem, without
  privilege escalation, with every capability dropped, and with CPU and memory requests and limits;
- every Deployment's containers have liveness and readiness probes;
- every Deployment has a PodDisruptionBudget and a NetworkPolicy of its own that select its pods, and is
  scaled by exactly one HorizontalPodAutoscaler or KEDA ScaledObject;
- the namespace denies all traffic by default;
- every KafkaTopic that is not a dead-letter topic has its dead-letter topic (`<topic>.dlq`);
- every container that talks to Kafka does so over SASL_SSL on the TLS listener as a KafkaUser that exists,
  with that user's password from the Secret the User Operator makes and the cluster CA mounted read-only;
  every KEDA kafka trigger authenticates through a TriggerAuthentication that exists;
- secrets are referenced, never written: no Secret objects, no literal values of secret-looking variables,
  no password in a database URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lx_contracts.topics import DLQ_SUFFIX

Manifest = Mapping[str, Any]

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")
SECRET_NAME = re.compile(r"(KEY|KEYS|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:]+:[^/@]+@", re.IGNORECASE)


def ident(obj: Manifest) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('name')}"


def pod_template(obj: Manifest) -> Mapping[str, Any] | None:
    if obj.get("kind") in WORKLOADS:
        template: Mapping[str, Any] | None = (obj.get("spec") or {}).get("template")
        return template
    if obj.get("kind") == "CronJob":
        job_template = ((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
        cron_template: Mapping[str, Any] | None = job_template.get("template")
        return cron_template
    return None


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions) selects these labels.
    An empty selector selects everything; a missing one nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _is_empty_selector(selector: Mapping[str, Any] | None) -> bool:
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")


def check_containers(obj: Manifest) -> Iterator[str]:
    template = pod_template(obj)
    if template is None:
        return
    name = ident(obj)
    pod = template.get("spec") or {}
    pod_sc = pod.get("securityContext") or {}
    if (pod_sc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        yield f"{name}: the pod has no RuntimeDefault seccomp profile"
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        yield f"{name}: the pod shares the host's network, PIDs or IPC"
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    if not containers:
        yield f"{name}: no containers"
    for c in containers:
        where = f"{name} container {c.get('name')}"
        sc = c.get("securityContext") or {}
        run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        run_as_user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if run_as_non_root is not True:
            yield f"{where}: runAsNonRoot is not true"
        if run_as_user == 0:
            yield f"{where}: runs as uid 0"
        if sc.get("readOnlyRootFilesystem") is not True:
            yield f"{where}: the root filesystem is not read-only"
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"{where}: privilege escalation is not disabled"
        if sc.get("privileged"):
            yield f"{where}: privileged"
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"{where}: capabilities are not all dropped"
        if caps.get("add"):
            yield f"{where}: adds capabilities {caps['add']}"
        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(kind) or {}):
                    yield f"{where}: no {resource} {kind}"
        image = str(c.get("image") or "")
        if not image or image.endswith(":latest") or (":" not in image.rsplit("/", 1)[-1] and "@" not in image):
            yield f"{where}: the image {image!r} has no fixed tag or digest"
        for env in c.get("env") or []:
            if "value" in env and SECRET_NAME.search(env["name"]) and env["value"]:
                yield f"{where}: {env['name']} is written in the manifest; reference a Secret"
            if "value" in env and URL_WITH_PASSWORD.search(str(env["value"])):
                yield f"{where}: {env['name']} carries a password; reference a Secret"
    if obj.get("kind") == "Deployment":
        for c in pod.get("containers") or []:
            for probe in ("livenessProbe", "readinessProbe"):
                if not c.get(probe):
                    yield f"{name} container {c.get('name')}: no {probe}"


def check_deployments(objs: list[Manifest]) -> Iterator[str]:
    pdbs = [o for o in objs if o.get("kind") == "PodDisruptionBudget"]
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    scalers: dict[str, list[str]] = {}
    for o in objs:
        if o.get("kind") in ("HorizontalPodAutoscaler", "ScaledObject"):
            target = (o.get("spec") or {}).get("scaleTargetRef") or {}
            if target.get("kind", "Deployment") == "Deployment":
                scalers.setdefault(target.get("name", ""), []).append(ident(o))
    deployments = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "Deployment"}
    for name, dep in deployments.items():
        labels = ((dep["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not any(selector_matches((p.get("spec") or {}).get("selector"), labels) for p in pdbs):
            yield f"Deployment/{name}: no PodDisruptionBudget selects its pods"
        own = [
            p
            for p in policies
            if not _is_empty_selector((p.get("spec") or {}).get("podSelector"))
            and selector_matches((p.get("spec") or {}).get("podSelector"), labels)
        ]
        if not own:
            yield f"Deployment/{name}: no NetworkPolicy of its own selects its pods"
        found = scalers.get(name, [])
        if len(found) != 1:
            yield f"Deployment/{name}: scaled by {found or 'nothing'}; want exactly one HPA or ScaledObject"
    for target, found in scalers.items():
        if target not in deployments:
            yield f"{', '.join(found)}: scales Deployment/{target}, which does not exist"


def check_default_deny(objs: list[Manifest]) -> Iterator[str]:
    for p in objs:
        if p.get("kind") != "NetworkPolicy":
            continue
        spec = p.get("spec") or {}
        if (
            _is_empty_selector(spec.get("podSelector"))
            and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            return
    yield "no default-deny NetworkPolicy (every pod, Ingress and Egress, no rules)"


def check_topics(objs: list[Manifest]) -> Iterator[str]:
    names = {
        (o.get("spec") or {}).get("topicName") or o["metadata"]["name"]: o
        for o in objs
        if o.get("kind") == "KafkaTopic"
    }
    for topic in sorted(names):
        if not topic.endswith(DLQ_SUFFIX) and topic + DLQ_SUFFIX not in names:
            yield f"KafkaTopic {topic}: no dead-letter topic {topic + DLQ_SUFFIX}"


KAFKA_PORT = "9093"
KAFKA_USER_SECRET_PREFIX = "lx-kafka-user-"  # noqa: S105 - a Secret's name
KAFKA_CA_SECRET = "lx-cluster-ca-cert"  # noqa: S105 - a Secret's name


def check_kafka_clients(objs: list[Manifest]) -> Iterator[str]:
    users = {o["metadata"]["name"] for o in objs if o.get("kind") == "KafkaUser"}
    for o in objs:
        template = pod_template(o)
        if template is None:
            continue
        pod = template.get("spec") or {}
        ca_volumes = {
            v.get("name")
            for v in pod.get("volumes") or []
            if (v.get("secret") or {}).get("secretName") == KAFKA_CA_SECRET
        }
        for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            env = {e.get("name", ""): e for e in c.get("env") or []}
            bootstrap = [n for n in env if n.endswith("KAFKA_BOOTSTRAP_SERVERS")]
            if not bootstrap:
                continue
            where = f"{ident(o)} container {c.get('name')}"
            prefix = bootstrap[0][: -len("KAFKA_BOOTSTRAP_SERVERS")]
            servers = str(env[bootstrap[0]].get("value", ""))
            if not servers or any(not s.strip().endswith(f":{KAFKA_PORT}") for s in servers.split(",")):
                yield f"{where}: {bootstrap[0]} is not the TLS listener (port {KAFKA_PORT})"
            if (env.get(f"{prefix}KAFKA_SECURITY_PROTOCOL") or {}).get("value") != "SASL_SSL":
                yield f"{where}: {prefix}KAFKA_SECURITY_PROTOCOL is not SASL_SSL"
            user = str((env.get(f"{prefix}KAFKA_SASL_USERNAME") or {}).get("value", ""))
            if user not in users:
                yield f"{where}: {prefix}KAFKA_SASL_USERNAME {user!r} is not a KafkaUser"
            ref = ((env.get(f"{prefix}KAFKA_SASL_PASSWORD") or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") != f"{KAFKA_USER_SECRET_PREFIX}{user}" or ref.get("key") != "password":
                yield f"{where}: {prefix}KAFKA_SASL_PASSWORD is not the password of {KAFKA_USER_SECRET_PREFIX}{user}"
            cafile = str((env.get(f"{prefix}KAFKA_SSL_CAFILE") or {}).get("value", ""))
            mounted = [
                m
                for m in c.get("volumeMounts") or []
                if m.get("name") in ca_volumes
                and m.get("readOnly") is True
                and cafile.startswith(f"{m.get('mountPath')}/")
            ]
            if not mounted:
                yield f"{where}: {prefix}KAFKA_SSL_CAFILE is not in a read-only mount of {KAFKA_CA_SECRET}"
    auths = {o["metadata"]["name"] for o in objs if o.get("kind") == "TriggerAuthentication"}
    for o in objs:
        if o.get("kind") != "ScaledObject":
            continue
        for trigger in (o.get("spec") or {}).get("triggers") or []:
            if trigger.get("type") == "kafka" and (trigger.get("authenticationRef") or {}).get("name") not in auths:
                yield f"{ident(o)}: kafka trigger {trigger.get('name')} has no TriggerAuthentication"


def check_secrets(objs: list[Manifest]) -> Iterator[str]:
    for o in objs:
        if o.get("kind") == "Secret":
            yield f"{ident(o)}: secrets are referenced by the manifests, never written in them"


def check(objs: Iterable[Manifest]) -> list[str]:
    """Every finding of the rules above, as sentences; empty when all hold."""
    items = [o for o in objs if o]
    findings: list[str] = []
    for o in items:
        findings.extend(check_containers(o))
    findings.extend(check_deployments(items))
    findings.extend(check_default_deny(items))
    findings.extend(check_topics(items))
    findings.extend(check_kafka_clients(items))
    findings.extend(check_secrets(items))
    return findings
