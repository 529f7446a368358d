"""The whole system under a mixed campaign workload at a fixed arrival rate, against baselines in the same run.

    make bench-load        (or: .venv/bin/python bench/load.py [--quick])

Starts the stack as `make run` does (fresh data folder, free ports) and seeds a campaign through the
public API: supporters with profiles in five Manchester constituencies, an organiser for each, open
requests; everyone signs in once and the tokens are reused (refreshed if older than ten minutes).
Then, through the gateway:

- load: an open-loop generator (bench/loadgen.py; two worker processes, asyncio + aiohttp, HTTP/1.1
  keep-alive pools) starts requests at 200 a second for 60 s whatever the latency, mixing browse,
  request detail, profile updates, new requests, offers, match reads, opportunities and statistics.
  Latency counts from each request's scheduled start. Per class and overall: p50/p95/p99, answers
  by status, achieved rate, and the client's own CPU and lateness (so the client is shown not to be
  the bottleneck);
- request opened -> match proposed: from the 201 of each POST /api/v1/requests during the load to
  the first `matcher.match-proposed.v1` for it arriving on the topic (read here with aiokafka);
- the system's events a second during the load (growth of every topic's end offsets);
- gateway overhead: the same anonymous GET straight to the requests service and through the
  gateway, interleaved one at a time; the difference of the medians;
- raw broker: aiokafka produce (acks=all, linger 5 ms) and consume rate on the same broker;
- a bare FastAPI hello-world under uvicorn with the services' flags, driven by the same generator at
  the same rate, and at the most it answers (closed loop): our figures as ratios of those.

The gateway's per-address limit is raised for the run (GATEWAY_RATE_LIMIT_PER_MINUTE / _BURST in the
stack's extra_env): every client here is 127.0.0.1, so anonymous browsing from many people would
otherwise share one address's bucket. Per-user limits and everything else stay as under make run.
No assertions: a benchmark, not a test. Targets are printed as met / not met.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import WorkerPlan, profile_body, request_body, run_closed_loop, run_open_loop  # noqa: E402

from lx_contracts import topics  # noqa: E402
from lx_devstack.ports import free_port, free_service_port_base  # noqa: E402
from lx_devstack.stack import Stack, StackConfig  # noqa: E402
from lx_platform.kafka import ensure_topics  # noqa: E402

SEED = 20261127
RATE = 200.0
DURATION_S = 60.0
WORKERS = 2
HELLO_DURATION_S = 15.0
MAX_RATE_S = 8.0
DIAG_S = 5.0
RECOVERY_S = 20.0
SUPPORTERS = 300
SEED_REQUESTS = 40
OVERHEAD_PAIRS = 500
RAW_MESSAGES = 100_000
TOKEN_REFRESH_AFTER_S = 600  # access tokens live 15 minutes
MANCHESTER = ["E14001352", "E14001353", "E14001354", "E14001459", "E14001528"]
SKILLS = [
    "canvassing",
    "phone-banking",
    "leafleting",
    "data-entry",
    "social-media",
    "graphic-design",
    "driving",
    "events",
    "copywriting",
    "street-stalls",
]
RAISED_ADDRESS_LIMIT = {"GATEWAY_RATE_LIMIT_PER_MINUTE": "600000", "GATEWAY_RATE_LIMIT_BURST": "5000"}
# Seeding registers and signs in a few hundred people; at the production argon2 cost (19 MiB, 2 passes)
# that alone took minutes on the busy 2-core machine. Nobody signs in with a password during the load,
# so this cheaper hash on the throwaway stack changes nothing that is measured.
CHEAP_SEEDING = {"IDENTITY_ARGON2_MEMORY_KIB": "1024", "IDENTITY_ARGON2_TIME_COST": "1"}

HELLO = textwrap.dedent(
    """
    import sys, uvicorn
    from fastapi import FastAPI
    app = FastAPI()
    @app.get("/hello")
    async def hello():
        return {"message": "hello"}
    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}
    # The flags of lx_platform.serve, as every service runs.
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False,
                timeout_graceful_shutdown=10)
    """
)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# -- seeding ---------------------------------------------------------------------------------------


class Seeder:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.rng = random.Random(SEED)
        self.n = 0

    async def sign_in(self, email: str, password: str) -> dict[str, Any]:
        r = await self.client.post("/api/v1/auth/token", json={"email": email, "password": password})
        r.raise_for_status()
        return {**r.json(), "signed_in_at": time.monotonic()}

    async def person(self, name: str) -> dict[str, Any]:
        self.n += 1
        email = f"load-{self.n}-{time.time_ns()}@example.org"
        password = "load benchmark password"  # noqa: S105 - a throwaway account on a throwaway stack
        r = await self.client.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "password": password,
                "display_name": name,
                "consents": {"terms": True, "discoverable": True, "contact_by_x": False},
            },
        )
        r.raise_for_status()
        tokens = await self.sign_in(email, password)
        return {
            "id": r.json()["id"],
            "email": email,
            "password": password,
            "token": tokens["access_token"],
            "refresh": tokens["refresh_token"],
            "signed_in_at": tokens["signed_in_at"],
        }

    async def refresh_if_old(self, people: list[dict[str, Any]]) -> int:
        """Tokens older than TOKEN_REFRESH_AFTER_S are refreshed, so none expires during the load."""
        old = [p for p in people if time.monotonic() - p["signed_in_at"] > TOKEN_REFRESH_AFTER_S]

        async def one(p: dict[str, Any]) -> None:
            r = await self.client.post("/api/v1/auth/refresh", json={"refresh_token": p["refresh"]})
            r.raise_for_status()
            p.update(token=r.json()["access_token"], refresh=r.json()["refresh_token"], signed_in_at=time.monotonic())

        await gather_limited([one(p) for p in old], 16)
        return len(old)


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(c: Any) -> Any:
        async with gate:
            return await c

    return await asyncio.gather(*(run(c) for c in coros))


async def seed(stack: Stack) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60.0, limits=limits) as client:
        s = Seeder(client)
        known = {k["slug"] for k in (await client.get("/api/v1/skills")).json()}
        skills = [k for k in SKILLS if k in known]
        started = time.monotonic()
        supporters = await gather_limited([s.person(f"Supporter {i}") for i in range(SUPPORTERS)], 16)
        organisers = await gather_limited([s.person(f"Organiser {i}") for i in range(len(MANCHESTER))], 8)
        registered_s = time.monotonic() - started
        admin = await s.sign_in(stack.admin_email, stack.admin_password)
        admin_auth = {"Authorization": f"Bearer {admin['access_token']}"}
        for organiser, code in zip(organisers, MANCHESTER, strict=True):
            r = await client.post(
                f"/api/v1/admin/users/{organiser['id']}/roles",
                headers=admin_auth,
                json={"role": "organiser", "constituency_code": code},
            )
            r.raise_for_status()
            again = await s.sign_in(organiser["email"], organiser["password"])  # the token now says organiser
            organiser.update(token=again["access_token"], refresh=again["refresh_token"], constituency=code)
        for i, p in enumerate(supporters):
            p["constituency"] = MANCHESTER[i % len(MANCHESTER)]

        async def put_profile(p: dict[str, Any]) -> None:
            body = profile_body(s.rng, p["constituency"], skills)
            deadline = time.monotonic() + 60
            while True:
                r = await client.put("/api/v1/me/profile", json=body, headers={"Authorization": f"Bearer {p['token']}"})
                # 503: the skills service has not read this person's registration yet (it says so).
                if r.status_code != 503 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            if r.status_code != 200:
                raise RuntimeError(f"seeding a profile: {r.status_code} {r.text}")

        await gather_limited([put_profile(p) for p in supporters], 16)

        # The requests service learns the taxonomy and the people from events: wait for it.
        requests: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while len(requests) < SEED_REQUESTS:
            owner = s.rng.choice(supporters)
            body = request_body(s.rng, owner["constituency"], skills)
            r = await client.post("/api/v1/requests", json=body, headers={"Authorization": f"Bearer {owner['token']}"})
            # 422: no skills known yet; 503: the owner's registration not read yet (the service says so).
            if r.status_code in (422, 503) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                continue
            if r.status_code != 201:
                raise RuntimeError(f"seeding a request: {r.status_code} {r.text}")
            requests.append({"id": r.json()["id"], "owner": owner["id"]})

        # The matcher reads people, profiles and requests from events: wait until it has caught up.
        last, owner = requests[-1], next(p for p in supporters if p["id"] == requests[-1]["owner"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = await client.get(
                f"/api/v1/requests/{last['id']}/matches", headers={"Authorization": f"Bearer {owner['token']}"}
            )
            if r.status_code == 200 and r.json()["items"]:
                break
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("the matcher did not catch up with the seeded campaign within 60 s")
        refreshed = await s.refresh_if_old([*supporters, *organisers])
        return {
            "supporters": supporters,
            "organisers": organisers,
            "requests": requests,
            "skills": skills,
            "registered_s": registered_s,
            "seeded_s": time.monotonic() - started,
            "refreshed": refreshed,
        }


# -- the broker ------------------------------------------------------------------------------------


async def end_offsets_total(bootstrap: str, names: list[str]) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in names for p in (consumer.partitions_for_topic(t) or set())]
        if len(tps) < len(names):
            await consumer._client.force_metadata_update()  # noqa: SLF001
            tps = [TopicPartition(t, p) for t in names for p in (consumer.partitions_for_topic(t) or set())]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


class ProposalWatch:
    """Reads matcher.match-proposed.v1 from its end: when each request's first proposal arrived."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.first: dict[str, tuple[float, float]] = {}  # request id -> (arrival here, event time), wall clock
        self.opened: dict[str, float] = {}  # request id -> arrival here of its requests.request-opened.v1
        self.count = 0
        self.stop = asyncio.Event()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        from datetime import datetime

        topic = topics.MATCH_PROPOSED.name
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()  # noqa: SLF001
            tps = [
                TopicPartition(t, p)
                for t in (topic, topics.REQUEST_OPENED.name)
                for p in sorted(consumer.partitions_for_topic(t) or set())
            ]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
            self.ready.set()
            while not self.stop.is_set():
                batch = await consumer.getmany(timeout_ms=50)
                arrived = time.time()
                for tp, records in batch.items():
                    for record in records:
                        event = json.loads(record.value)
                        rid = event["data"]["request_id"]
                        if tp.topic != topic:
                            self.opened.setdefault(rid, arrived)
                            continue
                        self.count += 1
                        if rid not in self.first:
                            self.first[rid] = (arrived, datetime.fromisoformat(event["time"]).timestamp())
        finally:
            await consumer.stop()


async def raw_broker(bootstrap: str, size: int) -> tuple[float, float]:
    """(produced, consumed) messages a second for RAW_MESSAGES of `size` bytes; acks=all, linger 5 ms."""
    topic = f"bench.raw-{time.time_ns()}"
    await ensure_topics(bootstrap, {topic: 4})
    payload = os.urandom(size // 2).hex().encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await producer.send_and_wait(topic, payload, key=b"warm")
        started = time.perf_counter()
        futures = []
        for i in range(RAW_MESSAGES):
            futures.append(await producer.send(topic, payload, key=str(i % 64).encode()))
        await asyncio.gather(*futures)
        produced = RAW_MESSAGES / (time.perf_counter() - started)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        got = 0
        started = time.perf_counter()
        deadline = time.monotonic() + 60
        while got < RAW_MESSAGES + 1 and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            got += sum(len(r) for r in batch.values())
        consumed = got / (time.perf_counter() - started)
    finally:
        await consumer.stop()
    return produced, consumed


# -- gateway overhead ------------------------------------------------------------------------------


async def overhead(direct: str, gateway: str, path: str) -> tuple[float, float, float]:
    """(p50 direct, p50 through the gateway, p50 of the paired differences) in ms; one call at a time."""
    straight, through, diffs = [], [], []
    async with httpx.AsyncClient(base_url=direct) as d, httpx.AsyncClient(base_url=gateway) as g:
        # After an overload the services may still be working off queued calls, and a breaker the load
        # opened closes only after its cooldown: wait for 50 good answers in a row (60 s at most).
        deadline, good = time.monotonic() + 60, 0
        waited: dict[str, Counter[int]] = {"direct": Counter(), "gateway": Counter()}
        while good < 50 and time.monotonic() < deadline:
            direct_status = (await d.get(path)).status_code
            gateway_status = (await g.get(path)).status_code
            waited["direct"][direct_status] += 1
            waited["gateway"][gateway_status] += 1
            ok = direct_status == 200 and gateway_status == 200
            good = good + 1 if ok else 0
            if not ok:
                await asyncio.sleep(0.5)
        if set(waited["direct"]) | set(waited["gateway"]) != {200}:
            print(
                f"before measuring the overhead: the requests service answered directly "
                f"{status_text(waited['direct'])}, "
                f"through the gateway {status_text(waited['gateway'])}",
                flush=True,
            )
        for i in range(OVERHEAD_PAIRS):
            pair = []
            for client in (d, g) if i % 2 == 0 else (g, d):
                started = time.perf_counter()
                status = (await client.get(path)).status_code
                pair.append((client is g, (time.perf_counter() - started) * 1000, status))
            if any(status != 200 for *_, status in pair):
                continue
            a = next(ms for is_g, ms, _ in pair if not is_g)
            b = next(ms for is_g, ms, _ in pair if is_g)
            straight.append(a)
            through.append(b)
            diffs.append(b - a)
    if not diffs:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(straight), statistics.median(through), statistics.median(diffs)


# -- driving ---------------------------------------------------------------------------------------


def plans(
    base_url: str, mode: str, rate: float, duration_s: float, campaign: dict[str, Any] | None
) -> list[WorkerPlan]:
    start_at = time.time() + 2.0  # every worker is up and connected by then
    out = []
    for w in range(WORKERS):
        plan = WorkerPlan(
            base_url=base_url,
            rate=rate / WORKERS,
            duration_s=duration_s,
            start_at=start_at + w / rate,  # interleave the workers' arrivals evenly
            seed=SEED + w,
            mode=mode,
        )
        if campaign:
            mine = campaign["supporters"][w::WORKERS]
            ids = {p["id"] for p in mine}
            plan.users = [{"id": p["id"], "token": p["token"], "constituency": p["constituency"]} for p in mine]
            plan.organisers = [{"token": o["token"], "constituency": o["constituency"]} for o in campaign["organisers"]]
            # Every worker browses and offers on every seeded request; match reads go to the owners it holds.
            plan.requests = [
                {"id": r["id"], "owner": r["owner"] if r["owner"] in ids else "elsewhere"} for r in campaign["requests"]
            ]
            if not any(r["owner"] in ids for r in plan.requests):
                raise RuntimeError("a worker holds no request owner; seed more requests")
            plan.skills = campaign["skills"]
            plan.constituencies = MANCHESTER
        out.append(plan)
    return out


def drive(pool: ProcessPoolExecutor, worker_plans: list[WorkerPlan]) -> list[dict[str, Any]]:
    return list(pool.map(run_open_loop, worker_plans))


def summarise(results: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    records = [r for res in results for r in res["records"]]
    by_class: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for kind, status, ms, _wire, _end in records:
        by_class[kind].append(ms)
        statuses[kind][status] += 1
    overall = [r[2] for r in records]
    wire = [r[3] for r in records]
    # Answered a second: every answer over the time from the first scheduled start to the last answer.
    last_answer = max(r[4] for r in records)
    everything: Counter[int] = sum(statuses.values(), Counter())
    return {
        "by_class": by_class,
        "statuses": statuses,
        "overall": overall,
        "wire": wire,
        "status": everything,
        "achieved": len(records) / max(last_answer, max(res["sent_for_s"] for res in results)),
        "achieved_2xx": sum(1 for r in records if 200 <= r[1] < 300)
        / max(last_answer, max(res["sent_for_s"] for res in results)),
        "last_answer_s": last_answer,
        "answered_2xx": sum(n for s, n in everything.items() if 200 <= s < 300),
        "five_xx": sum(n for s, n in everything.items() if s >= 500 or s == 0),
        "late_p99": max(pct(res["late_ms"], 99) for res in results),
        "late_max": max(res["late_ms"][-1] for res in results),
        "client_cpu": [res["cpu_s"] / res["wall_s"] * 100 for res in results],
        "rate": rate,
    }


def timeline(results: list[dict[str, Any]]) -> str:
    buckets: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for res in results:
        for _kind, status, ms, _wire, end in res["records"]:
            buckets[int((end - ms / 1000) // 10)].append((status, ms))
    parts = []
    for b in sorted(buckets):
        rows = buckets[b]
        ok = sum(1 for st, _ in rows if 200 <= st < 300)
        parts.append(f"{b * 10}-{b * 10 + 10}s {ok}/{len(rows) - ok} {pct([ms for _, ms in rows], 95):.0f}")
    return "; ".join(parts)


def status_text(counter: Counter[int]) -> str:
    return " ".join(f"{s or 'conn-err'}:{n}" for s, n in sorted(counter.items()))


def row(name: str, values: list[float], counter: Counter[int], seconds: float) -> str:
    return (
        f"{name:<15}{len(values):>7}{len(values) / seconds:>7.1f}{pct(values, 50):>8.1f}{pct(values, 95):>8.1f}"
        f"{pct(values, 99):>8.1f}  {status_text(counter)}"
    )


def cpu_by_process(stack: Stack, data_dir: str) -> dict[str, float]:
    """CPU seconds so far of each service, the broker, and Postgres (its server and every backend)."""
    out: dict[str, float] = {}

    def used(proc: psutil.Process) -> float:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            return 0.0
        return t.user + t.system

    for name, p in stack.processes.items():
        out[name] = used(psutil.Process(p.pid))
    if stack.broker and stack.broker.process:
        out["broker"] = used(psutil.Process(stack.broker.process.pid))
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and data_dir in " ".join(proc.info["cmdline"] or []):
            out["postgres"] = used(proc) + sum(used(c) for c in proc.children(recursive=True))
            break
    return out


def handler_seconds(stack: Stack) -> dict[str, tuple[float, float]]:
    """(seconds, requests) each process has spent inside its HTTP handling so far, from its own
    lx_http_request_duration_seconds (probes and scrapes left out)."""
    out: dict[str, tuple[float, float]] = {}
    for name in stack.processes:
        if name == "fake-x":
            continue
        try:
            text = httpx.get(f"{stack.url_of(name)}/metrics", timeout=5).text
        except httpx.HTTPError:
            continue
        total, count = 0.0, 0.0
        for line in text.splitlines():
            if not line.startswith("lx_http_request_duration_seconds_") or any(
                q in line for q in ("/healthz", "/readyz", "/metrics")
            ):
                continue
            value = float(line.rsplit(" ", 1)[1])
            if line.startswith("lx_http_request_duration_seconds_sum"):
                total += value
            elif line.startswith("lx_http_request_duration_seconds_count"):
                count += value
        out[name] = (total, count)
    return out


def gateway_failures(stack: Stack) -> str:
    """Upstream failures by kind, breaker refusals and breaker states, from the gateway's /metrics."""
    try:
        text = httpx.get(f"{stack.gateway_url}/metrics", timeout=5).text
    except httpx.HTTPError as exc:
        return f"(no metrics: {exc!r})"
    keep = ("lx_gateway_upstream_failures_total{", "lx_gateway_breaker_refused_total{", "lx_gateway_breaker_state{")
    found = []
    for line in text.splitlines():
        if line.startswith(keep):
            name, value = line.rsplit(" ", 1)
            if float(value):
                found.append(f"{name.removeprefix('lx_gateway_')}={float(value):.0f}")
    return ", ".join(found) or "no upstream failures, every breaker closed"


async def recovered(direct: str, gateway: str, path: str) -> dict[str, Counter[int]]:
    seen: dict[str, Counter[int]] = {"direct": Counter(), "gateway": Counter()}
    async with httpx.AsyncClient(base_url=direct) as d, httpx.AsyncClient(base_url=gateway) as g:
        deadline = time.monotonic() + RECOVERY_S
        while time.monotonic() < deadline:
            for name, client in (("direct", d), ("gateway", g)):
                try:
                    seen[name][(await client.get(path, timeout=5)).status_code] += 1
                except httpx.HTTPError:
                    seen[name][0] += 1
            await asyncio.sleep(1.0)
    return seen


def machine_busy_s() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine so far, wall clock)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0), (
        time.monotonic()
    )


def start_hello() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", HELLO, str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("hello-world did not start")
        time.sleep(0.05)


def main() -> None:
    if "--quick" in sys.argv[1:]:  # a short trial of the whole path, not a measurement
        global DURATION_S, HELLO_DURATION_S, MAX_RATE_S, SUPPORTERS, SEED_REQUESTS, OVERHEAD_PAIRS, RAW_MESSAGES
        DURATION_S, HELLO_DURATION_S, MAX_RATE_S = 10.0, 5.0, 3.0
        SUPPORTERS, SEED_REQUESTS, OVERHEAD_PAIRS, RAW_MESSAGES = 60, 10, 100, 20_000
    began = time.monotonic()
    print(f"bench-load {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores")
    print(f"load average (1/5/15 min) at start: {loadavg()}")
    print(f"gateway per-address limit raised for this run: {RAISED_ADDRESS_LIMIT} (all clients are 127.0.0.1)")
    print(f"password hashing made cheap for seeding only (no password sign-in in the load): {CHEAP_SEEDING}")
    pool = ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn"))
    list(pool.map(abs, range(WORKERS)))  # start the worker processes before anything is timed
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            StackConfig.from_env(
                Path(tmp),
                gateway_port=free_port(),
                service_port_base=free_service_port_base(),
                broker_port=free_port(),
                ephemeral=True,
                extra_env=RAISED_ADDRESS_LIMIT | CHEAP_SEEDING,
            )
        )
        t = time.monotonic()
        stack.start()
        print(f"stack ready in {time.monotonic() - t:.1f} s")
        try:
            campaign = asyncio.run(seed(stack))
            print(
                f"seeded {len(campaign['supporters'])} supporters with profiles in {len(MANCHESTER)} Manchester "
                f"constituencies, {len(campaign['organisers'])} organisers, {len(campaign['requests'])} open requests "
                f"in {campaign['seeded_s']:.1f} s (registrations and sign-ins {campaign['registered_s']:.1f} s); "
                f"tokens refreshed before the load: {campaign['refreshed']}"
            )
            names = topics.all_topic_names()

            async def load_phase() -> tuple[list[dict[str, Any]], ProposalWatch, int, float]:
                watch = ProposalWatch(stack.bootstrap_servers)
                watcher = asyncio.create_task(watch.run())
                await asyncio.wait_for(watch.ready.wait(), 30)
                before = await end_offsets_total(stack.bootstrap_servers, names)
                cpu_before = cpu_by_process(stack, tmp)
                handled_before = handler_seconds(stack)
                busy_before = machine_busy_s()
                t0 = time.monotonic()
                loop = asyncio.get_running_loop()
                results = await loop.run_in_executor(
                    None, drive, pool, plans(stack.gateway_url, "campaign", RATE, DURATION_S, campaign)
                )
                window = time.monotonic() - t0
                after = await end_offsets_total(stack.bootstrap_servers, names)
                cpu_after = cpu_by_process(stack, tmp)
                busy_after = machine_busy_s()
                handled_after = handler_seconds(stack)
                global HANDLED, MACHINE
                HANDLED = {
                    n: (handled_after[n][0] - handled_before[n][0], handled_after[n][1] - handled_before[n][1])
                    for n in handled_after
                    if n in handled_before
                }
                MACHINE = ((busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]),)
                global SERVICE_CPU
                SERVICE_CPU = {n: cpu_after[n] - cpu_before.get(n, 0.0) for n in cpu_after}
                SERVICE_CPU["(window s)"] = window
                # Proposals for the last requests posted may still be on their way: give them a moment.
                posted = {p[0] for res in results for p in res["posted"]}
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline and len(posted - set(watch.first)) > 0:
                    await asyncio.sleep(0.1)
                watch.stop.set()
                await watcher
                return results, watch, after - before, window

            requests_url = stack.url_of("requests")
            path = f"/api/v1/requests/{campaign['requests'][0]['id']}"
            # (d) before the load, on a quiet stack: the same GET straight to the service and through the gateway.
            direct_p50, gateway_p50, diff_p50 = asyncio.run(overhead(requests_url, stack.gateway_url, path))
            # What a call costs the gateway, in CPU, with few and with many calls in flight.
            in_flight = []
            for concurrency in (8, 64):
                before_cpu = cpu_by_process(stack, tmp)
                (res,) = pool.map(run_closed_loop, [stack.gateway_url], [concurrency], [DIAG_S], [path])
                after_cpu = cpu_by_process(stack, tmp)
                per_call = {
                    n: (after_cpu[n] - before_cpu[n]) / max(1, res["done"]) * 1000 for n in ("gateway", "requests")
                }
                in_flight.append((concurrency, res, per_call))
            print(
                f"gateway overhead before the load, {OVERHEAD_PAIRS} interleaved pairs of GET {{request}} one at a "
                f"time: direct p50 {direct_p50:.2f} ms, through the gateway p50 {gateway_p50:.2f} ms, difference "
                f"{gateway_p50 - direct_p50:.2f} ms (median paired difference {diff_p50:.2f} ms)"
            )
            for c, res, per_call in in_flight:
                print(
                    f"GET {{request}} through the gateway, closed loop, {c} in flight for {DIAG_S:.0f} s: "
                    f"{res['done'] / res['wall_s']:.0f} req/s, {res['errors']} not 200; CPU per call: gateway "
                    f"{per_call['gateway']:.2f} ms, requests service {per_call['requests']:.2f} ms",
                    flush=True,
                )
            print("gateway's own account before the load: " + gateway_failures(stack), flush=True)
            print(f"load average before the load: {loadavg()}")
            results, watch, events, window = asyncio.run(load_phase())
            print(f"load average after the load: {loadavg()}")
            load = summarise(results, RATE)
            posted = [p for res in results for p in res["posted"]]
            seen = [(watch.first[rid], read_201, created) for rid, read_201, created in posted if rid in watch.first]
            # From the request's created_at (the requests service's clock, set just before its transaction
            # commits and the 201 goes out): an upper bound, whatever the client's own scheduling delays.
            arrival_ms = [(arrived - created) * 1000 for (arrived, _), _, created in seen]
            event_ms = [(event_time - created) * 1000 for (_, event_time), _, created in seen]
            # From the moment the client read the 201: shorter by the answer's time on the way back and in
            # the client's queue, which on a busy machine can exceed the whole path.
            client_ms = [(arrived - read_201) * 1000 for (arrived, _), read_201, _ in seen]
            # The hops: the requests service's relay, the matcher's consumer and ranking, the matcher's relay.
            hops = [
                (
                    watch.opened[rid] - created,
                    watch.first[rid][1] - watch.opened[rid],
                    watch.first[rid][0] - watch.first[rid][1],
                )
                for rid, _, created in posted
                if rid in watch.first and rid in watch.opened
            ]
            seconds = DURATION_S
            print()
            print(
                f"campaign mix through the gateway, open loop at {RATE:.0f}/s for {DURATION_S:.0f} s "
                f"({WORKERS} client processes; latency from each request's scheduled start, ms):"
            )
            print(f"{'class':<15}{'n':>7}{'/s':>7}{'p50':>8}{'p95':>8}{'p99':>8}  answers by status")
            for kind in sorted(load["by_class"], key=lambda k: -len(load["by_class"][k])):
                print(row(kind, load["by_class"][kind], load["statuses"][kind], seconds))
            print(row("overall", load["overall"], load["status"], seconds))
            print("by scheduled start, 10 s each (2xx/other, p95 ms): " + timeline(results))
            print(
                f"answered {load['achieved']:.1f} req/s, of them 2xx {load['achieved_2xx']:.1f}/s; "
                f"5xx and connection errors: {load['five_xx']}; "
                f"client CPU {' + '.join(f'{c:.0f}%' for c in load['client_cpu'])} of a core; "
                f"client lateness p99 {load['late_p99']:.1f} ms, max {load['late_max']:.1f} ms; "
                f"last answer {load['last_answer_s']:.1f} s after the first start; on the wire only (after a free "
                f"connection): p50 {pct(load['wire'], 50):.1f} p95 {pct(load['wire'], 95):.1f} ms"
            )
            cpu_window = SERVICE_CPU.pop("(window s)")
            print(
                "service CPU during the load, % of one core (CPU ms per request sent): "
                + ", ".join(
                    f"{n} {c / cpu_window * 100:.0f}% ({c / len(load['overall']) * 1000:.2f})"
                    for n, c in sorted(SERVICE_CPU.items(), key=lambda kv: -kv[1])
                )
            )
            print(
                f"request opened -> first match proposed ({len(seen)} of {len(posted)} requests posted during the "
                f"load got proposals; {watch.count} proposals seen):"
            )
            for label, values in (
                ("created_at -> on the topic", arrival_ms),
                ("created_at -> proposal's event time", event_ms),
                ("201 read by the client -> on the topic", client_ms),
            ):
                print(
                    f"  {label:<40} p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}  "
                    f"p99 {pct(values, 99):7.1f} ms"
                )
            for i, label in enumerate(
                (
                    "created_at -> request-opened on the topic",
                    "request-opened on the topic -> proposal's event time",
                    "proposal's event time -> on the topic",
                )
            ):
                values = [h[i] * 1000 for h in hops]
                print(
                    f"    {label:<52} p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}  "
                    f"p99 {pct(values, 99):7.1f} ms"
                )
            ours = sum(SERVICE_CPU.values()) / cpu_window + sum(load["client_cpu"]) / 100
            print(
                f"whole machine busy {MACHINE[0]:.2f} of {os.cpu_count()} cores during the load: this stack and its "
                f"client {ours:.2f}, other work {MACHINE[0] - ours:.2f}"
            )
            print(
                "mean time inside each process's HTTP handling during the load (its own histogram), ms: "
                + ", ".join(
                    f"{n} {t / c * 1000:.1f} (n={c:.0f})"
                    for n, (t, c) in sorted(HANDLED.items(), key=lambda kv: -kv[1][0])
                    if c
                )
            )
            breaker_lines = [
                line
                for line in (stack.logs_dir / "gateway.log").read_text(errors="replace").splitlines()
                if "breaker opened" in line
            ]
            print(f"gateway breaker openings during the run: {len(breaker_lines)}", flush=True)
            print("gateway's own account after the load: " + gateway_failures(stack), flush=True)

            # Does the gateway come back once the load is over? The service itself is asked alongside.
            recovery = asyncio.run(recovered(requests_url, stack.gateway_url, path))
            print(
                f"after the load, {RECOVERY_S:.0f} s of one GET {{request}} a second: the requests service answered "
                f"directly {status_text(recovery['direct'])}, through the gateway {status_text(recovery['gateway'])}",
            )
            print("gateway's own account at the end: " + gateway_failures(stack), flush=True)
            produced, consumed = asyncio.run(raw_broker(stack.bootstrap_servers, 600))
        finally:
            stack.stop()

    proc, hello_url = start_hello()
    try:
        hello = summarise(list(pool.map(run_open_loop, plans(hello_url, "hello", RATE, HELLO_DURATION_S, None))), RATE)
        maxed = list(pool.map(run_closed_loop, [hello_url] * WORKERS, [64] * WORKERS, [MAX_RATE_S] * WORKERS))
    finally:
        proc.terminate()
        proc.wait(10)
        pool.shutdown()
    hello_max = sum(m["done"] for m in maxed) / max(m["wall_s"] for m in maxed)
    hello_max_cpu = [m["cpu_s"] / m["wall_s"] * 100 for m in maxed]

    events_s = events / window
    print(
        f"broker: raw aiokafka produce {produced:,.0f} msg/s (acks=all, linger 5 ms, 600 B), consume "
        f"{consumed:,.0f} msg/s; the system published {events:,} events during the load = {events_s:.1f}/s "
        f"({events_s / produced * 100:.3f}% of the raw produce rate)"
    )
    print(
        f"bare FastAPI hello-world (uvicorn, the services' flags): at {RATE:.0f}/s for {HELLO_DURATION_S:.0f} s p50 "
        f"{pct(hello['overall'], 50):.2f} p95 {pct(hello['overall'], 95):.2f} p99 {pct(hello['overall'], 99):.2f} ms, "
        f"client CPU {' + '.join(f'{c:.0f}%' for c in hello['client_cpu'])}; at most {hello_max:,.0f} req/s "
        f"(closed loop, {WORKERS}x64 in flight, client CPU {' + '.join(f'{c:.0f}%' for c in hello_max_cpu)})"
    )
    print(
        f"ratios: our {load['achieved_2xx']:.0f} good answers a second = {load['achieved_2xx'] / hello_max:.2f}x the "
        f"hello-world's most; our p50 {pct(load['overall'], 50) / pct(hello['overall'], 50):.1f}x and p95 "
        f"{pct(load['overall'], 95) / pct(hello['overall'], 95):.1f}x the hello-world's at the same rate"
    )
    p95 = pct(load["overall"], 95)
    met = [
        (
            f"p95 < 300 ms with zero 5xx at {RATE:.0f} req/s",
            f"p95 {p95:.1f} ms, {load['five_xx']} 5xx, {load['achieved']:.1f} req/s",
            p95 < 300 and load["five_xx"] == 0 and load["achieved"] >= RATE * 0.98,
        ),
        (
            "opened -> proposed p99 < 250 ms",
            f"p99 {pct(arrival_ms, 99):.1f} ms (from created_at)",
            pct(arrival_ms, 99) < 250,
        ),
        ("gateway overhead p50 < 2 ms", f"{gateway_p50 - direct_p50:.2f} ms", gateway_p50 - direct_p50 < 2),
    ]
    print("targets:")
    for what, got, ok in met:
        print(f"  {what:<45} {got:<40} {'met' if ok else 'NOT MET'}")
    print(f"load average at the end: {loadavg()}; whole run {time.monotonic() - began:.0f} s")


SERVICE_CPU: dict[str, float] = {}
HANDLED: dict[str, tuple[float, float]] = {}
MACHINE: tuple[float] = (0.0,)

if __name__ == "__main__":
    main()
