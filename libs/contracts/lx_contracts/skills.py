"""Payloads of the events the skills service publishes."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from lx_contracts.base import Payload

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class SkillLevel(Payload):
    slug: str
    level: int = Field(ge=1, le=5)


class AvailabilityWindow(Payload):
    day: Day
    start: str = Field(description="HH:MM, 24-hour, local UK time.")
    end: str = Field(description="HH:MM, after `start` on the same day.")


class ProfileUpdated(Payload):
    """The whole current profile (free-text notes left out), so a consumer can simply replace its copy."""

    sealed = {"user_id": "user_id"}

    user_id: uuid.UUID
    constituency_code: str | None
    travel_radius_km: int = Field(ge=0)
    remote_ok: bool
    max_hours_per_week: int | None = Field(default=None, ge=0)
    availability: list[AvailabilityWindow]
    skills: list[SkillLevel]


class SkillAdded(Payload):
    """A skill joined the taxonomy (the seeded ones too), with the words that name it in tweets."""

    slug: str
    name: str
    category: str
    synonyms: list[str] = Field(default_factory=list)
