"""Matches per request at national size, against a naive baseline in the same run.

    make bench-matcher        (or: .venv/bin/python bench/matcher.py [--profiles N] [--requests N])

Starts an embedded Postgres in a temporary folder, applies the matcher's migrations to a `matcher`
schema, and bulk-loads (COPY) the tables the event handlers write: 500,000 supporter profiles over
the 650 constituencies (people, profiles, their candidate rows and the supporter counters) with
skill mixes skewed towards the common campaign skills, and 10,000 open requests, with some offers
and invitations so the fairness part has work to do. Then:

- matcher: the matcher's own ranking (`service._rank_for`: SQL pre-filter of candidates, then the
  domain's scoring of the best few hundred) for at least 1,000 random requests: p50, p95, p99;
- naive baseline: for a sample of the same requests, load every supporter holding any needed skill
  and score them all in Python with the same domain rules.

It prints the ratio of the medians and the peak Python memory of each (tracemalloc), and the peak
RSS of the process. No assertions: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from lx_contracts.constituencies import all_constituencies, by_code
from lx_devstack.postgres import start_embedded
from lx_platform.db import create_pool
from lx_platform.migrations import apply_migrations
from matcher_svc import domain, service
from matcher_svc import repository as repo
from matcher_svc.app import MIGRATIONS
from matcher_svc.domain import Load, Opening, Supporter, Window

SEED = 20261127
# Campaign skills, most asked-for first; popularity falls off like Zipf.
SKILLS = [f"skill-{i:02d}" for i in range(41)]
WEIGHTS = [1 / (i + 1) ** 0.8 for i in range(41)]
RADII = [0, 2, 5, 5, 10, 10, 15, 20, 30, 50]
DAYS = list(domain.DAYS)
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def gen_profiles(n: int, rng: random.Random) -> tuple[list[tuple[Any, ...]], ...]:
    seats = all_constituencies()
    # Denser in some places than others, as supporters are.
    seat_weights = [rng.uniform(0.3, 3.0) for _ in seats]
    people, profiles, candidates = [], [], []
    for i in range(n):
        uid = uuid.UUID(int=rng.getrandbits(128))
        seat = rng.choices(seats, seat_weights)[0]
        discoverable = rng.random() < 0.85
        people.append((uid, f"Supporter {i}", discoverable, False, False, NOW))
        held = {s: rng.randint(1, 5) for s in rng.choices(SKILLS, WEIGHTS, k=rng.randint(1, 4))}
        radius = rng.choice(RADII)
        remote = rng.random() < 0.3
        windows = []
        for day in rng.sample(DAYS, rng.randint(0, 3)):
            start = rng.randint(8, 18)
            windows.append(
                {"day": day, "start": f"{start:02d}:00", "end": f"{min(start + rng.randint(2, 6), 23):02d}:00"}
            )
        profiles.append((uid, seat.code, radius, remote, rng.choice([None, 4, 8, 16]), windows, held, NOW))
        if discoverable:
            for slug, level in held.items():
                candidates.append((uid, slug, level, seat.code, seat.lat, seat.lon, radius, remote))
    return people, profiles, candidates


def gen_requests(n: int, rng: random.Random, owners: Sequence[uuid.UUID]) -> tuple[list[tuple[Any, ...]], ...]:
    seats = all_constituencies()
    requests, needs = [], []
    for i in range(n):
        rid = uuid.UUID(int=rng.getrandbits(128))
        seat = rng.choice(seats)
        starts = NOW + timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 12)) if rng.random() < 0.6 else None
        ends = starts + timedelta(hours=rng.randint(2, 48)) if starts else None
        slugs = set(rng.choices(SKILLS, WEIGHTS, k=rng.randint(1, 2)))
        people = 0
        for slug in slugs:
            p = rng.randint(1, 3)
            people += p
            needs.append((rid, slug, rng.randint(1, 4), p))
        requests.append(
            (
                rid, f"Request {i}", seat.code, rng.random() < 0.3, starts, ends, "normal", "open", "web",
                rng.choice(owners), NOW - timedelta(hours=rng.randint(1, 200)), people, 0, NOW, None, None, "open",
            )
        )  # fmt: skip
    return requests, needs


async def load(dsn: str, n_profiles: int, n_requests: int) -> list[uuid.UUID]:
    rng = random.Random(SEED)
    t = time.perf_counter()
    people, profiles, candidates = gen_profiles(n_profiles, rng)
    requests, needs = gen_requests(n_requests, rng, [p[0] for p in people[:5000]])
    print(f"generated {len(people):,} profiles ({len(candidates):,} candidate skill rows) and "
          f"{len(requests):,} requests in {time.perf_counter() - t:.1f} s")  # fmt: skip
    t = time.perf_counter()
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "matcher"})
    # COPY is binary: jsonb goes as a version byte and the JSON text.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: b"\x01" + json.dumps(v).encode(),
        decoder=lambda b: json.loads(b[1:]),
        schema="pg_catalog",
        format="binary",
    )
    try:
        await conn.copy_records_to_table(
            "people",
            records=people,
            columns=["user_id", "display_name", "discoverable", "contact_by_x", "invited", "as_of"],
        )
        await conn.copy_records_to_table(
            "profiles",
            records=profiles,
            columns=["user_id", "constituency_code", "travel_radius_km", "remote_ok", "max_hours_per_week",
                     "availability", "skills", "as_of"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "candidates",
            records=candidates,
            columns=["user_id", "slug", "level", "constituency_code", "lat", "lon", "travel_radius_km", "remote_ok"],
        )
        await conn.execute(
            """INSERT INTO stat_supporters (constituency_code, slug, n)
               SELECT constituency_code, slug, count(*) FROM candidates GROUP BY 1, 2"""
        )
        await conn.copy_records_to_table(
            "requests",
            records=requests,
            columns=["request_id", "title", "constituency_code", "remote_ok", "starts_at", "ends_at", "urgency",
                     "state_status", "source", "created_by", "created_at", "people_needed", "people_accepted",
                     "state_as_of", "outcome", "closed_at", "status"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "request_skills", records=needs, columns=["request_id", "slug", "min_level", "people"]
        )
        # Some supporters are busy or were invited lately: the fairness part has rows to count.
        busy = rng.sample([p[0] for p in people], 20_000)
        rids = [r[0] for r in requests]
        await conn.copy_records_to_table(
            "offers",
            records=[(uuid.uuid4(), rng.choice(rids), u, "accepted", NOW, None, NOW) for u in busy[:10_000]],
            columns=["offer_id", "request_id", "user_id", "status", "made_at", "filled_at", "as_of"],
        )
        await conn.copy_records_to_table(
            "invitations",
            records=[
                (uuid.uuid4(), rng.choice(rids), u, NOW - timedelta(days=rng.randint(0, 20))) for u in busy[10_000:]
            ],
            columns=["invitation_id", "request_id", "user_id", "at"],
        )
        await conn.execute("VACUUM ANALYZE")  # as autovacuum would: index-only scans need the visibility map
    finally:
        await conn.close()
    print(f"loaded with COPY and analysed in {time.perf_counter() - t:.1f} s")
    return [r[0] for r in requests]


async def naive(conn: asyncpg.Connection, opening: Opening) -> list[tuple[uuid.UUID, domain.Scored]]:
    """Load every supporter holding any needed skill, with their profile, and do everything in Python."""
    place = by_code(opening.constituency_code)
    assert place is not None
    rows = await conn.fetch(
        """SELECT p.user_id, p.constituency_code, p.travel_radius_km, p.remote_ok, p.availability, p.skills,
                  pe.display_name, pe.discoverable, pe.invited
           FROM profiles p JOIN people pe USING (user_id)
           WHERE p.skills ?| $1::text[]""",
        [n.slug for n in opening.needs],
    )
    offered = {r["user_id"] for r in await conn.fetch("SELECT user_id FROM offers WHERE request_id = $1", opening.id)}
    busy = {r["user_id"]: r["n"] for r in await conn.fetch(
        """SELECT o.user_id, count(*) AS n FROM offers o JOIN requests r USING (request_id)
           WHERE o.status = 'accepted' AND r.status IN ('open', 'filled') GROUP BY 1""")}  # fmt: skip
    invited = {r["user_id"]: r["n"] for r in await conn.fetch(
        "SELECT user_id, count(*) AS n FROM invitations WHERE at >= $1 GROUP BY 1",
        NOW - timedelta(days=14))}  # fmt: skip
    scored = []
    for r in rows:
        code = r["constituency_code"]
        seat = by_code(code) if code else None
        km = domain.km_between(seat.lat, seat.lon, place.lat, place.lon) if seat else None
        s = Supporter(
            user_id=r["user_id"],
            constituency_code=code,
            travel_radius_km=r["travel_radius_km"],
            remote_ok=r["remote_ok"],
            skills={k: int(v) for k, v in r["skills"].items()},
            availability=tuple(Window(w["day"], w["start"], w["end"]) for w in r["availability"]),
            display_name=r["display_name"],
            discoverable=r["discoverable"],
            invited=r["invited"],
        )
        if not domain.is_candidate(opening, s, km=km, offered_or_declined=s.user_id in offered):
            continue
        load = Load(accepted_elsewhere=busy.get(s.user_id, 0), recent_invitations=invited.get(s.user_id, 0))
        scored.append((s.user_id, domain.score(opening, s, km=km, load=load)))
    return domain.rank(scored)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def measure(pool: asyncpg.Pool, request_ids: list[uuid.UUID], n: int, n_naive: int, candidate_pool: int) -> None:
    rng = random.Random(SEED + 1)
    sample = rng.sample(request_ids, n)
    tuning = service.Tuning(candidate_pool=candidate_pool)
    async with pool.acquire() as conn:
        openings = [r.opening for r in [await repo.get_request(conn, rid) for rid in sample] if r is not None]
        for o in openings[:20]:  # warm the caches and the prepared statements
            await service._rank_for(conn, o, tuning=tuning, now=NOW)  # noqa: SLF001
        # Timed without tracemalloc (it slows Python several times); memory measured in a second pass.
        fast, sizes, fast_best = [], [], []
        for o in openings:
            t = time.perf_counter()
            ranked = await service._rank_for(conn, o, tuning=tuning, now=NOW)  # noqa: SLF001
            fast.append((time.perf_counter() - t) * 1000)
            sizes.append(len(ranked))
            fast_best.append(ranked[0].scored.score if ranked else None)
        slow, slow_best = [], []
        for o in openings[:n_naive]:
            t = time.perf_counter()
            answer = await naive(conn, o)
            slow.append((time.perf_counter() - t) * 1000)
            slow_best.append(answer[0][1].score if answer else None)
        tracemalloc.start()
        for o in openings[:n_naive]:
            await service._rank_for(conn, o, tuning=tuning, now=NOW)  # noqa: SLF001
        fast_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.reset_peak()
        for o in openings[: max(1, n_naive // 5)]:
            await naive(conn, o)
        slow_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    # The two agree on the best match's score (ties aside, the same person).
    agree = sum(a == b for a, b in zip(fast_best, slow_best, strict=False))
    print(f"\nmatcher (SQL pre-filter + domain scoring of the best {candidate_pool}), {len(fast)} requests, "
          f"median {statistics.median(sizes):.0f} candidates scored:")  # fmt: skip
    print(f"  p50 {pct(fast, 50):7.2f} ms   p95 {pct(fast, 95):7.2f} ms   p99 {pct(fast, 99):7.2f} ms   "
          f"peak Python memory {fast_peak:.1f} MB")  # fmt: skip
    print(f"naive baseline (load every holder of a needed skill, score in Python), {len(slow)} requests:")
    print(f"  p50 {pct(slow, 50):7.2f} ms   p95 {pct(slow, 95):7.2f} ms   p99 {pct(slow, 99):7.2f} ms   "
          f"peak Python memory {slow_peak:.1f} MB")  # fmt: skip
    print(
        f"ratio (naive / matcher): p50 {pct(slow, 50) / pct(fast, 50):.1f}x   p99 {pct(slow, 99) / pct(fast, 99):.1f}x"
    )
    print(f"best score agrees with the baseline on {agree}/{len(slow)} requests")
    print(f"peak RSS of this process (data generation included): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # fmt: skip


async def main(n_profiles: int, n_requests: int, n: int, n_naive: int, candidate_pool: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-matcher-") as tmp:
        pg = start_embedded(Path(tmp), delete_on_stop=True)
        try:
            admin = await asyncpg.connect(pg.admin_url)
            try:
                await admin.execute("CREATE SCHEMA matcher")
                await apply_migrations(admin, schema="matcher", directory=MIGRATIONS)
            finally:
                await admin.close()
            pool = await create_pool(pg.admin_url, schema="matcher", application_name="bench-matcher")
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await repo.seed_constituencies(conn)
                request_ids = await load(pg.admin_url, n_profiles, n_requests)
                await measure(pool, request_ids, n, n_naive, candidate_pool)
            finally:
                await pool.close()
        finally:
            pg.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=500_000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--measure", type=int, default=1_000, help="requests timed through the matcher")
    parser.add_argument("--naive", type=int, default=100, help="requests timed through the naive baseline")
    parser.add_argument("--pool", type=int, default=service.Tuning().candidate_pool, help="MATCHER_CANDIDATE_POOL")
    args = parser.parse_args()
    asyncio.run(main(args.profiles, args.requests, args.measure, args.naive, args.pool))
