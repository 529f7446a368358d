"""Gateway overhead: the same calls straight to an upstream, through the gateway as it was before
its hardening (ADR 11), and through the gateway as it is now, all in the same run.

What is compared is CPU time per call of the process answering (the upstream itself for the
baseline, else the gateway), read from the OS: on a shared two-core machine the Python load
client, not the gateway, bounds throughput, so calls per second say little; CPU per call does.

    .venv/bin/python bench/gateway.py [BEFORE_COMMIT]

The upstream is a tiny FastAPI app under uvicorn answering a small JSON body. Each gateway is its
own `python -m gateway_svc` process pointed at it; the older one is the gateway package exported
from git at BEFORE_COMMIT (default: the commit before the hardening). Limits are raised so that
no call is refused: the work measured is the per-request cost of the middleware, not the limits.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from io import BytesIO
from pathlib import Path

import httpx
import psutil

from lx_devstack.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "464df2b"
CALLS = 2000
CONCURRENCY = 16
ROUNDS = 3

UPSTREAM = textwrap.dedent(
    """
    import sys, uvicorn
    from fastapi import FastAPI
    app = FastAPI()
    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def answer(path: str):
        return {"path": path, "items": [{"code": "E14000807", "name": "Manchester Withington"}] * 5}
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
    """
)


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.1)


def start_gateway(port: int, upstream: str, pythonpath: str | None) -> subprocess.Popen[bytes]:
    services = ("identity", "skills", "requests", "matcher", "twitter-gateway", "web")
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "GATEWAY_UPSTREAMS": "{" + ",".join(f'"{s}": "{upstream}"' for s in services) + "}",
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "1000000000",
        "GATEWAY_RATE_LIMIT_BURST": "1000000000",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "gateway_svc"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def measure(base: str, answering: psutil.Process) -> tuple[float, float]:
    """(CPU ms of `answering` per call, median latency in ms) for CALLS GETs with CONCURRENCY in flight."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        queue = iter(range(CALLS))

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await client.get("/api/v1/constituencies", headers={"Origin": "http://127.0.0.1:8000"})
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{base} answered {response.status_code}")

        for _ in range(200):  # warm up connections and code paths
            await client.get("/api/v1/constituencies")
        cpu = answering.cpu_times()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        used = answering.cpu_times()
    cpu_s = (used.user - cpu.user) + (used.system - cpu.system)
    return cpu_s / CALLS * 1000, statistics.median(latencies) * 1000


def export_before(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "services/gateway/gateway_svc"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "services" / "gateway"


def main() -> None:
    before = sys.argv[1] if len(sys.argv) > 1 else BEFORE
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        old_path = export_before(before, Path(tmp))
        up_port, old_port, new_port = free_port(), free_port(), free_port()
        upstream = f"http://127.0.0.1:{up_port}"
        try:
            processes.append(subprocess.Popen([sys.executable, "-c", UPSTREAM, str(up_port)]))
            processes.append(start_gateway(old_port, upstream, str(old_path)))
            processes.append(start_gateway(new_port, upstream, None))
            for url in (upstream, f"http://127.0.0.1:{old_port}", f"http://127.0.0.1:{new_port}"):
                wait_up(url + "/healthz")
            targets = {
                "upstream directly (baseline)": (upstream, psutil.Process(processes[0].pid)),
                f"gateway before ({before})": (f"http://127.0.0.1:{old_port}", psutil.Process(processes[1].pid)),
                "gateway now": (f"http://127.0.0.1:{new_port}", psutil.Process(processes[2].pid)),
            }
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
            for _ in range(ROUNDS):  # interleaved, so drift on the machine hits all three alike
                for name, (base, answering) in targets.items():
                    results[name].append(asyncio.run(measure(base, answering)))
        finally:
            for proc in processes:
                proc.terminate()
            for proc in processes:
                proc.wait(10)
    print(f"{CALLS} GETs x {ROUNDS} rounds, {CONCURRENCY} in flight; the least CPU per call of each:")
    base_cpu = min(c for c, _ in results["upstream directly (baseline)"])
    before_cpu = min(c for c, _ in results[f"gateway before ({before})"])
    print(f"{'answered by':34} {'CPU ms/call':>11} {'median ms':>10} {'x base':>7} {'x before':>9}")
    for name, runs in results.items():
        cpu_ms, latency = min(runs)
        print(f"{name:34} {cpu_ms:11.3f} {latency:10.2f} {cpu_ms / base_cpu:7.2f} {cpu_ms / before_cpu:9.2f}")


if __name__ == "__main__":
    main()
