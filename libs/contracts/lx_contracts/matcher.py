"""Payloads of the events the matcher service publishes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from lx_contracts.base import Payload


class Reason(Payload):
    kind: Literal["skill", "location", "availability", "load"]
    detail: str = Field(description="A sentence a person can read, e.g. `Graphic design level 4 (needs 3)`.")


class MatchProposed(Payload):
    """A supporter proposed for a request that has just opened, so a notification can follow."""

    sealed = {"user_id": "user_id"}

    request_id: uuid.UUID
    user_id: uuid.UUID = Field(description="The supporter proposed.")
    score: float = Field(ge=0, le=1, description="How well they fit, 0..1.")
    reasons: list[Reason]
    proposed_at: datetime
