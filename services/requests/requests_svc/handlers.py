"""Projections of other services' events (display names from identity, the skill taxonomy from skills),
and requests recorded from tweets the twitter gateway read.

Each handler runs inside the consumer's inbox transaction (a redelivered event does nothing), and
each upsert keeps the newest event's state, so events arriving out of order never roll a name back.
"""

from __future__ import annotations

import logging

import asyncpg
from prometheus_client import Counter

from lx_contracts import identity, skills, topics, twitter
from lx_contracts.envelope import CloudEvent
from lx_platform.consumer import EventConsumer
from requests_svc import repository as repo
from requests_svc import service

log = logging.getLogger(__name__)

TWEETS_IGNORED = Counter(
    "lx_requests_tweets_ignored_total",
    "Tweets received that did not become a request, by reason",
    ["reason"],
)


async def on_user_registered(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = identity.UserRegistered.model_validate(event.data)
    await service.person_known(conn, user_id=data.user_id, display_name=data.display_name, as_of=event.time)


async def on_user_updated(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = identity.UserUpdated.model_validate(event.data)
    await service.person_known(conn, user_id=data.user_id, display_name=data.display_name, as_of=event.time)


async def on_user_erased(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = identity.UserErased.model_validate(event.data)
    await service.erase_person(conn, data.user_id)
    log.info("person erased")


async def on_skill_added(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = skills.SkillAdded.model_validate(event.data)
    await repo.upsert_skill(conn, slug=data.slug, name=data.name, category=data.category, as_of=event.time)


async def on_tweet_received(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = twitter.TweetReceived.model_validate(event.data)
    outcome = await service.record_tweet(
        conn,
        service.Tweet(
            tweet_id=data.tweet_id,
            url=data.url,
            text=data.text,
            author=data.user_id,
            intent=data.intent,
            skills=data.skills,
            constituency_code=data.constituency_code,
        ),
    )
    if isinstance(outcome, str):
        # Counted when the transaction commits would be exact; a retried event may count twice, rarely.
        TWEETS_IGNORED.labels(outcome).inc()
        log.info("tweet not recorded as a request", extra={"tweet_id": data.tweet_id, "reason": outcome})
    else:
        log.info(
            "tweet recorded as a request",
            extra={"tweet_id": data.tweet_id, "request_id": str(outcome.id), "status": outcome.status},
        )


async def on_tweet_deleted(conn: asyncpg.Connection, event: CloudEvent) -> None:
    data = twitter.TweetDeleted.model_validate(event.data)
    req = await service.forget_tweet(conn, data.tweet_id)
    if req is not None:
        log.info("deleted tweet removed from its request", extra={"tweet_id": data.tweet_id, "request_id": str(req.id)})


def register(events: EventConsumer) -> None:
    """Attach the handlers; call before the service starts."""
    events.on(topics.USER_REGISTERED.name)(on_user_registered)
    events.on(topics.USER_UPDATED.name)(on_user_updated)
    events.on(topics.USER_ERASED.name)(on_user_erased)
    events.on(topics.SKILL_ADDED.name)(on_skill_added)
    events.on(topics.TWEET_RECEIVED.name)(on_tweet_received)
    events.on(topics.TWEET_DELETED.name)(on_tweet_deleted)
