"""Open-loop load generator for bench/load.py: one worker process sends requests at fixed times.

Open loop: request i starts at `start_at + i / rate` whatever the earlier ones are doing, so a slow
system meets the same arrival rate a real crowd would give it (a closed loop would slow down with
it and hide the queueing). Latency is measured from the scheduled start, so time spent waiting for
a free connection in the client counts too; `late` says how far behind schedule the client itself
started requests, to show whether the client kept up.

Each worker owns a disjoint slice of the seeded users, so offers (one live offer per user and
request) never collide between workers. Workers run in processes of their own (spawned by
bench/load.py) and return plain data.

The client is aiohttp's: on the 2-core machine the generator shares the cores with the system it
measures, and aiohttp costs about a third of httpx's CPU per call (httpx took 1.7 ms a call, 0.35
of a core at 200 a second over its two processes).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from multidict import MultiDict

# Endpoint classes and their share of the campaign workload.
MIX: dict[str, float] = {
    "browse": 0.33,  # GET /api/v1/requests with filters
    "detail": 0.20,  # GET /api/v1/requests/{id}
    "profile": 0.08,  # PUT /api/v1/me/profile
    "post": 0.04,  # POST /api/v1/requests
    "offer": 0.07,  # POST /api/v1/requests/{id}/offers
    "matches": 0.10,  # GET /api/v1/requests/{id}/matches, by the owner
    "opportunities": 0.12,  # GET /api/v1/me/opportunities
    "stats": 0.06,  # GET /api/v1/stats/constituencies/{code}, by its organiser
}

WORDS = ["leaflets", "canvass", "phones", "design", "drivers", "stall", "data", "press"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass
class WorkerPlan:
    base_url: str
    rate: float  # requests a second from this worker
    duration_s: float
    start_at: float  # wall clock (time.time()) of the first request
    seed: int
    mode: str = "campaign"  # or "hello": GET /hello only
    connections: int = 200
    users: list[dict[str, Any]] = field(default_factory=list)  # {id, token, constituency}
    organisers: list[dict[str, Any]] = field(default_factory=list)  # {token, constituency}
    requests: list[dict[str, Any]] = field(default_factory=list)  # {id, owner} open requests known at start
    skills: list[str] = field(default_factory=list)
    constituencies: list[str] = field(default_factory=list)


def profile_body(rng: random.Random, constituency: str, skills: list[str]) -> dict[str, Any]:
    start = rng.randint(8, 17)
    return {
        "constituency_code": constituency,
        "travel_radius_km": rng.choice([3, 5, 10, 15]),
        "remote_ok": rng.random() < 0.4,
        "max_hours_per_week": rng.choice([None, 4, 8, 12]),
        "availability": [
            {"day": day, "start": f"{start:02d}:00", "end": f"{start + rng.randint(2, 5):02d}:00"}
            for day in rng.sample(DAYS, rng.randint(1, 3))
        ],
        "skills": [
            {"slug": slug, "level": rng.randint(2, 5), "note": "bench"}
            for slug in rng.sample(skills, rng.randint(1, 3))
        ],
    }


def request_body(rng: random.Random, constituency: str, skills: list[str]) -> dict[str, Any]:
    return {
        "title": f"Help with {rng.choice(WORDS)} in the campaign",
        "description": "Posted by the load benchmark.",
        "constituency_code": constituency,
        "remote_ok": rng.random() < 0.3,
        "skills": [
            {"slug": slug, "min_level": rng.randint(1, 3), "people": rng.randint(1, 3)}
            for slug in rng.sample(skills, rng.randint(1, 2))
        ],
        "urgency": rng.choice(["low", "normal", "high"]),
    }


class Campaign:
    """Picks and sends one operation of the mix; keeps what this worker knows (its requests, its offers)."""

    def __init__(self, plan: WorkerPlan, rng: random.Random) -> None:
        self.plan = plan
        self.rng = rng
        self.requests = list(plan.requests)
        self.owned: dict[str, list[str]] = {}
        for r in self.requests:
            self.owned.setdefault(r["owner"], []).append(r["id"])
        self.owners = [u for u in plan.users if u["id"] in self.owned]
        self.offered: set[tuple[str, str]] = set()
        # (request id, wall time the 201 was read here, the request's created_at from the service's clock)
        self.posted: list[tuple[str, float, float]] = []
        self.classes = list(MIX)
        self.weights = [MIX[c] for c in self.classes]

    def pick(self) -> str:
        return self.rng.choices(self.classes, self.weights)[0]

    @staticmethod
    def auth(user: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {user['token']}"}

    async def send(self, client: Client, kind: str) -> Answer:
        rng, plan = self.rng, self.plan
        if kind == "browse":
            params: dict[str, Any] = {"status": "open", "limit": 20}
            which = rng.random()
            if which < 0.5:
                params["constituency"] = rng.choice(plan.constituencies)
            elif which < 0.8:
                params["skill"] = rng.choice(plan.skills)
            else:
                params["q"] = rng.choice(WORDS)
            headers = self.auth(rng.choice(plan.users)) if rng.random() < 0.5 else {}
            return await client.get("/api/v1/requests", params=params, headers=headers)
        if kind == "detail":
            return await client.get(f"/api/v1/requests/{rng.choice(self.requests)['id']}")
        if kind == "profile":
            user = rng.choice(plan.users)
            body = profile_body(rng, user["constituency"], plan.skills)
            return await client.put("/api/v1/me/profile", json=body, headers=self.auth(user))
        if kind == "post":
            user = rng.choice(plan.users)
            body = request_body(rng, rng.choice(plan.constituencies), plan.skills)
            response = await client.post("/api/v1/requests", json=body, headers=self.auth(user))
            if response.status_code == 201:
                done = time.time()
                body = response.json()
                rid = body["id"]
                created = datetime.fromisoformat(body["created_at"]).timestamp()
                self.posted.append((rid, done, created))
                self.requests.append({"id": rid, "owner": user["id"]})
                if user["id"] not in self.owned:
                    self.owners.append(user)
                self.owned.setdefault(user["id"], []).append(rid)
            return response
        if kind == "offer":
            for _ in range(20):
                user, req = rng.choice(plan.users), rng.choice(self.requests)
                if req["owner"] != user["id"] and (user["id"], req["id"]) not in self.offered:
                    break
            self.offered.add((user["id"], req["id"]))
            body = {"message": "I can help with this"}
            return await client.post(f"/api/v1/requests/{req['id']}/offers", json=body, headers=self.auth(user))
        if kind == "matches":
            owner = rng.choice(self.owners)
            rid = rng.choice(self.owned[owner["id"]])
            return await client.get(f"/api/v1/requests/{rid}/matches", params={"limit": 10}, headers=self.auth(owner))
        if kind == "opportunities":
            user = rng.choice(plan.users)
            return await client.get("/api/v1/me/opportunities", params={"limit": 10}, headers=self.auth(user))
        if kind == "stats":
            organiser = rng.choice(plan.organisers)
            return await client.get(
                f"/api/v1/stats/constituencies/{organiser['constituency']}", headers=self.auth(organiser)
            )
        raise ValueError(kind)


@dataclass
class Answer:
    status_code: int
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class Client:
    """The few calls the generator makes, on one aiohttp session with a base URL; bodies are read whole."""

    def __init__(self, base_url: str, connections: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, limit_per_host=connections, force_close=False),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=20.0, sock_read=20.0),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        query = MultiDict((k, str(v)) for k, v in (params or {}).items())
        async with self.session.request(
            method, self.base_url + path, params=query or None, json=json, headers=headers
        ) as response:
            return Answer(response.status, await response.read())

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("PUT", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)

    async def aclose(self) -> None:
        await self.session.close()


class Pool:
    """One client with `connections` kept-alive connections behind a queue of free slots.

    A caller takes a free slot (FIFO) and gives it back, so requests beyond the connections wait in
    the queue, and that wait counts in their latency. (With httpx the connections were spread over
    many small clients: httpcore's pool does work in proportion to its connections on every call,
    6.6 ms of CPU per call with 64 against 1.1 ms with 8. aiohttp's connector does not.)
    """

    def __init__(self, base_url: str, connections: int) -> None:
        self.client = Client(base_url, connections)
        self.size = connections
        self.slots: asyncio.Queue[Client] = asyncio.Queue()
        for _ in range(connections):
            self.slots.put_nowait(self.client)

    async def warm(self, path: str) -> None:
        """Open every connection before the clock starts, as a client that had been running would have."""
        await asyncio.gather(*(self.client.get(path) for _ in range(self.size)))

    async def close(self) -> None:
        await self.client.aclose()


async def _open_loop(plan: WorkerPlan) -> dict[str, Any]:
    rng = random.Random(plan.seed)
    campaign = Campaign(plan, rng) if plan.mode == "campaign" else None
    # (class, status, ms from the scheduled start, ms on the wire, s from the first scheduled start to the answer)
    records: list[tuple[str, int, float, float, float]] = []
    late: list[float] = []
    loop = asyncio.get_running_loop()
    pool = Pool(plan.base_url, plan.connections)
    try:
        await pool.warm("/healthz")

        async def one(kind: str, scheduled: float) -> None:
            late.append(loop.time() - scheduled)
            client = await pool.slots.get()  # requests beyond the pool wait here, counted in their latency
            sent = loop.time()
            try:
                if campaign is None:
                    response = await client.get("/hello")
                else:
                    response = await campaign.send(client, kind)
                status = response.status_code
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            finally:
                pool.slots.put_nowait(client)
            ended = loop.time()
            records.append((kind, status, (ended - scheduled) * 1000, (ended - sent) * 1000, ended - t0))

        n = int(plan.rate * plan.duration_s)
        t0 = loop.time() + max(0.0, plan.start_at - time.time())
        cpu0, wall0 = time.process_time(), time.monotonic()
        tasks = []
        for i in range(n):
            at = t0 + i / plan.rate
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            kind = campaign.pick() if campaign else "hello"
            tasks.append(asyncio.create_task(one(kind, at)))
        await asyncio.gather(*tasks)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    finally:
        await pool.close()
    return {
        "records": records,
        "late_ms": sorted(x * 1000 for x in late),
        "cpu_s": cpu,
        "wall_s": wall,
        "sent_for_s": n / plan.rate,
        "posted": campaign.posted if campaign else [],
    }


async def _closed_loop(base_url: str, concurrency: int, duration_s: float, path: str) -> dict[str, Any]:
    """As fast as it goes: `concurrency` callers each sending the next request when the last answered."""
    done = 0
    errors = 0
    pool = Pool(base_url, concurrency)
    try:
        await pool.warm(path)
        cpu0, wall0 = time.process_time(), time.monotonic()
        end = wall0 + duration_s

        async def caller(client: Client) -> None:
            nonlocal done, errors
            while time.monotonic() < end:
                response = await client.get(path)
                done += 1
                errors += response.status_code != 200

        await asyncio.gather(*(caller(pool.slots.get_nowait()) for _ in range(pool.slots.qsize())))
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    finally:
        await pool.close()
    return {"done": done, "errors": errors, "cpu_s": cpu, "wall_s": wall}


def _run(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(coro)


def run_open_loop(plan: WorkerPlan) -> dict[str, Any]:
    """Entry point of a worker process."""
    return _run(_open_loop(plan))  # type: ignore[no-any-return]


def run_closed_loop(base_url: str, concurrency: int, duration_s: float, path: str = "/hello") -> dict[str, Any]:
    return _run(_closed_loop(base_url, concurrency, duration_s, path))  # type: ignore[no-any-return]
