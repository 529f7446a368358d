"""The matching rules: who is a candidate, how each part of the score behaves, and the reasons given."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from matcher_svc import domain
from matcher_svc.domain import Load, Need, Opening, Supporter, Window

pytestmark = pytest.mark.unit

HERE = "E14001354"
THERE = "E14001352"
OWNER = uuid.uuid4()


def opening(**over: object) -> Opening:
    base: dict[str, object] = {
        "id": uuid.uuid4(),
        "constituency_code": HERE,
        "remote_ok": False,
        "needs": (Need("graphic-design", 3),),
        "created_by": OWNER,
    }
    base.update(over)
    return Opening(**base)  # type: ignore[arg-type]


def supporter(**over: object) -> Supporter:
    base: dict[str, object] = {
        "user_id": uuid.uuid4(),
        "constituency_code": HERE,
        "travel_radius_km": 10,
        "remote_ok": False,
        "skills": {"graphic-design": 4},
    }
    base.update(over)
    return Supporter(**base)  # type: ignore[arg-type]


def test_a_nearby_skilled_discoverable_supporter_is_a_candidate() -> None:
    assert domain.is_candidate(opening(), supporter(), km=0.0)


@pytest.mark.parametrize(
    ("who", "km", "offered"),
    [
        ({"discoverable": False}, 0.0, False),
        ({"invited": True}, 0.0, False),
        ({"user_id": OWNER}, 0.0, False),
        ({}, 0.0, True),
        ({"skills": {"graphic-design": 2}}, 0.0, False),
        ({"skills": {"copywriting": 5}}, 0.0, False),
        ({"constituency_code": THERE, "travel_radius_km": 5}, 9.1, False),
        ({"constituency_code": THERE, "remote_ok": True}, 300.0, False),
    ],
    ids=["hidden", "invited", "owner", "offered", "level-too-low", "other-skill", "out-of-radius", "remote-one-side"],
)
def test_people_the_contract_excludes_are_not_candidates(who: dict[str, object], km: float, offered: bool) -> None:
    assert not domain.is_candidate(opening(), supporter(**who), km=km, offered_or_declined=offered)


def test_remote_on_both_sides_reaches_any_distance() -> None:
    far = supporter(constituency_code="S14000084", travel_radius_km=0, remote_ok=True)
    assert domain.is_candidate(opening(remote_ok=True), far, km=300.0)


def test_within_the_travel_radius_reaches_another_constituency() -> None:
    assert domain.is_candidate(opening(), supporter(constituency_code=THERE, travel_radius_km=10), km=9.1)


def test_higher_levels_and_covering_every_skill_score_higher() -> None:
    two = opening(needs=(Need("graphic-design", 3), Need("copywriting", 2)))
    just = domain.score(two, supporter(skills={"graphic-design": 3}), km=0.0, load=Load())
    better = domain.score(two, supporter(skills={"graphic-design": 5}), km=0.0, load=Load())
    both = domain.score(two, supporter(skills={"graphic-design": 3, "copywriting": 2}), km=0.0, load=Load())
    assert just.score < better.score < both.score
    assert both.parts["skill"] == pytest.approx(0.7)


def test_same_constituency_beats_nearby_which_beats_remote() -> None:
    remote_req = opening(remote_ok=True)
    same = domain.score(remote_req, supporter(), km=0.0, load=Load())
    near = domain.score(remote_req, supporter(constituency_code=THERE, travel_radius_km=20), km=3.2, load=Load())
    remote = domain.score(remote_req, supporter(constituency_code="S14000084", remote_ok=True), km=300.0, load=Load())
    assert same.score > near.score > remote.score
    assert ("location", "Same constituency") in [(r.kind, r.detail) for r in same.reasons]
    assert ("location", "3.2 km away, within 20 km") in [(r.kind, r.detail) for r in near.reasons]
    assert ("location", "Can help remotely") in [(r.kind, r.detail) for r in remote.reasons]


def test_reasons_name_the_skill_and_its_level_against_the_minimum() -> None:
    s = domain.score(opening(), supporter(), km=0.0, load=Load(), skill_names={"graphic-design": "Graphic design"})
    assert s.reasons[0] == domain.Reason("skill", "Graphic design level 4 (needs 3)")


def test_being_free_at_the_requested_time_scores_higher_and_says_when() -> None:
    # Saturday 2 May 2026, 10:00-16:00 British Summer Time (09:00-15:00 UTC).
    timed = opening(starts_at=datetime(2026, 5, 2, 9, 0, tzinfo=UTC), ends_at=datetime(2026, 5, 2, 15, 0, tzinfo=UTC))
    free = supporter(availability=(Window("sat", "10:00", "16:00"),))
    busy = supporter(availability=(Window("mon", "18:00", "21:00"),))
    unknown = supporter()
    a = domain.score(timed, free, km=0.0, load=Load())
    b = domain.score(timed, busy, km=0.0, load=Load())
    c = domain.score(timed, unknown, km=0.0, load=Load())
    assert a.parts["availability"] == 1.0 and b.parts["availability"] == 0.0 and c.parts["availability"] == 0.5
    assert a.score > c.score > b.score
    assert domain.Reason("availability", "Free Saturdays 10:00\u201316:00") in a.reasons


def test_a_request_without_times_is_neutral_on_availability() -> None:
    s = domain.score(opening(), supporter(availability=(Window("sat", "10:00", "16:00"),)), km=0.0, load=Load())
    assert s.parts["availability"] == domain.NEUTRAL
    assert all(r.kind != "availability" for r in s.reasons)


def test_request_time_is_split_by_uk_local_day() -> None:
    # Friday 23:00 to Saturday 02:00 UK time in winter (GMT).
    pieces = domain.request_minutes(datetime(2026, 1, 9, 23, 0, tzinfo=UTC), datetime(2026, 1, 10, 2, 0, tzinfo=UTC))
    assert pieces == [(4, 23 * 60, 24 * 60), (5, 0, 120)]
    week = domain.request_minutes(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC))
    assert len(week) == 7


def test_people_already_busy_or_recently_invited_rank_lower() -> None:
    free = domain.score(opening(), supporter(), km=0.0, load=Load())
    invited = domain.score(opening(), supporter(), km=0.0, load=Load(recent_invitations=2))
    busy = domain.score(opening(), supporter(), km=0.0, load=Load(accepted_elsewhere=2))
    assert free.score > invited.score > busy.score
    assert domain.Reason("load", "No other commitments") in free.reasons
    assert domain.Reason("load", "Already helping on 2 other open requests") in busy.reasons
    assert domain.Reason("load", "Invited 2 times recently") in invited.reasons


def test_scores_stay_within_zero_and_one() -> None:
    best = domain.score(
        opening(remote_ok=True), supporter(skills={"graphic-design": 5}, remote_ok=True), km=0.0, load=Load()
    )
    assert 0.0 <= best.score <= 1.0


def test_ranking_is_best_first_with_stable_ties() -> None:
    a, b, c = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
    s = {x: domain.Scored(v, {}) for x, v in ((a, 0.5), (b, 0.9), (c, 0.5))}
    assert [u for u, _ in domain.rank(s.items())] == [b, a, c]


def test_proposals_skip_supporters_proposed_too_often_and_weak_matches() -> None:
    ids = [uuid.UUID(int=i) for i in range(1, 6)]
    ranked = [(u, domain.Scored(1.0 - i / 10, {})) for i, u in enumerate(ids)]
    chosen = domain.pick_proposals(
        ranked, recent_proposals={ids[0]: 3, ids[1]: 2}, per_supporter_limit=3, how_many=2, min_score=0.0
    )
    assert [u for u, _ in chosen] == [ids[1], ids[2]]
    assert (
        domain.pick_proposals(ranked, recent_proposals={}, per_supporter_limit=3, how_many=5, min_score=0.75)
        == ranked[:3]
    )


def test_missing_skills_are_those_short_of_supporters_biggest_gap_first() -> None:
    assert domain.missing_skills({"driving": 3, "video": 1, "press": 3}, {"driving": 1, "video": 4}) == [
        ("press", 3, 0),
        ("driving", 3, 1),
    ]


def test_median_of_odd_even_and_no_values() -> None:
    assert domain.median([3.0, 1.0, 2.0]) == 2.0
    assert domain.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert domain.median([]) is None


def test_distance_between_centroids_is_great_circle() -> None:
    assert domain.km_between(53.4257, -2.2508, 53.4949, -2.1761) == pytest.approx(9.15, abs=0.05)
