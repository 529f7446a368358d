"""Use cases: rank supporters for a request, requests for a supporter, propose matches, gather statistics."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from lx_contracts import matcher as contract
from lx_contracts import topics
from lx_contracts.constituencies import all_constituencies, by_code
from lx_platform import audit, erasure
from lx_platform.auth import Principal
from lx_platform.outbox import enqueue
from matcher_svc import domain
from matcher_svc import repository as repo
from matcher_svc.domain import Opening, Scored


class NotFound(Exception):
    pass


class Forbidden(Exception):
    pass


@dataclass(frozen=True)
class Tuning:
    """The knobs (from settings) the ranking and proposals use."""

    candidate_pool: int = 200
    invitation_window_hours: float = 14 * 24
    proposals_per_request: int = 5
    proposals_per_supporter: int = 3
    proposal_window_hours: float = 24
    proposal_min_score: float = 0.3


@dataclass(frozen=True)
class Match:
    user_id: uuid.UUID
    display_name: str | None
    constituency_code: str | None
    scored: Scored


@dataclass(frozen=True)
class Opportunity:
    opening: Opening
    scored: Scored


@functools.lru_cache(maxsize=2048)
def _nearby(code: str, km: int) -> list[tuple[str, float]]:
    """Constituencies whose centroid is within `km` of this one's (itself included), with the distance."""
    here = by_code(code)
    assert here is not None
    found = ((c.code, domain.km_between(c.lat, c.lon, here.lat, here.lon)) for c in all_constituencies())
    return [(c, 0.0 if c == code else d) for c, d in found if d <= km or c == code]


async def _rank_for(conn: asyncpg.Connection, opening: Opening, *, tuning: Tuning, now: datetime) -> list[Match]:
    place = by_code(opening.constituency_code)
    if place is None:
        return []
    reach = await repo.max_travel_radius(conn)
    nearby = _nearby(opening.constituency_code, reach)
    found = await repo.find_candidates(
        conn, opening, lat=place.lat, lon=place.lon, nearby=nearby, pool_size=tuning.candidate_pool
    )
    if not found:
        return []
    ids = [f.supporter.user_id for f in found]
    loads = await repo.loads(
        conn, ids, exclude_request=opening.id, since=repo.recent_window(now, tuning.invitation_window_hours)
    )
    names = await repo.skill_names(conn, [n.slug for n in opening.needs])
    scored = []
    by_id = {f.supporter.user_id: f for f in found}
    for f in found:
        # The SQL applied the contract's rules already; the domain check keeps the two honest.
        if not domain.is_candidate(opening, f.supporter, km=f.km):
            continue
        scored.append(
            (
                f.supporter.user_id,
                domain.score(opening, f.supporter, km=f.km, load=loads[f.supporter.user_id], skill_names=names),
            )
        )
    return [
        Match(uid, by_id[uid].supporter.display_name, by_id[uid].supporter.constituency_code, s)
        for uid, s in domain.rank(scored)
    ]


def may_see_matches(principal: Principal, opening: Opening) -> bool:
    return principal.user_id == opening.created_by or principal.organises(opening.constituency_code)


async def matches(
    *,
    db: asyncpg.Pool,
    principal: Principal,
    request_id: uuid.UUID,
    tuning: Tuning,
    now: datetime,
    who: audit.Access | None = None,
    shown: slice = slice(None),
) -> list[Match]:
    """The ranked candidates. With `who`, an organiser or admin who is not the owner has the people `shown`
    (the page they see) recorded in the audit log."""
    async with db.acquire() as conn:
        found = await repo.get_request(conn, request_id)
        if found is None:
            raise NotFound
        if not may_see_matches(principal, found.opening):
            raise Forbidden("Only the request's owner, an organiser of its constituency or an admin sees matches.")
        if found.status != "open":
            return []
        ranked = await _rank_for(conn, found.opening, tuning=tuning, now=now)
        if who is not None and principal.user_id != found.opening.created_by:
            await audit.record(conn, who, "matches.view", (m.user_id for m in ranked[shown]), resource=str(request_id))
        return ranked


async def opportunities(*, db: asyncpg.Pool, principal: Principal, tuning: Tuning, now: datetime) -> list[Opportunity]:
    async with db.acquire() as conn:
        me = await repo.get_supporter(conn, principal.user_id)
        if me is None or me.invited:
            return []
        place = by_code(me.constituency_code) if me.constituency_code else None
        found = await repo.find_opportunities(
            conn,
            me,
            lat=place.lat if place else None,
            lon=place.lon if place else None,
            pool_size=tuning.candidate_pool,
        )
        if not found:
            return []
        load = (
            await repo.loads(
                conn, [me.user_id], exclude_request=None, since=repo.recent_window(now, tuning.invitation_window_hours)
            )
        )[me.user_id]
        names = await repo.skill_names(conn, sorted({n.slug for o, _ in found for n in o.needs}))
    scored = {
        o.id: (o, domain.score(o, me, km=km, load=load, skill_names=names))
        for o, km in found
        if domain.can_reach(o, me, km) and domain.skills_met(o, me)
    }
    ranked = domain.rank((rid, s) for rid, (_, s) in scored.items())
    return [Opportunity(scored[rid][0], s) for rid, s in ranked]


async def propose(conn: asyncpg.Connection, *, request_id: uuid.UUID, tuning: Tuning, at: datetime) -> int:
    """When a request opens, propose its best few matches once; skip supporters proposed too often lately.
    Runs inside the consuming transaction, so the proposals and their events commit with it."""
    if tuning.proposals_per_request <= 0:
        return 0
    found = await repo.get_request(conn, request_id)
    if found is None or found.status != "open":
        return 0
    if not await repo.claim_proposal_run(conn, request_id, at):
        return 0
    ranked = await _rank_for(conn, found.opening, tuning=tuning, now=at)
    if not ranked:
        return 0
    recent = await repo.recent_proposals(
        conn, [m.user_id for m in ranked], since=repo.recent_window(at, tuning.proposal_window_hours)
    )
    chosen = domain.pick_proposals(
        [(m.user_id, m.scored) for m in ranked],
        recent_proposals=recent,
        per_supporter_limit=tuning.proposals_per_supporter,
        how_many=tuning.proposals_per_request,
        min_score=tuning.proposal_min_score,
    )
    for user_id, s in chosen:
        await repo.add_proposal(conn, request_id=request_id, user_id=user_id, score=s.score, at=at)
        await enqueue(
            conn,
            topic=topics.MATCH_PROPOSED.name,
            service="matcher",
            subject=str(request_id),
            data=contract.MatchProposed(
                request_id=request_id,
                user_id=user_id,
                score=s.score,
                reasons=[contract.Reason(kind=r.kind, detail=r.detail) for r in s.reasons],  # type: ignore[arg-type]
                proposed_at=at,
            ),
        )
    return len(chosen)


# -- statistics ----------------------------------------------------------------------------------

STATUSES = ("open", "filled", "completed", "cancelled", "pending")


@dataclass
class Tally:
    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    supporters: dict[str, int] = field(default_factory=dict)
    demand: dict[str, int] = field(default_factory=dict)
    to_offer: list[float] = field(default_factory=list)
    to_filled: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for k, v in other.requests.items():
            self.requests[k] = self.requests.get(k, 0) + v
        for k, v in other.supporters.items():
            self.supporters[k] = self.supporters.get(k, 0) + v
        for k, v in other.demand.items():
            self.demand[k] = self.demand.get(k, 0) + v
        self.to_offer += other.to_offer
        self.to_filled += other.to_filled

    def shape(self) -> dict[str, Any]:
        med_offer = domain.median(self.to_offer)
        med_filled = domain.median(self.to_filled)
        return {
            "requests": dict(self.requests),
            "median_hours_to_first_offer": round(med_offer, 2) if med_offer is not None else None,
            "median_hours_to_filled": round(med_filled, 2) if med_filled is not None else None,
            "supporters_by_skill": [
                {"slug": s, "supporters": n} for s, n in sorted(self.supporters.items(), key=lambda t: (-t[1], t[0]))
            ],
            "missing_skills": [
                {"slug": s, "people_needed": need, "supporters": have}
                for s, need, have in domain.missing_skills(self.demand, self.supporters)
            ],
        }


async def _tallies(conn: asyncpg.Connection, codes: list[str] | None) -> dict[str, Tally]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for code, counts in (await repo.request_counts(conn, codes)).items():
        tallies[code].requests.update(counts)
    for code, counts in (await repo.supporter_counts(conn, codes)).items():
        tallies[code].supporters.update(counts)
    for code, counts in (await repo.demand(conn, codes)).items():
        tallies[code].demand.update(counts)
    for code, to_offer, to_filled in await repo.durations(conn, codes):
        if to_offer is not None:
            tallies[code].to_offer.append(to_offer)
        if to_filled is not None:
            tallies[code].to_filled.append(to_filled)
    return tallies


async def constituency_stats(*, db: asyncpg.Pool, code: str) -> dict[str, Any]:
    async with db.acquire() as conn:
        tally = (await _tallies(conn, [code])).get(code, Tally())
    place = by_code(code)
    assert place is not None
    return {"constituency_code": code, "name": place.name, "nation": place.nation, "region": place.region} | (
        tally.shape()
    )


async def national_stats(*, db: asyncpg.Pool) -> dict[str, Any]:
    async with db.acquire() as conn:
        tallies = await _tallies(conn, None)
    total = Tally()
    nations: dict[str, Tally] = defaultdict(Tally)
    regions: dict[tuple[str, str], Tally] = defaultdict(Tally)
    per_seat = []
    for seat in sorted(all_constituencies(), key=lambda c: c.code):
        t = tallies.get(seat.code)
        if t is None:
            continue
        total.add(t)
        nations[seat.nation].add(t)
        regions[(seat.nation, seat.region)].add(t)
        per_seat.append({"constituency_code": seat.code, "name": seat.name} | t.shape())
    return {
        "total": total.shape(),
        "nations": [{"nation": n} | t.shape() for n, t in sorted(nations.items())],
        "regions": [{"nation": n, "region": r} | t.shape() for (n, r), t in sorted(regions.items())],
        "constituencies": per_seat,
    }


# -- erasure and export --------------------------------------------------------------------------

SERVICE = "matcher"


async def erase_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """identity.user-erased.v1, inside the consumer's transaction: the person's projections and proposals go,
    outbox rows naming them are scrubbed, a tombstone stays, matcher.erasure-completed.v1 confirms it.
    Doing it twice deletes nothing more and confirms again."""
    await repo.erase_person(conn, user_id)
    await erasure.complete(
        conn, source=SERVICE, service=SERVICE, topic=topics.MATCHER_ERASURE_COMPLETED, user_id=user_id
    )


async def export(*, db: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, Any]:
    async with db.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await repo.export_of(conn, user_id)
