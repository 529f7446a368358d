"""Projections of other services' events. Each handler runs inside the consumer's inbox transaction
(a redelivered event does nothing); whole-state events apply only if newer than what is stored, and
offers are kept by their own id, so events arriving out of order (an offer before its request) are
kept and counted once the rest arrives."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import asyncpg

from lx_contracts import identity, requests, skills, topics
from lx_contracts.envelope import CloudEvent
from lx_platform import erasure
from lx_platform.consumer import EventConsumer
from matcher_svc import metrics, service
from matcher_svc import repository as repo
from matcher_svc.service import Tuning


def register(events: EventConsumer, tuning: Tuning) -> None:
    """Attach the handlers; call before the service starts."""

    @events.on(topics.USER_REGISTERED.name)
    async def user_registered(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = identity.UserRegistered.model_validate(event.data)
        if await erasure.is_erased(conn, data.user_id):  # a late or replayed event about an erased person
            return
        await repo.upsert_person(
            conn,
            user_id=data.user_id,
            display_name=data.display_name,
            discoverable=data.consents.discoverable,
            contact_by_x=data.consents.contact_by_x,
            invited=data.invited,
            as_of=event.time,
        )
        await repo.refresh_candidate(conn, data.user_id)

    @events.on(topics.USER_UPDATED.name)
    async def user_updated(conn: asyncpg.Connection, event: CloudEvent) -> None:
        # Identity updates an invited account only once the person has claimed it.
        data = identity.UserUpdated.model_validate(event.data)
        if await erasure.is_erased(conn, data.user_id):
            return
        await repo.upsert_person(
            conn,
            user_id=data.user_id,
            display_name=data.display_name,
            discoverable=data.consents.discoverable,
            contact_by_x=data.consents.contact_by_x,
            invited=False,
            as_of=event.time,
        )
        await repo.refresh_candidate(conn, data.user_id)

    @events.on(topics.PROFILE_UPDATED.name)
    async def profile_updated(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = skills.ProfileUpdated.model_validate(event.data)
        if await erasure.is_erased(conn, data.user_id):
            return
        await repo.upsert_profile(
            conn,
            user_id=data.user_id,
            constituency_code=data.constituency_code,
            travel_radius_km=data.travel_radius_km,
            remote_ok=data.remote_ok,
            max_hours_per_week=data.max_hours_per_week,
            availability=[w.model_dump() for w in data.availability],
            skills={s.slug: s.level for s in data.skills},
            as_of=event.time,
        )
        await repo.refresh_candidate(conn, data.user_id)

    @events.on(topics.USER_ERASED.name)
    async def user_erased(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = identity.UserErased.model_validate(event.data)
        await service.erase_person(conn, data.user_id)

    @events.on(topics.SKILL_ADDED.name)
    async def skill_added(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = skills.SkillAdded.model_validate(event.data)
        await repo.upsert_skill_name(conn, slug=data.slug, name=data.name, as_of=event.time)

    async def request_state(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.RequestState.model_validate(event.data)
        state = data.model_dump()
        state["skills"] = [s.model_dump() for s in data.skills]
        if await erasure.is_erased(conn, data.created_by):  # the request stays; its erased owner is not named
            state["created_by"] = None
        applied = await repo.apply_request_state(conn, state=state, as_of=event.time)
        if applied and data.status == "open":
            started = time.perf_counter()
            proposed = await service.propose(conn, request_id=data.request_id, tuning=tuning, at=event.time)
            metrics.MATCH_SECONDS.observe(time.perf_counter() - started)
            metrics.MATCH_DELAY.observe(max(0.0, (datetime.now(UTC) - event.time).total_seconds()))
            metrics.PROPOSALS.inc(proposed)

    events.on(topics.REQUEST_OPENED.name)(request_state)
    events.on(topics.REQUEST_UPDATED.name)(request_state)

    @events.on(topics.REQUEST_CLOSED.name)
    async def request_closed(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.RequestClosed.model_validate(event.data)
        await repo.apply_request_closed(
            conn, request_id=data.request_id, outcome=data.outcome, closed_at=data.closed_at
        )

    @events.on(topics.OFFER_MADE.name)
    async def offer_made(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.OfferMade.model_validate(event.data)
        await _apply_offer(conn, data, "pending")

    @events.on(topics.OFFER_ACCEPTED.name)
    async def offer_accepted(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.OfferAccepted.model_validate(event.data)
        await _apply_offer(conn, data, "accepted")
        if data.request_status == "filled":
            await repo.note_filled(conn, offer_id=data.offer_id, request_id=data.request_id, at=data.at)

    @events.on(topics.OFFER_DECLINED.name)
    async def offer_declined(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.OfferDeclined.model_validate(event.data)
        await _apply_offer(conn, data, "declined")

    @events.on(topics.OFFER_WITHDRAWN.name)
    async def offer_withdrawn(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.OfferWithdrawn.model_validate(event.data)
        await _apply_offer(conn, data, "withdrawn")

    @events.on(topics.INVITATION_SENT.name)
    async def invitation_sent(conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.InvitationSent.model_validate(event.data)
        if await erasure.is_erased(conn, data.user_id):
            return
        await repo.add_invitation(
            conn, invitation_id=data.invitation_id, request_id=data.request_id, user_id=data.user_id, at=data.at
        )


async def _apply_offer(conn: asyncpg.Connection, data: requests.OfferEvent, status: str) -> None:
    """Every offer event carries the same identity; only `offer-made` says the offer was made. An offer of an
    erased person (a withdrawal their erasure made requests publish, or a late or replayed event) counts in
    the statistics as it would, naming no one, so a replay rebuilds the same figures whatever the order."""
    erased = await erasure.is_erased(conn, data.user_id)
    await repo.apply_offer(
        conn,
        offer_id=data.offer_id,
        request_id=data.request_id,
        user_id=repo.NO_ONE if erased else data.user_id,
        status=status,
        at=data.at,
        made=status == "pending",
    )
