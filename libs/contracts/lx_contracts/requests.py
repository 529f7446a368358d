"""Payloads of the events the requests service publishes. Titles yes; descriptions and offer messages no."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from lx_contracts.base import Payload

RequestStatus = Literal["pending", "open", "filled", "completed", "cancelled"]
Urgency = Literal["low", "normal", "high"]


class NeededSkill(Payload):
    slug: str
    min_level: int = Field(ge=1, le=5)
    people: int = Field(ge=1)


class RequestState(Payload):
    """The request as it now stands; `request-opened` and `request-updated` both carry it whole."""

    sealed = {"created_by": "created_by"}

    request_id: uuid.UUID
    title: str
    constituency_code: str
    remote_ok: bool
    skills: list[NeededSkill]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    urgency: Urgency
    status: RequestStatus
    source: Literal["web", "x"]
    source_ref: str | None = Field(default=None, description="For a request from X, the tweet id.")
    created_by: uuid.UUID | None = Field(description="None for a request from an X author with no account.")
    created_at: datetime
    people_needed: int
    people_accepted: int


class RequestOpened(RequestState):
    pass


class RequestUpdated(RequestState):
    pass


class RequestClosed(Payload):
    request_id: uuid.UUID
    outcome: Literal["completed", "cancelled", "rejected"]
    closed_at: datetime


class OfferEvent(Payload):
    sealed = {"user_id": "user_id"}

    offer_id: uuid.UUID
    request_id: uuid.UUID
    user_id: uuid.UUID = Field(description="The person offering.")
    skill: str | None = None
    at: datetime


class OfferMade(OfferEvent):
    pass


class OfferAccepted(OfferEvent):
    people_accepted: int
    people_needed: int
    request_status: RequestStatus


class OfferDeclined(OfferEvent):
    pass


class OfferWithdrawn(OfferEvent):
    was_accepted: bool
    request_status: RequestStatus


class InvitationSent(Payload):
    sealed = {"user_id": "user_id", "invited_by": "invited_by"}

    invitation_id: uuid.UUID
    request_id: uuid.UUID
    user_id: uuid.UUID = Field(description="The person invited.")
    invited_by: uuid.UUID
    at: datetime
