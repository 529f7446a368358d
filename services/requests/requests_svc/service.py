"""Requests use cases: each runs in one transaction and writes its events to the outbox.

Every use case that changes a request's counts or status first locks the request's row
(`SELECT ... FOR UPDATE`), so concurrent accepts, offers, withdrawals and edits of one request
run one after another and can never over-fill it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from lx_contracts import requests as ev
from lx_contracts import topics
from lx_contracts.constituencies import by_code
from lx_platform import audit, erasure
from lx_platform.outbox import enqueue
from requests_svc import domain
from requests_svc import repository as repo
from requests_svc.domain import (
    OPEN,
    Actor,
    Conflict,
    Draft,
    HelpRequest,
    Invitation,
    Offer,
    RequestInput,
)
from requests_svc.repository import Browse, Cursor, RequestBrief

SERVICE = "requests"


class CatchingUp(Exception):
    """This service has not yet received the events it needs to answer; the caller may retry shortly."""


class NotFound(Exception):
    """No such thing, or the caller may not know it exists."""


class Erased(Exception):
    """The caller's account was erased; their token has only minutes left and may create nothing."""


async def _not_erased(conn: asyncpg.Connection, user_id: uuid.UUID | None) -> None:
    if await erasure.is_erased(conn, user_id):
        raise Erased


def _now() -> datetime:
    return datetime.now(UTC)


# -- events ------------------------------------------------------------------------------------


async def _emit(conn: asyncpg.Connection, topic: topics.Topic, request_id: uuid.UUID, data: BaseModel) -> None:
    # Keyed by the request, so everything about one request stays in order on one partition.
    await enqueue(conn, topic=topic.name, service=SERVICE, subject=str(request_id), data=data)


def _state(req: HelpRequest) -> dict[str, Any]:
    return {
        "request_id": req.id,
        "title": req.title,
        "constituency_code": req.constituency_code,
        "remote_ok": req.remote_ok,
        "skills": [ev.NeededSkill(slug=s.slug, min_level=s.min_level, people=s.people) for s in req.skills],
        "starts_at": req.starts_at,
        "ends_at": req.ends_at,
        "urgency": req.urgency,
        "status": req.status,
        "source": req.source,
        "source_ref": req.source_ref,
        "created_by": req.created_by,
        "created_at": req.created_at,
        "people_needed": req.people_needed,
        "people_accepted": req.people_accepted,
    }


async def _emit_updated(conn: asyncpg.Connection, req: HelpRequest) -> None:
    await _emit(conn, topics.REQUEST_UPDATED, req.id, ev.RequestUpdated(**_state(req)))


def _offer_fields(offer: Offer, at: datetime) -> dict[str, Any]:
    return {
        "offer_id": offer.id,
        "request_id": offer.request_id,
        "user_id": offer.user_id,
        "skill": offer.skill,
        "at": at,
    }


# -- loading -----------------------------------------------------------------------------------


async def _visible(
    conn: asyncpg.Connection, request_id: uuid.UUID, actor: Actor | None, *, for_update: bool = False
) -> HelpRequest:
    req = await repo.get_request(conn, request_id, for_update=for_update)
    if req is None or not domain.can_see(actor, req):
        raise NotFound
    return req


async def _reload(conn: asyncpg.Connection, request_id: uuid.UUID) -> HelpRequest:
    req = await repo.get_request(conn, request_id)
    assert req is not None
    return req


# -- requests ----------------------------------------------------------------------------------


async def _known_skills(conn: asyncpg.Connection, slugs: list[str]) -> set[str]:
    known = await repo.known_skills(conn, slugs)
    if len(known) < len(set(slugs)) and not await repo.any_skill(conn):
        # The taxonomy arrives by events; until the first has, no slug can be judged unknown.
        raise CatchingUp("Still learning the skill taxonomy from the skills service; try again in a moment.")
    return known


async def _check(conn: asyncpg.Connection, given: RequestInput) -> Draft:
    known = await _known_skills(conn, [s.slug for s in given.skills])
    return domain.check_draft(given, known_skills=known)


async def open_request(
    *,
    db: asyncpg.Pool,
    created_by: uuid.UUID | None,
    given: RequestInput,
    source: str = "web",
    status: str = OPEN,
    source_ref: str | None = None,
) -> HelpRequest:
    """Open a request (`web`, open), or record one from X (`x`; `pending` when its author has no account).

    Emits `request-opened` carrying the status it starts with; approving a pending one later emits
    `request-updated` with status open.
    """
    async with db.acquire() as conn, conn.transaction():
        await _not_erased(conn, created_by)
        return await _open(
            conn, created_by=created_by, given=given, source=source, status=status, source_ref=source_ref
        )


async def _open(
    conn: asyncpg.Connection,
    *,
    created_by: uuid.UUID | None,
    given: RequestInput,
    source: str,
    status: str,
    source_ref: str | None,
) -> HelpRequest:
    draft = await _check(conn, given)
    req = domain.new_request(
        request_id=uuid.uuid4(),
        draft=draft,
        created_by=created_by,
        now=_now(),
        source=source,
        status=status,
        source_ref=source_ref,
    )
    await repo.insert_request(conn, req)
    await _emit(conn, topics.REQUEST_OPENED, req.id, ev.RequestOpened(**_state(req)))
    return await _reload(conn, req.id)


async def get_request(*, db: asyncpg.Pool, actor: Actor | None, request_id: uuid.UUID) -> HelpRequest:
    async with db.acquire() as conn:
        return await _visible(conn, request_id, actor)


async def browse(
    *, db: asyncpg.Pool, actor: Actor | None, filters: Browse, after: Cursor | None, limit: int
) -> list[HelpRequest]:
    async with db.acquire() as conn:
        return await repo.browse_requests(conn, filters=filters, actor=actor, after=after, limit=limit)


async def my_requests(*, db: asyncpg.Pool, actor: Actor, after: Cursor | None, limit: int) -> list[HelpRequest]:
    async with db.acquire() as conn:
        return await repo.requests_by_owner(conn, user_id=actor.user_id, after=after, limit=limit)


async def edit_request(
    *,
    db: asyncpg.Pool,
    actor: Actor,
    request_id: uuid.UUID,
    changes: Mapping[str, Any],
    who: audit.Access | None = None,
) -> HelpRequest:
    """Change an open request; emits `request-updated` once if anything changed."""
    async with db.acquire() as conn, conn.transaction():
        req = await _visible(conn, request_id, actor, for_update=True)
        skills: Sequence[domain.SkillInput] = changes.get("skills", ())
        known = await _known_skills(conn, [s.slug for s in skills])
        updated = domain.edit(req, actor, changes, known_skills=known, now=_now())
        if not domain.differs(req, updated):
            return req
        await _audit(conn, who, "request.edit", req)
        await repo.update_request(conn, updated)
        await _emit_updated(conn, updated)
        return await _reload(conn, request_id)


async def close_request(
    *, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, outcome: str, who: audit.Access | None = None
) -> HelpRequest:
    async with db.acquire() as conn, conn.transaction():
        req = await _visible(conn, request_id, actor, for_update=True)
        closed = domain.close(req, actor, outcome, now=_now())
        await _audit(conn, who, f"request.{outcome}", req)
        await repo.update_request(conn, closed)
        assert closed.closed_at is not None
        await _emit(
            conn,
            topics.REQUEST_CLOSED,
            req.id,
            ev.RequestClosed(request_id=req.id, outcome=outcome, closed_at=closed.closed_at),
        )
        return await _reload(conn, request_id)


async def _audit(
    conn: asyncpg.Connection,
    who: audit.Access | None,
    action: str,
    req: HelpRequest,
    *,
    offer: Offer | None = None,
) -> None:
    """An organiser or admin acting on someone else's request goes in the audit log (the owner acting on their
    own does not): whose request, and whose offer."""
    if who is None or req.created_by == who.actor:
        return
    subjects = [req.created_by, offer.user_id if offer else None]
    await audit.record(conn, who, action, subjects, resource=str(offer.id if offer else req.id))


async def approve_request(
    *, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, who: audit.Access | None = None
) -> HelpRequest:
    """A pending request from X becomes open; emits `request-updated` with status open."""
    async with db.acquire() as conn, conn.transaction():
        req = await _visible(conn, request_id, actor, for_update=True)
        approved = domain.approve(req, actor, now=_now())
        await _audit(conn, who, "request.approve", req)
        await repo.update_request(conn, approved)
        await _emit_updated(conn, approved)
        return await _reload(conn, request_id)


async def reject_request(
    *, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, who: audit.Access | None = None
) -> HelpRequest:
    """A pending request from X is turned down: cancelled, with `request-closed` outcome rejected."""
    async with db.acquire() as conn, conn.transaction():
        req = await _visible(conn, request_id, actor, for_update=True)
        rejected = domain.reject(req, actor, now=_now())
        await _audit(conn, who, "request.reject", req)
        await repo.update_request(conn, rejected)
        assert rejected.closed_at is not None
        await _emit(
            conn,
            topics.REQUEST_CLOSED,
            req.id,
            ev.RequestClosed(request_id=req.id, outcome="rejected", closed_at=rejected.closed_at),
        )
        return await _reload(conn, request_id)


# -- requests from X ---------------------------------------------------------------------------

X = "x"


@dataclass(frozen=True)
class Tweet:
    """What the twitter gateway read in a tweet (`twitter.tweet-received.v1`)."""

    tweet_id: str
    url: str
    text: str
    author: uuid.UUID | None
    intent: str
    skills: Sequence[str]
    constituency_code: str | None


async def record_tweet(conn: asyncpg.Connection, tweet: Tweet) -> HelpRequest | str:
    """Turn a tweet asking for help into a request, inside the caller's transaction; or say why not.

    Its author's own request (`open`) when they linked their X account, else `pending` for an organiser.
    The title comes from the skills and the place only; the tweet's words stay in the description, which a
    deletion on X replaces. At most one request per tweet, whatever is redelivered or replayed.
    """
    if tweet.intent != "ask":
        return "not_an_ask"
    if await erasure.is_erased(conn, tweet.author):  # a late or replayed tweet of an erased person
        return "erased"
    place = by_code(tweet.constituency_code) if tweet.constituency_code else None
    if place is None:
        return "no_constituency"
    names = await repo.skill_names(conn, list(dict.fromkeys(tweet.skills)))
    slugs = [slug for slug in dict.fromkeys(tweet.skills) if slug in names][: domain.MAX_SKILLS]
    if not slugs:
        return "no_known_skill"
    if await repo.tweet_was_deleted(conn, tweet.tweet_id):
        return "deleted"
    if await repo.request_from_source(conn, source=X, source_ref=tweet.tweet_id) is not None:
        return "duplicate"
    given = RequestInput(
        title=domain.title_for_x([names[s] for s in slugs], place.name),
        description=domain.description_from_tweet(tweet.text, tweet.url),
        constituency_code=place.code,
        remote_ok=False,
        skills=[domain.SkillInput(slug, 1, 1) for slug in slugs],
        urgency="normal",
    )
    try:
        # A savepoint: losing a race with the same tweet undoes only this, not the consumer's inbox row.
        async with conn.transaction():
            return await _open(
                conn,
                created_by=tweet.author,
                given=given,
                source=X,
                status=OPEN if tweet.author is not None else domain.PENDING,
                source_ref=tweet.tweet_id,
            )
    except repo.AlreadyExists:
        return "duplicate"


async def forget_tweet(conn: asyncpg.Connection, tweet_id: str) -> HelpRequest | None:
    """A tweet was deleted on X: remove its text from the request made of it, and turn that request down
    if it still waits for an organiser. Inside the caller's transaction; doing it twice changes nothing."""
    await repo.remember_deleted_tweet(conn, tweet_id)
    req = await repo.request_from_source(conn, source=X, source_ref=tweet_id, for_update=True)
    if req is None:
        return None
    forgotten = domain.forget_tweet(req, now=_now())
    if forgotten == req:
        return req
    await repo.update_request(conn, forgotten)
    if forgotten.is_closed and not req.is_closed:
        assert forgotten.closed_at is not None and forgotten.outcome is not None
        await _emit(
            conn,
            topics.REQUEST_CLOSED,
            req.id,
            ev.RequestClosed(request_id=req.id, outcome=forgotten.outcome, closed_at=forgotten.closed_at),
        )
    elif _state(forgotten) != _state(req):
        await _emit_updated(conn, forgotten)
    return await _reload(conn, req.id)


# -- offers ------------------------------------------------------------------------------------


async def make_offer(
    *, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, message: str, skill: str | None
) -> Offer:
    async with db.acquire() as conn, conn.transaction():
        await _not_erased(conn, actor.user_id)
        # Locked so an offer cannot slip in while another transaction fills the request.
        req = await _visible(conn, request_id, actor, for_update=True)
        live = await repo.has_live_offer(conn, request_id=req.id, user_id=actor.user_id)
        offer = domain.make_offer(
            req, actor, offer_id=uuid.uuid4(), message=message, skill=skill, has_live_offer=live, now=_now()
        )
        try:
            await repo.insert_offer(conn, offer)
        except repo.AlreadyExists as exc:
            raise Conflict("You already have an offer on this request.") from exc
        await _emit(conn, topics.OFFER_MADE, req.id, ev.OfferMade(**_offer_fields(offer, offer.created_at)))
        return await _offer_or_fail(conn, offer.id)


async def _offer_or_fail(conn: asyncpg.Connection, offer_id: uuid.UUID) -> Offer:
    offer = await repo.get_offer(conn, offer_id)
    assert offer is not None
    return offer


async def list_offers(
    *, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[Offer]:
    """Owner, organiser and admin see every offer; anyone else only their own."""
    async with db.acquire() as conn:
        req = await _visible(conn, request_id, actor)
        only = None if domain.can_manage(actor, req) else actor.user_id
        return await repo.offers_on_request(conn, request_id=req.id, only_user=only, after=after, limit=limit)


async def _locked_pair(
    conn: asyncpg.Connection, actor: Actor, request_id: uuid.UUID, offer_id: uuid.UUID
) -> tuple[HelpRequest, Offer]:
    # Always the request first, then the offer: one lock order, no deadlocks.
    req = await _visible(conn, request_id, actor, for_update=True)
    offer = await repo.get_offer(conn, offer_id, for_update=True)
    if offer is None or offer.request_id != req.id:
        raise NotFound
    return req, offer


async def accept_offer(
    *, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, offer_id: uuid.UUID, who: audit.Access | None = None
) -> Offer:
    """Emits `offer-accepted`, and `request-updated` too when this acceptance fills the request."""
    async with db.acquire() as conn, conn.transaction():
        req, offer = await _locked_pair(conn, actor, request_id, offer_id)
        now = _now()
        updated, accepted = domain.accept(req, offer, actor, now=now)
        await _audit(conn, who, "offer.accept", req, offer=offer)
        await repo.update_offer(conn, accepted)
        await repo.update_request(conn, updated)
        await _emit(
            conn,
            topics.OFFER_ACCEPTED,
            req.id,
            ev.OfferAccepted(
                **_offer_fields(accepted, now),
                people_accepted=updated.people_accepted,
                people_needed=updated.people_needed,
                request_status=updated.status,
            ),
        )
        if updated.status != req.status:
            await _emit_updated(conn, updated)
        return await _offer_or_fail(conn, offer_id)


async def decline_offer(
    *, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, offer_id: uuid.UUID, who: audit.Access | None = None
) -> Offer:
    async with db.acquire() as conn, conn.transaction():
        req, offer = await _locked_pair(conn, actor, request_id, offer_id)
        now = _now()
        declined = domain.decline(req, offer, actor, now=now)
        await _audit(conn, who, "offer.decline", req, offer=offer)
        await repo.update_offer(conn, declined)
        await _emit(conn, topics.OFFER_DECLINED, req.id, ev.OfferDeclined(**_offer_fields(declined, now)))
        return await _offer_or_fail(conn, offer_id)


async def withdraw_offer(*, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, offer_id: uuid.UUID) -> Offer:
    """Emits `offer-withdrawn`, and `request-updated` too when a filled request reopens."""
    async with db.acquire() as conn, conn.transaction():
        req, offer = await _locked_pair(conn, actor, request_id, offer_id)
        await _withdraw(conn, req, offer, actor)
        return await _offer_or_fail(conn, offer_id)


async def _withdraw(conn: asyncpg.Connection, req: HelpRequest, offer: Offer, actor: Actor) -> None:
    """Withdraw a live offer of a locked request, with the events a withdrawal publishes."""
    now = _now()
    updated, withdrawn = domain.withdraw(req, offer, actor, now=now)
    await repo.update_offer(conn, withdrawn)
    if updated is not req:
        await repo.update_request(conn, updated)
    await _emit(
        conn,
        topics.OFFER_WITHDRAWN,
        req.id,
        ev.OfferWithdrawn(
            **_offer_fields(withdrawn, now),
            was_accepted=offer.status == domain.OFFER_ACCEPTED,
            request_status=updated.status,
        ),
    )
    if updated.status != req.status:
        await _emit_updated(conn, updated)


async def my_offers(
    *, db: asyncpg.Pool, actor: Actor, after: Cursor | None, limit: int
) -> list[tuple[Offer, RequestBrief]]:
    async with db.acquire() as conn:
        return await repo.offers_by_user(conn, user_id=actor.user_id, after=after, limit=limit)


# -- invitations -------------------------------------------------------------------------------


async def invite(
    *, db: asyncpg.Pool, actor: Actor, request_id: uuid.UUID, user_id: uuid.UUID, who: audit.Access | None = None
) -> Invitation:
    """Invite a supporter. An organiser or admin inviting to someone else's request goes in the audit log under
    the invited person and the owner (the owner inviting from their own matches does not, as their viewing
    the matches does not)."""
    async with db.acquire() as conn, conn.transaction():
        req = await _visible(conn, request_id, actor, for_update=True)
        name = await repo.display_name(conn, user_id)
        invitation = domain.invite(
            req, actor, invitation_id=uuid.uuid4(), user_id=user_id, person_known=name is not None, now=_now()
        )
        if await repo.invitation_exists(conn, request_id=req.id, user_id=user_id):
            raise Conflict("This person is already invited to this request.")
        await repo.insert_invitation(conn, invitation)
        if who is not None and req.created_by != who.actor:
            await audit.record(conn, who, "invitation.send", [user_id, req.created_by], resource=str(invitation.id))
        await _emit(
            conn,
            topics.INVITATION_SENT,
            req.id,
            ev.InvitationSent(
                invitation_id=invitation.id,
                request_id=req.id,
                user_id=user_id,
                invited_by=actor.user_id,
                at=invitation.created_at,
            ),
        )
        return replace(invitation, display_name=name)


async def my_invitations(
    *, db: asyncpg.Pool, actor: Actor, after: Cursor | None, limit: int
) -> list[tuple[Invitation, RequestBrief]]:
    async with db.acquire() as conn:
        return await repo.invitations_for_user(conn, user_id=actor.user_id, after=after, limit=limit)


# -- erasure and export ------------------------------------------------------------------------


async def person_known(conn: asyncpg.Connection, *, user_id: uuid.UUID, display_name: str, as_of: datetime) -> None:
    """identity's registered/updated events: a display name, unless the person was erased here."""
    if await erasure.is_erased(conn, user_id):
        return
    await repo.upsert_person(conn, user_id=user_id, display_name=display_name, as_of=as_of)


async def erase_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """identity.user-erased.v1, inside the consumer's transaction.

    The person's live offers on open or filled requests are withdrawn first, exactly as they would withdraw
    them (counts freed, a filled request reopened, `offer-withdrawn` and `request-updated` published), so
    everyone else's view stays right; then all their offers and invitations go, invitations they sent name
    no inviter, requests they own stay without an owner (`created_by` null; descriptions are kept), and
    their display name goes. Outbox rows naming them are scrubbed, a tombstone stays, and
    requests.erasure-completed.v1 confirms it. Doing it twice deletes nothing more and confirms again.
    """
    me = Actor(user_id=user_id)
    for offer_id, request_id in await repo.live_offers_of(conn, user_id):
        # Request first, then offer, in request order: the lock order every other use case keeps.
        req = await repo.get_request(conn, request_id, for_update=True)
        offer = await repo.get_offer(conn, offer_id, for_update=True)
        if req is None or offer is None or not offer.is_live or req.status not in (domain.OPEN, domain.FILLED):
            continue  # a closed request's counts are its history; the offer row just goes below
        await _withdraw(conn, req, offer, me)
    await repo.erase_person(conn, user_id)
    await erasure.complete(
        conn, source=SERVICE, service=SERVICE, topic=topics.REQUESTS_ERASURE_COMPLETED, user_id=user_id
    )


@dataclass(frozen=True)
class Export:
    display_name: str | None
    requests: list[HelpRequest]
    offers_received: list[asyncpg.Record]
    offers: list[tuple[Offer, RequestBrief]]
    invitations: list[tuple[Invitation, RequestBrief]]
    invitations_sent: list[asyncpg.Record]


async def export(*, db: asyncpg.Pool, user_id: uuid.UUID) -> Export:
    """Everything this service holds about the person; of anyone else, ids only."""
    page = 1000
    async with db.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        requests: list[HelpRequest] = []
        while True:
            after = (requests[-1].created_at, requests[-1].id) if requests else None
            found = await repo.requests_by_owner(conn, user_id=user_id, after=after, limit=page)
            requests += found
            if len(found) < page:
                break
        offers: list[tuple[Offer, RequestBrief]] = []
        while True:
            after = (offers[-1][0].created_at, offers[-1][0].id) if offers else None
            more = await repo.offers_by_user(conn, user_id=user_id, after=after, limit=page)
            offers += more
            if len(more) < page:
                break
        invitations: list[tuple[Invitation, RequestBrief]] = []
        while True:
            after = (invitations[-1][0].created_at, invitations[-1][0].id) if invitations else None
            got = await repo.invitations_for_user(conn, user_id=user_id, after=after, limit=page)
            invitations += got
            if len(got) < page:
                break
        return Export(
            display_name=await repo.display_name(conn, user_id),
            requests=requests,
            offers_received=await repo.offers_received_by(conn, user_id),
            offers=offers,
            invitations=invitations,
            invitations_sent=await repo.invitations_sent_by(conn, user_id),
        )
