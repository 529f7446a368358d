"""Payloads of the events the twitter gateway publishes. X user ids and handles only for people who
linked their X account; nothing about an X author who has not joined beyond the tweet itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from lx_contracts.base import Payload

Intent = Literal["ask", "offer", "other"]


class AccountLinked(Payload):
    """A person linked their X account (or signed in with X for the first time)."""

    sealed = {"user_id": "user_id", "x_user_id": "user_id", "handle": "user_id"}

    user_id: uuid.UUID
    x_user_id: str = Field(description="X's numeric user id, as a string.")
    handle: str = Field(description="The X username, without the `@`.")
    at: datetime


class AccountUnlinked(Payload):
    """A person unlinked their X account; the gateway revoked and deleted its tokens."""

    sealed = {"user_id": "user_id"}

    user_id: uuid.UUID
    at: datetime


class TweetReceived(Payload):
    """A tweet mentioning the campaign's account or carrying a watched hashtag, with what it was read to say."""

    # A member's own tweet is theirs; an unknown author's (no user_id) travels as it is.
    sealed = {"user_id": "user_id", "text": "user_id", "url": "user_id"}

    tweet_id: str = Field(description="X's tweet id, as a string.")
    url: str = Field(description="Where the tweet can be read on X.")
    text: str = Field(description="The tweet text, cleaned of control characters. Removed everywhere if deleted on X.")
    user_id: uuid.UUID | None = Field(
        default=None, description="The author's Labour Exchange account if they linked X; otherwise none."
    )
    intent: Intent = Field(description="`ask` for help, `offer` of help, or `other`.")
    skills: list[str] = Field(description="Skill slugs the text names (taxonomy names and synonyms).")
    constituency_code: str | None = Field(description="The constituency the text names, if any.")
    posted_at: datetime
    received_at: datetime


class TweetDeleted(Payload):
    """A tweet was deleted on X (or its author erased): every copy of its text must go."""

    tweet_id: str
    at: datetime
