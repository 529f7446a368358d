"""Matching rules: who may be matched to a request, and how well they fit. Pure; no I/O.

A score in 0..1 is a weighted sum of four parts, each in 0..1:

- skill fit: for each skill the request needs, a holder at or above `min_level` earns 0.7, plus up
  to 0.3 more for levels above it; the average over the needed skills, so covering every skill
  matters as much as being good at one;
- location: same constituency 1.0; otherwise within the supporter's travel radius, 0.9 falling to
  0.5 at the edge of the radius; help from home (both remote) 0.6;
- availability: the share of the request's time that falls in the supporter's weekly windows (UK
  local time); neutral (0.5) when the request has no times or the supporter gave no windows;
- load (fairness): 1.0 with nothing else on, less for each accepted offer on another live request
  and for each recent invitation, so the same few people are not asked every time.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "mon": "Mondays",
    "tue": "Tuesdays",
    "wed": "Wednesdays",
    "thu": "Thursdays",
    "fri": "Fridays",
    "sat": "Saturdays",
    "sun": "Sundays",
}

WEIGHTS = {"skill": 0.45, "location": 0.25, "availability": 0.15, "load": 0.15}
NEUTRAL = 0.5
REMOTE_SCORE = 0.6
# Beyond a week every weekday is in the request's span, so a week is all that needs looking at.
_WEEK_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Need:
    slug: str
    min_level: int


@dataclass(frozen=True)
class Window:
    day: str
    start: str
    end: str

    @property
    def minutes(self) -> tuple[int, int, int]:
        """(day index, start minute, end minute) within the week."""
        return DAYS.index(self.day), _minute(self.start), _minute(self.end)


@dataclass(frozen=True)
class Opening:
    """A request as the matcher sees it."""

    id: uuid.UUID
    constituency_code: str
    remote_ok: bool
    needs: tuple[Need, ...]
    created_by: uuid.UUID | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    title: str = ""


@dataclass(frozen=True)
class Supporter:
    """A supporter as the matcher sees them: where they are, what they hold, when they are free."""

    user_id: uuid.UUID
    constituency_code: str | None
    travel_radius_km: int
    remote_ok: bool
    skills: dict[str, int]
    availability: tuple[Window, ...] = ()
    display_name: str | None = None
    discoverable: bool = True
    invited: bool = False


@dataclass(frozen=True)
class Load:
    """What a supporter already has on: accepted offers on other live requests, recent invitations."""

    accepted_elsewhere: int = 0
    recent_invitations: int = 0


@dataclass(frozen=True)
class Reason:
    kind: str
    detail: str


@dataclass(frozen=True)
class Scored:
    score: float
    parts: dict[str, float]
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


def _minute(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, Earth radius 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


# -- who may be matched --------------------------------------------------------------------------


def skills_met(opening: Opening, supporter: Supporter) -> list[Need]:
    """The request's needs this supporter meets (holds the skill at or above the minimum)."""
    return [n for n in opening.needs if supporter.skills.get(n.slug, 0) >= n.min_level]


def can_reach(opening: Opening, supporter: Supporter, km: float | None) -> bool:
    """Same constituency, or the centroids within the supporter's radius, or both happy to work remotely."""
    if supporter.constituency_code is not None and supporter.constituency_code == opening.constituency_code:
        return True
    if km is not None and supporter.constituency_code is not None and km <= supporter.travel_radius_km:
        return True
    return opening.remote_ok and supporter.remote_ok


def is_candidate(
    opening: Opening, supporter: Supporter, *, km: float | None, offered_or_declined: bool = False
) -> bool:
    """The contract's rule: discoverable, not an unclaimed invited account, not the owner, no offer yet
    (nor declined), at least one needed skill at its level, and within reach."""
    return (
        supporter.discoverable
        and not supporter.invited
        and supporter.user_id != opening.created_by
        and not offered_or_declined
        and bool(skills_met(opening, supporter))
        and can_reach(opening, supporter, km)
    )


# -- how well they fit ---------------------------------------------------------------------------


def skill_part(opening: Opening, supporter: Supporter, names: dict[str, str]) -> tuple[float, list[Reason]]:
    if not opening.needs:
        return 0.0, []
    total = 0.0
    reasons = []
    for need in opening.needs:
        level = supporter.skills.get(need.slug, 0)
        if level >= need.min_level:
            total += 0.7 + 0.3 * min(level - need.min_level, 2) / 2
            name = names.get(need.slug, need.slug.replace("-", " ").capitalize())
            reasons.append(Reason("skill", f"{name} level {level} (needs {need.min_level})"))
    return total / len(opening.needs), reasons


def location_part(opening: Opening, supporter: Supporter, km: float | None) -> tuple[float, Reason | None]:
    if supporter.constituency_code is not None and supporter.constituency_code == opening.constituency_code:
        return 1.0, Reason("location", "Same constituency")
    best: tuple[float, Reason | None] = (0.0, None)
    if km is not None and supporter.constituency_code is not None and km <= supporter.travel_radius_km:
        share = km / supporter.travel_radius_km if supporter.travel_radius_km else 1.0
        best = (0.9 - 0.4 * share, Reason("location", f"{km:.1f} km away, within {supporter.travel_radius_km} km"))
    if opening.remote_ok and supporter.remote_ok and best[0] < REMOTE_SCORE:
        best = (REMOTE_SCORE, Reason("location", "Can help remotely"))
    return best


@functools.lru_cache(maxsize=4096)
def request_minutes(starts_at: datetime, ends_at: datetime) -> list[tuple[int, int, int]]:
    """The request's time as (weekday, start minute, end minute) pieces in UK local time; a week at most.
    Cached: ranking asks the same request hundreds of times. Callers must not change the list."""
    start = starts_at.astimezone(UK)
    end = ends_at.astimezone(UK)
    if end <= start:
        return []
    if end - start >= timedelta(days=7):
        return [(d, 0, 24 * 60) for d in range(7)]
    pieces = []
    cursor = start
    while cursor < end:
        midnight = (cursor + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        stop = min(end, midnight)
        first = cursor.hour * 60 + cursor.minute
        last = 24 * 60 if stop == midnight else stop.hour * 60 + stop.minute
        if last > first:
            pieces.append((cursor.weekday(), first, last))
        cursor = midnight
    return pieces


def availability_part(opening: Opening, supporter: Supporter) -> tuple[float, Reason | None]:
    if opening.starts_at is None or opening.ends_at is None:
        return NEUTRAL, None
    if not supporter.availability:
        return NEUTRAL, None
    pieces = request_minutes(opening.starts_at, opening.ends_at)
    wanted = sum(b - a for _, a, b in pieces)
    if wanted <= 0:
        return NEUTRAL, None
    overlap = 0
    matching: list[Window] = []
    for window in supporter.availability:
        day, a, b = window.minutes
        hit = sum(max(0, min(b, pe) - max(a, ps)) for d, ps, pe in pieces if d == day)
        if hit > 0:
            overlap += hit
            matching.append(window)
    if not matching:
        return 0.0, Reason("availability", "Not usually free at the requested times")
    # Long requests: being free a good part of one day is plenty, so measure against at most 8 hours.
    share = min(1.0, overlap / min(wanted, 8 * 60))
    first = matching[0]
    detail = f"Free {DAY_NAMES[first.day]} {first.start}\u2013{first.end}"
    if len(matching) > 1:
        detail += f" and {len(matching) - 1} more window{'s' if len(matching) > 2 else ''}"
    return 0.5 + 0.5 * share, Reason("availability", detail)


def load_part(load: Load) -> tuple[float, Reason]:
    busy = load.accepted_elsewhere + 0.5 * load.recent_invitations
    score = 1.0 / (1.0 + busy)
    bits = []
    if load.accepted_elsewhere:
        n = load.accepted_elsewhere
        bits.append(f"Already helping on {n} other open request{'s' if n > 1 else ''}")
    if load.recent_invitations:
        n = load.recent_invitations
        bits.append(f"invited {n} time{'s' if n > 1 else ''} recently")
    if not bits:
        return score, Reason("load", "No other commitments")
    text = "; ".join(bits)
    return score, Reason("load", text[0].upper() + text[1:])


def score(
    opening: Opening,
    supporter: Supporter,
    *,
    km: float | None,
    load: Load,
    skill_names: dict[str, str] | None = None,
) -> Scored:
    """How well this supporter fits this request, with the reasons a person can read."""
    skill, skill_reasons = skill_part(opening, supporter, skill_names or {})
    where, where_reason = location_part(opening, supporter, km)
    when, when_reason = availability_part(opening, supporter)
    busy, busy_reason = load_part(load)
    parts = {"skill": skill, "location": where, "availability": when, "load": busy}
    total = sum(WEIGHTS[k] * v for k, v in parts.items())
    reasons = [*skill_reasons]
    reasons += [r for r in (where_reason, when_reason) if r is not None]
    reasons.append(busy_reason)
    return Scored(score=round(max(0.0, min(1.0, total)), 4), parts=parts, reasons=tuple(reasons))


def rank(scored: Iterable[tuple[uuid.UUID, Scored]]) -> list[tuple[uuid.UUID, Scored]]:
    """Best first; ties broken by id so pages are stable."""
    return sorted(scored, key=lambda item: (-item[1].score, str(item[0])))


# -- proactive proposals -------------------------------------------------------------------------


def pick_proposals(
    ranked: Sequence[tuple[uuid.UUID, Scored]],
    *,
    recent_proposals: dict[uuid.UUID, int],
    per_supporter_limit: int,
    how_many: int,
    min_score: float = 0.0,
) -> list[tuple[uuid.UUID, Scored]]:
    """The best few, skipping anyone already proposed `per_supporter_limit` times in the window."""
    chosen: list[tuple[uuid.UUID, Scored]] = []
    for user_id, s in ranked:
        if len(chosen) >= how_many:
            break
        if s.score < min_score or recent_proposals.get(user_id, 0) >= per_supporter_limit:
            continue
        chosen.append((user_id, s))
    return chosen


# -- statistics ----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def missing_skills(demand: dict[str, int], supply: dict[str, int]) -> list[tuple[str, int, int]]:
    """Skills open requests ask for with fewer supporters there than people needed: (slug, needed, have)."""
    return sorted(
        ((slug, needed, supply.get(slug, 0)) for slug, needed in demand.items() if supply.get(slug, 0) < needed),
        key=lambda t: (t[2] - t[1], t[0]),
    )
