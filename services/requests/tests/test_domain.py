"""Help-request rules, without a database."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from requests_svc.domain import (
    CANCELLED,
    COMPLETED,
    FILLED,
    OFFER_ACCEPTED,
    OFFER_DECLINED,
    OFFER_PENDING,
    OFFER_WITHDRAWN,
    OPEN,
    PENDING,
    Actor,
    Conflict,
    Forbidden,
    HelpRequest,
    Offer,
    RequestInput,
    RuleBroken,
    RulesBroken,
    SkillInput,
    accept,
    approve,
    can_manage,
    can_see,
    check_draft,
    close,
    decline,
    differs,
    edit,
    invite,
    make_offer,
    new_request,
    parse_time,
    reject,
    withdraw,
)

pytestmark = pytest.mark.unit

WITHINGTON = "E14001354"
CENTRAL = "E14001352"
KNOWN = {"graphic-design", "leafleting", "canvassing"}
NOW = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)

OWNER = Actor(uuid.uuid4())
STRANGER = Actor(uuid.uuid4())
ORGANISER = Actor(uuid.uuid4(), organiser_of=frozenset({WITHINGTON}))
OTHER_ORGANISER = Actor(uuid.uuid4(), organiser_of=frozenset({CENTRAL}))
ADMIN = Actor(uuid.uuid4(), is_admin=True)


def given(**changes: object) -> RequestInput:
    base = RequestInput(
        title="Design a leaflet",
        description="A5, two sides.",
        constituency_code=WITHINGTON,
        remote_ok=True,
        skills=[SkillInput("graphic-design", 3, 1), SkillInput("leafleting", 1, 2)],
        starts_at="2026-05-02T10:00:00+01:00",
        ends_at="2026-05-02T16:00:00Z",
        urgency="normal",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def a_request(*, status: str | None = None, owner: Actor | None = OWNER, **changes: object) -> HelpRequest:
    req = new_request(
        request_id=uuid.uuid4(),
        draft=check_draft(given(**changes), known_skills=KNOWN),
        created_by=owner.user_id if owner else None,
        now=NOW,
        source="web" if owner else "x",
        status=OPEN if owner else PENDING,
    )
    return replace(req, status=status) if status else req


def an_offer(req: HelpRequest, by: Actor = STRANGER, *, skill: str | None = None) -> Offer:
    return make_offer(req, by, offer_id=uuid.uuid4(), message="Happy to", skill=skill, has_live_offer=False, now=NOW)


def fields(exc: pytest.ExceptionInfo[RulesBroken]) -> set[str]:
    return {e.field for e in exc.value.errors}


# -- fields ------------------------------------------------------------------------------------


def test_a_good_draft_is_tidied_and_its_times_are_in_utc() -> None:
    draft = check_draft(given(title="  Design   a leaflet "), known_skills=KNOWN)
    assert draft.title == "Design a leaflet"
    assert draft.starts_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    assert draft.starts_at.tzinfo is UTC
    assert [s.slug for s in draft.skills] == ["graphic-design", "leafleting"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"title": "bad\x00title"}, "title"),
        ({"description": "x" * 4001}, "description"),
        ({"constituency_code": "E99999999"}, "constituency_code"),
        ({"urgency": "urgent"}, "urgency"),
        ({"skills": []}, "skills"),
        ({"skills": [SkillInput(f"s{i}", 1, 1) for i in range(21)]}, "skills"),
        ({"skills": [SkillInput("knitting", 1, 1)]}, "skills.0.slug"),
        ({"skills": [SkillInput("leafleting", 1, 1), SkillInput("leafleting", 2, 1)]}, "skills.1.slug"),
        ({"skills": [SkillInput("leafleting", 0, 1)]}, "skills.0.min_level"),
        ({"skills": [SkillInput("leafleting", 6, 1)]}, "skills.0.min_level"),
        ({"skills": [SkillInput("leafleting", 1, 0)]}, "skills.0.people"),
        ({"skills": [SkillInput("leafleting", 1, -3)]}, "skills.0.people"),
        ({"skills": [SkillInput("leafleting", 1, 51)]}, "skills.0.people"),
        ({"starts_at": "2026-05-02T10:00:00"}, "starts_at"),
        ({"starts_at": "2026-05-02"}, "starts_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"ends_at": "2026-02-30T10:00:00Z"}, "ends_at"),
        ({"ends_at": "2026-05-02T08:59:59Z"}, "ends_at"),
        ({"ends_at": "2026-05-02T09:00:00Z"}, "ends_at"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(RulesBroken) as exc:
        check_draft(given(**changes), known_skills=KNOWN)
    assert field in fields(exc)


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(RulesBroken) as exc:
        check_draft(given(title="", constituency_code="nope", skills=[]), known_skills=KNOWN)
    assert fields(exc) == {"title", "constituency_code", "skills"}


def test_with_an_empty_taxonomy_every_skill_is_unknown() -> None:
    with pytest.raises(RulesBroken) as exc:
        check_draft(given(), known_skills=set())
    assert fields(exc) == {"skills.0.slug", "skills.1.slug"}


def test_times_need_a_timezone_even_as_datetimes() -> None:
    assert parse_time("starts_at", None) is None
    assert parse_time("starts_at", "2026-05-02T10:00:00.5z") == datetime(2026, 5, 2, 10, 0, 0, 500000, tzinfo=UTC)
    with pytest.raises(RuleBroken):
        parse_time("starts_at", datetime(2026, 5, 2, 10, 0))


def test_people_needed_is_the_sum_over_skills() -> None:
    req = a_request()
    assert (req.people_needed, req.people_accepted, req.status) == (3, 0, OPEN)


def test_a_request_without_an_account_must_start_pending() -> None:
    draft = check_draft(given(), known_skills=KNOWN)
    with pytest.raises(ValueError):
        new_request(request_id=uuid.uuid4(), draft=draft, created_by=None, now=NOW, source="x", status=OPEN)


# -- who may do what ---------------------------------------------------------------------------


def test_pending_requests_are_seen_only_by_owner_organisers_of_it_and_admins() -> None:
    pending = a_request(status=PENDING)
    assert [can_see(a, pending) for a in (None, STRANGER, OWNER, ORGANISER, OTHER_ORGANISER, ADMIN)] == [
        False,
        False,
        True,
        True,
        False,
        True,
    ]
    assert all(can_see(a, a_request()) for a in (None, STRANGER, OTHER_ORGANISER))


def test_owner_organiser_of_it_and_admin_manage_a_request() -> None:
    req = a_request()
    assert [can_manage(a, req) for a in (None, STRANGER, OWNER, ORGANISER, OTHER_ORGANISER, ADMIN)] == [
        False,
        False,
        True,
        True,
        False,
        True,
    ]


# -- transitions -------------------------------------------------------------------------------


def test_completing_is_allowed_from_open_or_filled_only() -> None:
    for status in (OPEN, FILLED):
        done = close(a_request(status=status), OWNER, "completed", now=NOW)
        assert (done.status, done.outcome, done.closed_at) == (COMPLETED, "completed", NOW)
    for status in (PENDING, COMPLETED, CANCELLED):
        with pytest.raises(Conflict):
            close(a_request(status=status), OWNER, "completed", now=NOW)


def test_cancelling_is_allowed_from_open_filled_or_pending() -> None:
    for status in (OPEN, FILLED, PENDING):
        assert close(a_request(status=status), ADMIN, "cancelled", now=NOW).status == CANCELLED
    for status in (COMPLETED, CANCELLED):
        with pytest.raises(Conflict):
            close(a_request(status=status), ADMIN, "cancelled", now=NOW)


def test_closing_needs_owner_organiser_or_admin() -> None:
    for actor in (STRANGER, OTHER_ORGANISER):
        with pytest.raises(Forbidden):
            close(a_request(), actor, "cancelled", now=NOW)


def test_approve_opens_and_reject_cancels_only_pending_requests() -> None:
    pending = a_request(owner=None)
    assert approve(pending, ORGANISER, now=NOW).status == OPEN
    rejected = reject(pending, ADMIN, now=NOW)
    assert (rejected.status, rejected.outcome) == (CANCELLED, "rejected")
    with pytest.raises(Conflict):
        approve(a_request(), ORGANISER, now=NOW)
    with pytest.raises(Conflict):
        reject(a_request(), ADMIN, now=NOW)


def test_only_organisers_of_it_and_admins_moderate_even_the_owner_cannot() -> None:
    pending = a_request(status=PENDING)
    for actor in (OWNER, STRANGER, OTHER_ORGANISER):
        with pytest.raises(Forbidden):
            approve(pending, actor, now=NOW)
        with pytest.raises(Forbidden):
            reject(pending, actor, now=NOW)


def test_edits_apply_partially_and_only_while_open() -> None:
    req = a_request()
    later = NOW + timedelta(minutes=5)
    edited = edit(req, ORGANISER, {"title": "New title", "ends_at": None}, known_skills=set(), now=later)
    assert (edited.title, edited.ends_at, edited.updated_at) == ("New title", None, later)
    assert edited.skills == req.skills and differs(req, edited)
    assert not differs(req, edit(req, OWNER, {"title": req.title}, known_skills=set(), now=later))
    for status in (PENDING, FILLED, COMPLETED, CANCELLED):
        with pytest.raises(Conflict):
            edit(a_request(status=status), OWNER, {"title": "x"}, known_skills=set(), now=NOW)
    with pytest.raises(Forbidden):
        edit(req, OTHER_ORGANISER, {"title": "x"}, known_skills=set(), now=NOW)


def test_edits_are_checked_like_new_requests() -> None:
    with pytest.raises(RulesBroken) as exc:
        edit(a_request(), OWNER, {"starts_at": "2026-06-01T00:00:00Z"}, known_skills=set(), now=NOW)
    assert fields(exc) == {"ends_at"}
    with pytest.raises(RulesBroken):
        edit(a_request(), OWNER, {"skills": [SkillInput("knitting", 1, 1)]}, known_skills=set(), now=NOW)


def test_an_edit_cannot_drop_people_below_those_accepted_or_remove_their_skill() -> None:
    req = a_request()
    req, _ = accept(req, an_offer(req, skill="leafleting"), OWNER, now=NOW)
    req, _ = accept(req, an_offer(req, Actor(uuid.uuid4()), skill="leafleting"), OWNER, now=NOW)
    with pytest.raises(RulesBroken) as exc:
        edit(
            req,
            OWNER,
            {"skills": [SkillInput("graphic-design", 3, 1), SkillInput("leafleting", 1, 1)]},
            known_skills=KNOWN,
            now=NOW,
        )
    assert fields(exc) == {"skills.1.people"}
    with pytest.raises(RulesBroken) as exc:
        edit(req, OWNER, {"skills": [SkillInput("graphic-design", 3, 2)]}, known_skills=KNOWN, now=NOW)
    assert fields(exc) == {"skills"}


def test_cutting_people_to_those_accepted_fills_the_request() -> None:
    req = a_request()
    req, _ = accept(req, an_offer(req, skill="leafleting"), OWNER, now=NOW)
    edited = edit(
        req,
        OWNER,
        {"skills": [SkillInput("leafleting", 1, 1)]},
        known_skills=set(),
        now=NOW,
    )
    assert (edited.status, edited.people_needed, edited.people_accepted) == (FILLED, 1, 1)


# -- offers ------------------------------------------------------------------------------------


def test_anyone_but_the_owner_offers_once_while_open() -> None:
    req = a_request()
    offer = an_offer(req, ORGANISER, skill="leafleting")
    assert (offer.status, offer.user_id, offer.skill) == (OFFER_PENDING, ORGANISER.user_id, "leafleting")
    with pytest.raises(Forbidden):
        an_offer(req, OWNER)
    for status in (PENDING, FILLED, COMPLETED, CANCELLED):
        with pytest.raises(Conflict):
            an_offer(a_request(status=status))
    with pytest.raises(Conflict):
        make_offer(req, STRANGER, offer_id=uuid.uuid4(), message="", skill=None, has_live_offer=True, now=NOW)


def test_an_offer_names_one_of_the_requests_skills_and_a_short_message() -> None:
    req = a_request()
    with pytest.raises(RulesBroken) as exc:
        make_offer(
            req, STRANGER, offer_id=uuid.uuid4(), message="x" * 1001, skill="canvassing", has_live_offer=False, now=NOW
        )
    assert fields(exc) == {"message", "skill"}


def test_accepting_counts_against_the_offers_skill_and_fills_at_the_last_person() -> None:
    req = a_request()
    req, first = accept(req, an_offer(req, skill="leafleting"), OWNER, now=NOW)
    assert (first.status, first.counted_skill, req.status, req.people_accepted) == (
        OFFER_ACCEPTED,
        "leafleting",
        OPEN,
        1,
    )
    req, _ = accept(req, an_offer(req, Actor(uuid.uuid4()), skill="leafleting"), ORGANISER, now=NOW)
    with pytest.raises(Conflict, match="leafleting"):
        accept(req, an_offer(req, Actor(uuid.uuid4()), skill="leafleting"), OWNER, now=NOW)
    req, _ = accept(req, an_offer(req, Actor(uuid.uuid4()), skill="graphic-design"), ADMIN, now=NOW)
    assert (req.status, req.people_accepted, req.people_needed) == (FILLED, 3, 3)


def test_an_offer_without_a_skill_counts_against_the_first_skill_with_room() -> None:
    req = a_request()
    req, first = accept(req, an_offer(req), OWNER, now=NOW)
    req, second = accept(req, an_offer(req, Actor(uuid.uuid4())), OWNER, now=NOW)
    assert (first.counted_skill, second.counted_skill) == ("graphic-design", "leafleting")


def test_accepting_needs_a_pending_offer_an_open_request_and_a_manager() -> None:
    req = a_request()
    offer = an_offer(req)
    for actor in (STRANGER, OTHER_ORGANISER):
        with pytest.raises(Forbidden):
            accept(req, offer, actor, now=NOW)
    for status in (FILLED, COMPLETED, CANCELLED):
        with pytest.raises(Conflict):
            accept(replace(req, status=status), offer, OWNER, now=NOW)
    for offer_status in (OFFER_ACCEPTED, OFFER_DECLINED, OFFER_WITHDRAWN):
        with pytest.raises(Conflict):
            accept(req, replace(offer, status=offer_status), OWNER, now=NOW)


def test_declining_needs_a_pending_offer() -> None:
    req = a_request()
    offer = an_offer(req)
    assert decline(req, offer, ORGANISER, now=NOW).status == OFFER_DECLINED
    with pytest.raises(Conflict):
        decline(req, replace(offer, status=OFFER_WITHDRAWN), OWNER, now=NOW)
    with pytest.raises(Forbidden):
        decline(req, offer, STRANGER, now=NOW)


def test_withdrawing_an_accepted_offer_frees_its_place_and_reopens_a_filled_request() -> None:
    req = a_request(skills=[SkillInput("leafleting", 1, 1)])
    offerer = Actor(uuid.uuid4())
    req, accepted = accept(req, an_offer(req, offerer), OWNER, now=NOW)
    assert req.status == FILLED
    reopened, withdrawn = withdraw(req, accepted, offerer, now=NOW)
    assert (reopened.status, reopened.people_accepted, withdrawn.status) == (OPEN, 0, OFFER_WITHDRAWN)


def test_withdrawing_a_pending_offer_changes_nothing_else() -> None:
    req = a_request()
    offer = an_offer(req)
    same, withdrawn = withdraw(req, offer, STRANGER, now=NOW)
    assert same is req and withdrawn.status == OFFER_WITHDRAWN


def test_only_the_offerer_withdraws_a_live_offer_from_a_request_still_running() -> None:
    req = a_request()
    offer = an_offer(req)
    for actor in (OWNER, ORGANISER, ADMIN):
        with pytest.raises(Forbidden):
            withdraw(req, offer, actor, now=NOW)
    with pytest.raises(Conflict):
        withdraw(req, replace(offer, status=OFFER_DECLINED), STRANGER, now=NOW)
    with pytest.raises(Conflict):
        withdraw(replace(req, status=COMPLETED), offer, STRANGER, now=NOW)


# -- invitations -------------------------------------------------------------------------------


def test_invitations_go_to_known_people_other_than_the_owner_while_open() -> None:
    req = a_request()
    someone = uuid.uuid4()
    invitation = invite(req, ORGANISER, invitation_id=uuid.uuid4(), user_id=someone, person_known=True, now=NOW)
    assert (invitation.user_id, invitation.invited_by) == (someone, ORGANISER.user_id)
    with pytest.raises(RuleBroken):
        invite(req, OWNER, invitation_id=uuid.uuid4(), user_id=OWNER.user_id, person_known=True, now=NOW)
    with pytest.raises(RuleBroken):
        invite(req, OWNER, invitation_id=uuid.uuid4(), user_id=someone, person_known=False, now=NOW)
    with pytest.raises(Conflict):
        invite(
            replace(req, status=FILLED), OWNER, invitation_id=uuid.uuid4(), user_id=someone, person_known=True, now=NOW
        )
    with pytest.raises(Forbidden):
        invite(req, STRANGER, invitation_id=uuid.uuid4(), user_id=someone, person_known=True, now=NOW)
