"""Every query of the Grafana dashboard, and every alert's expression, run against a real Prometheus
(Debian's package, `make prometheus`) scraping the running test stack, after a little traffic: each
dashboard query must return data, each alert expression must evaluate. Route labels must be templates."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from lx_devstack.ports import free_port
from lx_devstack.services import GATEWAY, SERVICES
from lx_devstack.stack import Stack
from lx_devstack.testing import register_and_sign_in
from lx_devstack.testkit import produce, wait_until

pytestmark = pytest.mark.integration

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
DASHBOARD = OBSERVABILITY / "dashboards" / "labour-exchange.json"
WITHINGTON = "E14001354"
# Grafana fills these in; Prometheus is given what the dashboard's defaults amount to.
VARIABLES = {"$__rate_interval": "1m", "$job": ".*"}


def dashboard_queries() -> list[tuple[str, str]]:
    model = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in model["panels"] for target in panel.get("targets", [])]


def alert_expressions() -> list[tuple[str, str]]:
    text = (OBSERVABILITY / "alerts.yml").read_text()
    found = []
    for name, body in re.findall(r"- alert: (\w+)\n\s+expr: (.*?)\n\s+(?:for|labels):", text, re.S):
        expr = body.strip()
        if expr.startswith("|"):
            expr = expr[1:]
        found.append((name, " ".join(expr.split())))
    return found


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus scraping every service of the stack once a second, with the alert rules loaded."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: `make prometheus` installs Debian's prometheus package")
    home = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"},
        "rule_files": [str(OBSERVABILITY / "alerts.yml")],
        "scrape_configs": [
            {"job_name": spec.name, "static_configs": [{"targets": [urlsplit(stack.url_of(spec.name)).netloc]}]}
            for spec in (GATEWAY, *SERVICES)
        ],
    }
    (home / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    with (home / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError("prometheus exited: " + (home / "prometheus.log").read_text()[-2000:])
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{url}/-/ready")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        asyncio.run(wait_until(ready, timeout_s=20, what="prometheus to start"))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def traffic(stack: Stack, fake_x: str, prometheus: str) -> float:
    """Register, sign in, set a profile, open a request, offer; a tweet for X; a malformed event for a DLQ."""
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as gateway:
        owner = register_and_sign_in(gateway, name="Metrics Owner")
        helper = register_and_sign_in(gateway, name="Metrics Helper")
        assert gateway.get("/api/v1/me", headers=owner.auth).status_code == 200
        profile = {
            "constituency_code": WITHINGTON,
            "travel_radius_km": 5,
            "remote_ok": True,
            "max_hours_per_week": 4,
            "availability": [{"day": "sat", "start": "10:00", "end": "16:00"}],
            "skills": [{"slug": "graphic-design", "level": 4}],
        }
        r = gateway.put("/api/v1/me/profile", headers=helper.auth, json=profile)
        assert r.status_code == 200, r.text
        request = {
            "title": "Posters for the count",
            "description": "Three A3 posters.",
            "constituency_code": WITHINGTON,
            "remote_ok": True,
            "skills": [{"slug": "graphic-design", "min_level": 2, "people": 1}],
            "urgency": "high",
        }

        async def opened() -> bool:
            # The requests service learns the taxonomy from events; on a fresh stack that takes a moment.
            r = gateway.post("/api/v1/requests", headers=owner.auth, json=request)
            if r.status_code == 201:
                request_ids.append(r.json()["id"])
                return True
            assert r.status_code in (422, 503), r.text
            return False

        request_ids: list[str] = []
        asyncio.run(wait_until(opened, timeout_s=30, what="a request to open", interval_s=0.5))
        r = gateway.post(
            f"/api/v1/requests/{request_ids[0]}/offers",
            headers=helper.auth,
            json={"message": "I can", "skill": "graphic-design"},
        )
        assert r.status_code == 201, r.text
        assert gateway.get(f"/api/v1/requests/{request_ids[0]}", headers=owner.auth).status_code == 200
        assert gateway.get(f"/api/v1/requests/{uuid.uuid4()}", headers=owner.auth).status_code == 404
    tag = uuid.uuid4().hex[:8]
    r = httpx.post(
        f"{fake_x}/_fake/tweets",
        json={"text": f"Need help with leaflets in Withington #LabourExchange {tag}", "username": f"m{tag}"},
    )
    assert r.status_code == 201, r.text
    # One by the campaign account itself, which the gateway reads and ignores.
    r = httpx.post(
        f"{fake_x}/_fake/tweets", json={"text": f"Thank you all #LabourExchange {tag}", "username": "LabourExchange"}
    )
    assert r.status_code == 201, r.text
    # Not an event at all: the matcher dead-letters it at once (and other tests look only for their own).
    asyncio.run(
        produce(stack.bootstrap_servers, "requests.offer-made.v1", [b"metrics test: not an event " + tag.encode()])
    )
    return time.monotonic()


async def query(client: httpx.AsyncClient, prometheus: str, expr: str) -> list[dict[str, Any]]:
    r = await client.get(f"{prometheus}/api/v1/query", params={"query": expr})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", f"{expr}: {r.text}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_every_dashboard_query_returns_data_from_the_running_stack(prometheus: str, traffic: float) -> None:
    started = traffic
    queries = dashboard_queries()
    assert len(queries) >= 30
    empty: dict[str, str] = {}

    async def all_answer() -> bool:
        async with httpx.AsyncClient(timeout=5) as client:
            empty.clear()
            for title, expr in queries:
                if not await query(client, prometheus, substitute(expr)):
                    empty[title] = expr
        return not empty

    try:
        # Consumer lag is reported every 15 s and X is polled every 15 s; rate() needs two scrapes.
        asyncio.run(
            wait_until(all_answer, timeout_s=max(10.0, 85 - (time.monotonic() - started)), what="data", interval_s=1.0)
        )
    except AssertionError:
        raise AssertionError(f"dashboard queries without data: {json.dumps(empty, indent=1)}") from None


def test_every_alert_expression_evaluates(prometheus: str) -> None:
    alerts = alert_expressions()
    assert len(alerts) == 10

    async def evaluate() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            for _, expr in alerts:
                await query(client, prometheus, expr)
            r = await client.get(f"{prometheus}/api/v1/rules")
            groups = r.json()["data"]["groups"]
            loaded = {rule["name"]: rule for g in groups for rule in g["rules"]}
            assert set(loaded) == {name for name, _ in alerts}
            assert all(rule["health"] != "err" for rule in loaded.values()), loaded

    asyncio.run(evaluate())


def test_route_labels_are_templates_never_raw_paths(prometheus: str, traffic: float) -> None:
    seen: set[tuple[str, str]] = set()
    expected = {("identity", "/api/v1/auth/register"), ("requests", "/api/v1/requests/{request_id}/offers")}

    async def scraped() -> bool:
        async with httpx.AsyncClient(timeout=5) as client:
            found = await query(client, prometheus, "count by (job, route) (lx_http_requests_total)")
        seen.update((s["metric"]["job"], s["metric"].get("route", "")) for s in found)
        return expected <= seen

    try:
        asyncio.run(wait_until(scraped, timeout_s=20, what="the routes to be scraped", interval_s=0.5))
    except AssertionError:
        raise AssertionError(f"{expected} not among the routes scraped: {sorted(seen)}") from None
    assert ("requests", "/api/v1/requests/{request_id}") in seen
    # The gateway labels a request by the upstream and the routing rule that sent it there.
    assert any(job == "gateway" and route.startswith("requests:") for job, route in seen), seen
    ids = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}|\d{6,}")
    assert not [r for _, r in seen if ids.search(r)], seen
