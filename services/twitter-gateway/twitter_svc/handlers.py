"""Consumers of other services' events. Each runs inside the platform's inbox transaction (a redelivered
event does nothing); projections keep the newest event's state. Consumers only enqueue what is to be said
on X (`outgoing`); the sender loop talks to X."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from lx_contracts import identity, requests, skills, topics
from lx_contracts.envelope import CloudEvent
from lx_platform import erasure
from lx_platform.consumer import EventConsumer
from twitter_svc import metrics
from twitter_svc import repository as repo
from twitter_svc.domain import invitation_dm, offer_accepted_dm, reply_text
from twitter_svc.loops import publish_deleted
from twitter_svc.service import SERVICE, Deps, rekey_revokes, unlink_in


class Handlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _request_url(self, request_id: uuid.UUID) -> str:
        return f"{self.deps.settings.public_base_url.rstrip('/')}/requests/{request_id}"

    async def on_user_registered(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = identity.UserRegistered.model_validate(event.data)
        if await erasure.is_erased(conn, data.user_id):  # a late or replayed event about an erased person
            return
        await repo.upsert_person(conn, user_id=data.user_id, contact_by_x=data.consents.contact_by_x, as_of=event.time)

    async def on_user_updated(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = identity.UserUpdated.model_validate(event.data)
        if await erasure.is_erased(conn, data.user_id):
            return
        await repo.upsert_person(conn, user_id=data.user_id, contact_by_x=data.consents.contact_by_x, as_of=event.time)

    async def on_user_erased(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        """One transaction: the X link goes (its tokens queued for revocation under a key naming no one), the
        person's stored tweets lose their text and author (`tweet-deleted` for each), DMs to them, sign-ins
        in progress and their copy of consent go, outbox rows naming them are scrubbed, a tombstone stays,
        and twitter.erasure-completed.v1 confirms it. Doing it twice deletes nothing more and confirms again."""
        data = identity.UserErased.model_validate(event.data)
        user_id = data.user_id
        await unlink_in(conn, deps=self.deps, user_id=user_id, reason="erased")
        await rekey_revokes(conn, deps=self.deps, user_id=user_id)
        now = datetime.now(UTC)
        for tweet_id in await repo.scrub_author(conn, user_id):
            await publish_deleted(conn, tweet_id, now)
            metrics.TWEETS_DELETED.labels("erased").inc()
        await repo.delete_person(conn, user_id)
        metrics.OUTGOING_CANCELLED.labels("dm").inc(await repo.forget_dms_to(conn, user_id))
        await repo.forget_user_elsewhere(conn, user_id)
        await erasure.complete(
            conn, source=SERVICE, service="twitter", topic=topics.TWITTER_ERASURE_COMPLETED, user_id=user_id
        )

    async def on_skill_added(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = skills.SkillAdded.model_validate(event.data)
        await repo.upsert_skill(conn, slug=data.slug, name=data.name, synonyms=list(data.synonyms), as_of=event.time)

    async def on_request_opened(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.RequestOpened.model_validate(event.data)
        await self._project(conn, data, event)
        if data.source != "x" or not data.source_ref:
            return
        tweet = await repo.tweet_for_reply(conn, data.source_ref)
        if tweet is None:  # not a tweet this gateway read: nothing to answer
            return
        await repo.set_request_of_tweet(conn, tweet_id=data.source_ref, request_id=data.request_id)
        if tweet["text"] is None or tweet["replied_tweet_id"] is not None:
            return
        value, _ = await repo.load_settings(conn)
        if not value.posting_enabled:
            return
        await repo.enqueue_outgoing(
            conn,
            kind="reply",
            dedupe_key=f"reply:{data.source_ref}",
            payload={
                "in_reply_to": data.source_ref,
                "request_id": str(data.request_id),
                "text": reply_text(status=data.status, url=self._request_url(data.request_id)),
            },
        )

    async def on_request_updated(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        await self._project(conn, requests.RequestUpdated.model_validate(event.data), event)

    async def _project(self, conn: asyncpg.Connection, data: requests.RequestState, event: CloudEvent) -> None:
        await repo.upsert_request(
            conn,
            request_id=data.request_id,
            title=data.title,
            status=data.status,
            source=data.source,
            source_ref=data.source_ref,
            as_of=event.time,
        )

    async def on_invitation_sent(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.InvitationSent.model_validate(event.data)
        title = await repo.request_title(conn, data.request_id)
        await self._dm(conn, event, data.user_id, invitation_dm(title=title, url=self._request_url(data.request_id)))

    async def on_offer_accepted(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        data = requests.OfferAccepted.model_validate(event.data)
        title = await repo.request_title(conn, data.request_id)
        await self._dm(
            conn, event, data.user_id, offer_accepted_dm(title=title, url=self._request_url(data.request_id))
        )

    async def _dm(self, conn: asyncpg.Connection, event: CloudEvent, user_id: uuid.UUID, text: str) -> None:
        """Queue a DM only for someone who linked X and whose latest consent allows contact by X."""
        if await repo.account_of(conn, user_id) is None or not await repo.contact_by_x(conn, user_id):
            return
        await repo.enqueue_outgoing(
            conn, kind="dm", dedupe_key=f"dm:{event.id}", payload={"user_id": str(user_id), "text": text}
        )


def register(events: EventConsumer, deps: Deps) -> None:
    """Attach the handlers; call before the service starts."""
    h = Handlers(deps)
    events.on(topics.USER_REGISTERED.name)(h.on_user_registered)
    events.on(topics.USER_UPDATED.name)(h.on_user_updated)
    events.on(topics.USER_ERASED.name)(h.on_user_erased)
    events.on(topics.SKILL_ADDED.name)(h.on_skill_added)
    events.on(topics.REQUEST_OPENED.name)(h.on_request_opened)
    events.on(topics.REQUEST_UPDATED.name)(h.on_request_updated)
    events.on(topics.INVITATION_SENT.name)(h.on_invitation_sent)
    events.on(topics.OFFER_ACCEPTED.name)(h.on_offer_accepted)
