"""Render every overlay and validate every object, offline: core kinds against the Kubernetes schemas of the
target version (kubernetes-validate), custom resources against the CRD schemas vendored in
`deploy/k8s/schemas/`, then the project's rules (`policy.py`), the KafkaTopics against the contracts and the
KafkaUsers against the code (`users.py`).

    python -m deploy.k8s.tools.validate                      # every overlay under deploy/k8s/overlays
    python -m deploy.k8s.tools.validate deploy/k8s/overlays/dev

Exits 1 with one line per problem. `make k8s-validate` runs it; `make test` runs it through
tests/deploy/test_k8s_manifests.py.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from deploy.k8s.tools import policy, topics, users

K8S = Path(__file__).resolve().parent.parent
SCHEMAS = K8S / "schemas"
OVERLAYS = K8S / "overlays"
KUBERNETES_VERSION = "1.32.0"

Manifest = Mapping[str, Any]


class RenderError(Exception):
    pass


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize <directory>` builds (offline: no cluster is asked)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RenderError("kubectl is missing: install kubectl 1.32 (it renders kustomizations offline)")
    done = subprocess.run(  # noqa: S603 - a fixed program with a path we chose
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RenderError(f"kubectl kustomize {directory} failed: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _structural(schema: Any) -> Any:
    """An OpenAPI v3 structural schema as the API server applies it, in JSON Schema (draft 4) terms."""
    if isinstance(schema, list):
        return [_structural(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _structural(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in schema and "additionalProperties" not in schema and not preserve:
        # The API server would drop unknown fields without a word: a misspelt field is an error here.
        out["additionalProperties"] = False
    return out


def schema_path(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return SCHEMAS / group / f"{kind.lower()}-{version}.json"


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.Draft4Validator | None:
    path = schema_path(api_version, kind)
    if not path.exists():
        return None
    schema = _structural(json.loads(path.read_text("utf-8")))
    # metadata is checked by the API server (ObjectMeta), not by the CRD's schema.
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    return jsonschema.Draft4Validator(schema)


def is_custom(obj: Manifest) -> bool:
    """A custom resource: of a group we vendor a schema for, or of any group outside Kubernetes' own."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    vendored = {p.name for p in SCHEMAS.iterdir() if p.is_dir()}
    return group in vendored or ("." in group and not group.endswith(".k8s.io"))


def validate_object(obj: Manifest) -> list[str]:
    """Schema problems of one object: custom resources against the vendored CRD schema, the rest against
    Kubernetes' own schema of KUBERNETES_VERSION (strict: unknown fields are errors)."""
    where = policy.ident(obj)
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if is_custom(obj):
        validator = _validator(api_version, kind)
        if validator is None:
            return [f"{where}: no schema for {api_version} {kind} in {SCHEMAS.relative_to(K8S.parent.parent)}"]
        return [
            f"{where}: {'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
        ]
    try:
        kubernetes_validate.validate(copy.deepcopy(dict(obj)), KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = "/".join(str(p) for p in error.path) or "(root)"
        return [f"{where}: {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{where}: {api_version} {kind} is not a kind of Kubernetes {KUBERNETES_VERSION}"]
    return []


def contract_topics_present(objs: Iterable[Manifest]) -> list[str]:
    """Every topic of the contracts, and its dead-letter topic, is a KafkaTopic of the rendered overlay."""
    present = {(o.get("spec") or {}).get("topicName") for o in objs if o.get("kind") == "KafkaTopic"}
    from lx_contracts.topics import all_topic_names

    return [f"topic {name} (lx_contracts) has no KafkaTopic" for name in all_topic_names() if name not in present]


def validate_objects(objs: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    for obj in objs:
        problems.extend(validate_object(obj))
    problems.extend(policy.check(objs))
    problems.extend(contract_topics_present(objs))
    return problems


def validate_overlay(directory: Path) -> tuple[int, list[str]]:
    """(objects rendered, problems) of one overlay."""
    try:
        objs = render(directory)
    except RenderError as error:
        return 0, [str(error)]
    return len(objs), validate_objects(objs)


def overlays() -> list[Path]:
    return sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("overlays", nargs="*", type=Path, help="kustomization folders (default: every overlay)")
    args = parser.parse_args(argv)
    failed = False
    if topics.main(["--check"]) != 0:
        failed = True
    if users.main(["--check"]) != 0:
        failed = True
    for directory in args.overlays or overlays():
        count, problems = validate_overlay(directory)
        for problem in problems:
            print(f"{directory.name}: {problem}")
        print(f"{directory.name}: {count} objects, {len(problems)} problems")
        failed = failed or bool(problems) or count == 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
