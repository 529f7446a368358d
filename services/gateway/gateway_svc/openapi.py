"""One OpenAPI document for the public API, merged from every service's own."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any

import httpx

from lx_platform.http import PROBLEM_JSON, PROBLEM_SCHEMA

PUBLIC_SERVICES = ("identity", "skills", "requests", "matcher", "twitter-gateway")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# What the gateway itself may answer on any path, before or instead of the service behind it.
GATEWAY_RESPONSES: dict[str, str] = {
    "401": "The token is invalid, expired or its account erased (checked by the gateway on every path)",
    "413": "The request body is over the size limit",
    "414": "The URL is too long",
    "429": "Too many requests from this client; wait for `Retry-After` seconds",
    "431": "The request headers are too large",
    "503": "The service behind this path is not answering; try again after `Retry-After` seconds",
    "504": "The service behind this path did not answer in time",
}


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                name = value.rsplit("/", 1)[-1]
                out[key] = "#/components/schemas/" + renames.get(name, name)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def merge(documents: dict[str, dict[str, Any]], missing: list[str]) -> dict[str, Any]:
    """Merge the services' documents; a schema name two services define differently gets a prefix."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Labour Exchange API",
            "version": "1.0.0",
            "description": "The public API of Labour Exchange, served by the gateway. "
            "Send `Authorization: Bearer <access token>` from `POST /api/v1/auth/token`. "
            "Errors are RFC 9457 `application/problem+json`."
            + (f"\n\nNot answering while this was built: {', '.join(missing)}." if missing else ""),
        },
        "paths": {},
        "components": {
            "schemas": {},
        },
    }
    schemas: dict[str, Any] = merged["components"]["schemas"]
    for service, doc in documents.items():
        own = doc.get("components", {}).get("schemas", {})
        renames = {
            name: f"{service.replace('-', '_')}__{name}"
            for name, schema in own.items()
            if name in schemas and schemas[name] != schema
        }
        doc = _rewrite_refs(copy.deepcopy(doc), renames)
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(name, name)] = schema
        merged["components"].setdefault("securitySchemes", {}).update(
            doc.get("components", {}).get("securitySchemes", {})
        )
        for path, item in doc.get("paths", {}).items():
            if path.startswith("/api/"):
                merged["paths"][path] = item
    _add_gateway_responses(merged)
    return merged


def _add_gateway_responses(merged: dict[str, Any]) -> None:
    """Document the gateway's own answers on every operation, unless the service already does."""
    schemas = merged["components"]["schemas"]
    name = "Problem" if schemas.setdefault("Problem", PROBLEM_SCHEMA) == PROBLEM_SCHEMA else "gateway__Problem"
    schemas.setdefault(name, PROBLEM_SCHEMA)
    content = {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{name}"}}}
    retry_after = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    for item in merged["paths"].values():
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for code, description in GATEWAY_RESPONSES.items():
                if code == "413" and "requestBody" not in operation:
                    continue
                if code not in responses:
                    responses[code] = {"description": description, "content": content}
                    if code in ("429", "503"):
                        responses[code]["headers"] = retry_after


class MergedOpenAPI:
    """Fetches and merges on demand, cached for a short while."""

    def __init__(self, client: httpx.AsyncClient, upstreams: dict[str, str], ttl_s: float = 30.0) -> None:
        self.client = client
        self.upstreams = upstreams
        self.ttl_s = ttl_s
        self._cached: bytes | None = None
        self._at = 0.0

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        try:
            response = await self.client.get(f"{self.upstreams[service]}/openapi.json", timeout=3.0)
            response.raise_for_status()
            doc: dict[str, Any] = response.json()
            return doc
        except (httpx.HTTPError, ValueError, KeyError):
            return None

    async def document(self) -> bytes:
        if self._cached is not None and time.monotonic() - self._at < self.ttl_s:
            return self._cached
        names = [s for s in PUBLIC_SERVICES if s in self.upstreams]
        results = await asyncio.gather(*(self._fetch(s) for s in names))
        docs = {s: d for s, d in zip(names, results, strict=True) if d is not None}
        missing = [s for s, d in zip(names, results, strict=True) if d is None]
        self._cached = json.dumps(merge(docs, missing)).encode()
        self._at = time.monotonic()
        return self._cached
