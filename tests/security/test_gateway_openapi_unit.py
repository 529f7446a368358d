"""The merged OpenAPI document names what the gateway itself may answer on every operation."""

from __future__ import annotations

import pytest

from gateway_svc.openapi import merge

pytestmark = pytest.mark.unit


def test_every_operation_documents_the_gateways_own_answers_and_keeps_the_services() -> None:
    doc = {
        "paths": {
            "/api/v1/things": {
                "get": {"responses": {"200": {"description": "ok"}, "401": {"description": "the service's own"}}},
                "post": {"requestBody": {}, "responses": {"201": {"description": "made"}}},
                "parameters": [],
            }
        },
        "components": {"schemas": {}},
    }
    merged = merge({"identity": doc}, missing=[])
    get = merged["paths"]["/api/v1/things"]["get"]["responses"]
    post = merged["paths"]["/api/v1/things"]["post"]["responses"]
    assert get["401"]["description"] == "the service's own"
    assert {"414", "429", "431", "503", "504"} <= set(get) and "413" not in get
    assert {"401", "413", "414", "429", "431", "503", "504"} <= set(post)
    assert "Retry-After" in post["429"]["headers"]
    ref = post["429"]["content"]["application/problem+json"]["schema"]["$ref"]
    assert merged["components"]["schemas"][ref.rsplit("/", 1)[-1]]["required"] == ["type", "title", "status", "detail"]
