"""Idle footprint and start-up time of the whole stack, against a bare FastAPI process in the same run.

    make bench-idle        (or: .venv/bin/python bench/idle.py)

Starts the stack the way `make run` does (fresh data folder, free ports), waits until every
service is ready, lets it idle, then reads each service's resident memory (RSS). The baseline is
a bare FastAPI + uvicorn hello-world started the same way on the same machine.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import psutil

from lx_devstack.ports import free_port, free_service_port_base
from lx_devstack.stack import Stack, StackConfig

IDLE_S = 10
LIMIT_MB = 120


def baseline_rss_mb() -> float:
    port = free_port()
    code = textwrap.dedent(
        f"""
        import uvicorn
        from fastapi import FastAPI
        app = FastAPI()
        @app.get("/healthz")
        async def healthz():
            return {{"status": "ok"}}
        uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        time.sleep(IDLE_S)
        return psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        proc.terminate()
        proc.wait(10)


WORK_USERS = 40


def work(gateway: str) -> None:
    """Some real traffic first, so the figures include what a used service keeps."""
    from concurrent.futures import ThreadPoolExecutor

    def one(n: int) -> None:
        with httpx.Client(base_url=gateway, timeout=30) as c:
            email = f"bench-{n}-{time.time_ns()}@example.org"
            body = {
                "email": email,
                "password": "bench password 123",
                "display_name": f"Bench {n}",
                "consents": {"terms": True, "discoverable": True, "contact_by_x": False},
            }
            c.post("/api/v1/auth/register", json=body).raise_for_status()
            t = c.post("/api/v1/auth/token", json={"email": email, "password": body["password"]})
            t.raise_for_status()
            c.get("/api/v1/me", headers={"Authorization": f"Bearer {t.json()['access_token']}"}).raise_for_status()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(WORK_USERS)))


def main() -> None:
    base = baseline_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            StackConfig.from_env(
                Path(tmp),
                gateway_port=free_port(),
                service_port_base=free_service_port_base(),
                broker_port=free_port(),
                ephemeral=True,
            )
        )
        started = time.monotonic()
        stack.start()
        ready_s = time.monotonic() - started
        try:
            time.sleep(IDLE_S)
            idle = {name: psutil.Process(p.pid).memory_info().rss / 2**20 for name, p in stack.processes.items()}
            work(stack.gateway_url)
            time.sleep(IDLE_S)
            after = {name: psutil.Process(p.pid).memory_info().rss / 2**20 for name, p in stack.processes.items()}
        finally:
            stack.stop()
    print(f"stack ready in {ready_s:.1f} s (fresh data folder: initdb, migrations, topics included)")
    print(f"baseline: bare FastAPI + uvicorn hello-world idles at {base:.1f} MB RSS")
    print(f"{'service':<18}{'idle MB':>8}{'x base':>8}{'after work MB':>15}{'x base':>8}{'under ' + str(LIMIT_MB):>10}")
    for name in sorted(idle):
        worst = max(idle[name], after[name])
        print(
            f"{name:<18}{idle[name]:>8.1f}{idle[name] / base:>8.2f}{after[name]:>15.1f}{after[name] / base:>8.2f}"
            f"{'yes' if worst < LIMIT_MB else 'NO':>10}"
        )
    print(f"(after work: {WORK_USERS} registrations, sign-ins and /me reads through the gateway, then {IDLE_S} s idle)")


if __name__ == "__main__":
    main()
