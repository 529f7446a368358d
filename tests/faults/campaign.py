"""A small campaign driven through the gateway while faults happen, and the check that everything it was
told was accepted ended up in the matcher (its projections, the national statistics and a supporter's
opportunities) exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from lx_devstack.stack import Stack
from lx_devstack.testkit import wait_until

PROBLEM = "application/problem+json"
WITHINGTON = "E14001354"  # Manchester Withington
TIMEOUT_S = 10.0  # what the workload's client waits at most for one answer


@dataclass
class Account:
    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Tally:
    """What one workload sent and what it was told."""

    sent: int = 0
    requests: list[str] = field(default_factory=list)  # ids of requests answered 201
    offers: list[str] = field(default_factory=list)  # ids of offers answered 201
    refused: Counter[str] = field(default_factory=Counter)  # anything but 201, by status or error
    slowest_refusal_s: float = 0.0
    bad_refusals: list[str] = field(default_factory=list)  # refusals that were not a quick 503 problem+json

    @property
    def accepted(self) -> int:
        return len(self.requests) + len(self.offers)

    def merge(self, other: Tally) -> None:
        self.sent += other.sent
        self.requests += other.requests
        self.offers += other.offers
        self.refused.update(other.refused)
        self.slowest_refusal_s = max(self.slowest_refusal_s, other.slowest_refusal_s)
        self.bad_refusals += other.bad_refusals


async def _register(client: httpx.AsyncClient, name: str, *, discoverable: bool = True) -> Account:
    email = f"fault-{uuid.uuid4().hex[:12]}@example.org"
    password = "a long enough password " + uuid.uuid4().hex[:6]
    r = await client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": password,
            "display_name": name,
            "consents": {"terms": True, "discoverable": discoverable, "contact_by_x": False},
        },
    )
    assert r.status_code == 201, r.text
    t = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert t.status_code == 200, t.text
    return Account(r.json()["id"], t.json()["access_token"])


class Campaign:
    """Owners open requests for one skill in one constituency; helpers offer on each; a watcher who has the
    skill and never offers must see every open request among their opportunities."""

    def __init__(self, stack: Stack, client: httpx.AsyncClient) -> None:
        self.stack = stack
        self.http = client
        self.owners: list[Account] = []
        self.helpers: list[Account] = []
        self.watcher: Account | None = None
        self.admin: Account | None = None
        self.skill = ""

    async def set_up(self, *, owners: int = 6, helpers: int = 6) -> None:
        t = await self.http.post(
            "/api/v1/auth/token", json={"email": self.stack.admin_email, "password": self.stack.admin_password}
        )
        assert t.status_code == 200, t.text
        me = await self.http.get("/api/v1/me", headers={"Authorization": f"Bearer {t.json()['access_token']}"})
        self.admin = Account(me.json()["id"], t.json()["access_token"])
        skills = await self.http.get("/api/v1/skills")
        assert skills.status_code == 200, skills.text
        self.skill = skills.json()[0]["slug"]
        self.owners = list(await asyncio.gather(*(_register(self.http, f"Owner {i}") for i in range(owners))))
        self.helpers = list(await asyncio.gather(*(_register(self.http, f"Helper {i}") for i in range(helpers))))
        self.watcher = await _register(self.http, "Wendy Watcher")
        r = await self.http.put(
            "/api/v1/me/profile",
            headers=self.watcher.auth,
            json={
                "constituency_code": WITHINGTON,
                "travel_radius_km": 5,
                "remote_ok": False,
                "max_hours_per_week": 8,
                "availability": [],
                "skills": [{"slug": self.skill, "level": 3, "note": ""}],
            },
        )
        assert r.status_code == 200, r.text
        # The requests service learns the taxonomy, and the matcher the watcher, from events.
        probe = await self._post_request(self.owners[0])

        async def requests_know_the_skill() -> bool:
            nonlocal probe
            if probe.status_code == 201:
                return True
            probe = await self._post_request(self.owners[0])
            return False

        await wait_until(requests_know_the_skill, timeout_s=60, what="the requests service to know the skill")
        probe_id = probe.json()["id"]

        async def matcher_knows_the_watcher() -> bool:
            return probe_id in await self.opportunities()

        await wait_until(matcher_knows_the_watcher, timeout_s=60, what="the matcher to rank for the watcher")

    async def _post_request(self, owner: Account) -> httpx.Response:
        return await self.http.post(
            "/api/v1/requests",
            headers=owner.auth,
            json={
                "title": "Leaflets for the estate",
                "description": "Fold and deliver leaflets.",
                "constituency_code": WITHINGTON,
                "remote_ok": False,
                "urgency": "normal",
                "skills": [{"slug": self.skill, "min_level": 1, "people": 1}],
            },
        )

    # -- the workload ------------------------------------------------------------------------
    async def run(self, units: int, duration_s: float, *, concurrency: int = 6, tally: Tally | None = None) -> Tally:
        """`units` times: an owner opens a request, then a helper offers on it; spread over `duration_s`."""
        tally = tally if tally is not None else Tally()
        gate = asyncio.Semaphore(concurrency)
        start = time.monotonic()

        async def unit(i: int) -> None:
            async with gate:
                owner = self.owners[i % len(self.owners)]
                helper = self.helpers[(i + 1) % len(self.helpers)]
                r = await self._write(tally, "/api/v1/requests", owner, None)
                if r is None:
                    return
                tally.requests.append(r)
                offer = await self._write(tally, f"/api/v1/requests/{r}/offers", helper, {"message": "I can help"})
                if offer is not None:
                    tally.offers.append(offer)

        tasks = []
        for i in range(units):
            # Pacing, not waiting for a condition: unit i starts at its place in the schedule.
            delay = start + i * duration_s / units - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(unit(i)))
        await asyncio.gather(*tasks)
        return tally

    async def _write(self, tally: Tally, path: str, who: Account, body: dict[str, Any] | None) -> str | None:
        tally.sent += 1
        began = time.monotonic()
        try:
            if body is None:
                r = await self._post_request(who)
            else:
                r = await self.http.post(path, headers=who.auth, json=body, timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            tally.refused[type(exc).__name__] += 1
            tally.slowest_refusal_s = max(tally.slowest_refusal_s, time.monotonic() - began)
            return None
        if r.status_code == 201:
            ident: str = r.json()["id"]
            return ident
        took = time.monotonic() - began
        tally.refused[str(r.status_code)] += 1
        tally.slowest_refusal_s = max(tally.slowest_refusal_s, took)
        if r.status_code != 503 or not r.headers.get("content-type", "").startswith(PROBLEM):
            tally.bad_refusals.append(f"{r.status_code} {r.text[:200]}")
        return None

    # -- what the matcher shows ----------------------------------------------------------------
    async def opportunities(self) -> list[str]:
        """Every request id among the watcher's opportunities, page by page (repeats kept)."""
        assert self.watcher is not None
        found: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            r = await self.http.get("/api/v1/me/opportunities", headers=self.watcher.auth, params=params)
            if r.status_code != 200:
                return []
            body = r.json()
            found += [o["request_id"] for o in body["items"]]
            cursor = body.get("next_cursor")
            if not cursor:
                return found

    async def open_requests_counted(self) -> int:
        """Open requests in the national statistics (only this campaign opens requests in this stack)."""
        assert self.admin is not None
        r = await self.http.get("/api/v1/stats/national", headers=self.admin.auth)
        assert r.status_code == 200, r.text
        n: int = r.json()["total"]["requests"]["open"]
        return n

    async def _matcher_rows(self, query: str, ids: list[str]) -> list[str]:
        conn = await asyncpg.connect(self.stack.dsns["matcher"])
        try:
            return [str(row[0]) for row in await conn.fetch(query, [uuid.UUID(i) for i in ids])]
        finally:
            await conn.close()

    async def check(self, tally: Tally, *, open_before: int, what: str, timeout_s: float = 90.0) -> tuple[int, int]:
        """Wait until everything accepted is reflected (or the deadline), then print and return (lost, duplicated)."""
        state: dict[str, Any] = {}

        async def reflected() -> bool:
            state["requests"] = await self._matcher_rows(
                "SELECT request_id FROM requests WHERE request_id = ANY($1::uuid[])", tally.requests
            )
            state["offers"] = await self._matcher_rows(
                "SELECT offer_id FROM offers WHERE offer_id = ANY($1::uuid[])", tally.offers
            )
            state["seen"] = await self.opportunities()
            state["counted"] = await self.open_requests_counted() - open_before
            seen = set(state["seen"])
            return (
                len(state["requests"]) == len(tally.requests)
                and len(state["offers"]) == len(tally.offers)
                and all(r in seen for r in tally.requests)
                and state["counted"] >= len(tally.requests)
            )

        try:
            await wait_until(reflected, timeout_s=timeout_s, what=f"{what}: everything accepted to be reflected")
        except AssertionError:
            pass  # counted below, so the output says what is missing
        ours = set(tally.requests)
        seen = Counter(r for r in state["seen"] if r in ours)
        lost_requests = len(ours - set(state["requests"]))
        lost_offers = len(set(tally.offers) - set(state["offers"]))
        lost_in_opportunities = len(ours - set(seen))
        lost_in_stats = max(0, len(tally.requests) - state["counted"])
        lost = max(lost_requests, lost_in_opportunities, lost_in_stats) + lost_offers
        duplicated = max(0, state["counted"] - len(tally.requests)) + sum(n - 1 for n in seen.values() if n > 1)
        refused = ", ".join(f"{k}×{v}" for k, v in sorted(tally.refused.items())) or "none"
        print(
            f"\n[{what}] sent={tally.sent} accepted={tally.accepted} lost={lost} duplicated={duplicated} "
            f"(requests={len(tally.requests)} offers={len(tally.offers)} refused: {refused}; "
            f"slowest refusal {tally.slowest_refusal_s:.2f} s; missing: requests={lost_requests} "
            f"offers={lost_offers} opportunities={lost_in_opportunities} stats={lost_in_stats})"
        )
        return lost, duplicated
