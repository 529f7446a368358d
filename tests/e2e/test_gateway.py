"""The gateway: request ids, routing, docs, errors of its own, rate limits, service health."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from lx_devstack.ports import free_port
from lx_devstack.services import GATEWAY, SERVICES
from lx_devstack.stack import Stack
from lx_devstack.testkit import poll_until

pytestmark = pytest.mark.e2e


def test_request_id_is_kept_when_well_formed_and_replaced_otherwise(gateway: httpx.Client) -> None:
    kept = gateway.get("/api/v1/auth/jwks.json", headers={"X-Request-ID": "abc.DEF-123_x"})
    assert kept.headers["x-request-id"] == "abc.DEF-123_x"
    for bad in ("a" * 129, "has space", "semi;colon"):
        r = gateway.get("/api/v1/auth/jwks.json", headers={"X-Request-ID": bad})
        assert r.headers["x-request-id"] != bad
        assert len(r.headers["x-request-id"]) == 32


def test_request_id_reaches_the_service_log(stack: Stack, gateway: httpx.Client) -> None:
    rid = "trace-me-" + os.urandom(6).hex()
    gateway.post(
        "/api/v1/auth/token", json={"email": "nobody@example.org", "password": "x" * 12}, headers={"X-Request-ID": rid}
    )
    import json

    def logged() -> bool:
        lines = [json.loads(x) for x in (stack.logs_dir / "identity.log").read_text().splitlines() if x.startswith("{")]
        return any(line.get("request_id") == rid and line.get("route") == "/api/v1/auth/token" for line in lines)

    poll_until(logged, timeout_s=5, what="an identity log line carrying the request id")


def test_unknown_api_paths_are_problem_404s(gateway: httpx.Client) -> None:
    r = gateway.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_services_internal_endpoints_are_not_exposed_through_the_gateway(gateway: httpx.Client) -> None:
    assert gateway.get("/openapi.json").status_code == 404
    assert gateway.get("/docs").status_code == 404
    # /metrics and /healthz at the gateway are the gateway's own.
    gateway.get("/api/v1/auth/jwks.json")
    metrics = gateway.get("/metrics").text
    assert 'route="identity:/api/v1/auth/*"' in metrics, "route labels are templates, not raw paths"
    assert "jwks.json" not in metrics


def test_docs_and_merged_openapi_are_served(gateway: httpx.Client) -> None:
    page = gateway.get("/api/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert gateway.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200
    spec = gateway.get("/api/openapi.json").json()
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/me",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{user_id}/roles",
        "/api/v1/auth/jwks.json",
    ):
        assert path in spec["paths"], path
    assert "Not answering" not in spec["info"]["description"]


def test_the_home_page_is_served_by_the_web_client(gateway: httpx.Client) -> None:
    r = gateway.get("/")
    assert r.status_code == 200 and "Labour Exchange" in r.text


def test_every_service_is_alive_and_ready(stack: Stack) -> None:
    for spec in (*SERVICES, GATEWAY):
        base = stack.url_of(spec.name)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/metrics").status_code == 200


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(stack: Stack) -> None:
    port = free_port()
    env = stack.service_env(GATEWAY) | {
        "GATEWAY_PORT": str(port),
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "60",
        "GATEWAY_RATE_LIMIT_BURST": "5",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway_svc"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as client:

            def up() -> bool:
                try:
                    client.get("/healthz")
                except httpx.TransportError:
                    return False
                return True

            poll_until(up, timeout_s=20, what="the second gateway to start")
            codes = [client.get("/api/v1/auth/jwks.json").status_code for _ in range(8)]
            assert codes[:5] == [200] * 5
            assert codes[-1] == 429
            limited = client.get("/api/v1/auth/jwks.json")
            assert limited.headers["content-type"] == "application/problem+json"
            assert int(limited.headers["retry-after"]) >= 1
    finally:
        proc.terminate()
        proc.wait(10)


def test_each_service_can_touch_only_its_own_schema(stack: Stack) -> None:
    import asyncio

    import asyncpg

    async def check() -> None:
        conn = await asyncpg.connect(stack.dsns["identity"])
        try:
            assert await conn.fetchval("SELECT count(*) FROM identity.users") >= 0
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT * FROM skills.outbox")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TABLE public.sneaky (id int)")
        finally:
            await conn.close()

    asyncio.run(check())


def test_openapi_documents_bearer_auth_and_problem_errors(gateway: httpx.Client) -> None:
    spec = gateway.get("/api/openapi.json").json()
    me = spec["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/api/v1/auth/register"]["post"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    invalid = spec["paths"]["/api/v1/auth/register"]["post"]["responses"]["422"]
    assert list(invalid["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
