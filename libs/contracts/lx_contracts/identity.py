"""Payloads of the events the identity service publishes. No email, password or token ever."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from lx_contracts.base import Payload


class ConsentState(Payload):
    discoverable: bool = Field(description="May appear in organiser search and matches.")
    contact_by_x: bool = Field(description="May be contacted by X direct message.")


class UserRegistered(Payload):
    sealed = {"user_id": "user_id", "display_name": "user_id"}

    user_id: uuid.UUID
    display_name: str = Field(min_length=1, max_length=80)
    roles: list[str] = Field(description="Roles at registration, normally just `supporter`.")
    consents: ConsentState
    invited: bool = Field(
        default=False,
        description="Created by an admin's import; the person has not yet set a password or given consent.",
    )


class UserUpdated(Payload):
    sealed = {"user_id": "user_id", "display_name": "user_id"}

    user_id: uuid.UUID
    display_name: str = Field(min_length=1, max_length=80)
    consents: ConsentState


class RoleChanged(Payload):
    sealed = {"user_id": "user_id"}

    user_id: uuid.UUID
    role: Literal["organiser", "admin"]
    constituency_code: str | None = Field(
        default=None, description="Set for the organiser role: the constituency it covers."
    )


class RoleGranted(RoleChanged):
    pass


class RoleRevoked(RoleChanged):
    pass


def subject_hash(user_id: uuid.UUID) -> str:
    """How an erased person is named from then on: sha256 of the id's text form, lowercase hex. Whoever knows
    the id can find the erasure (identity's record, every tombstone, `UserErased.subject_hash`); the hash
    alone does not give the id back."""
    return hashlib.sha256(str(user_id).encode()).hexdigest()


class UserErased(Payload):
    """A person used their right to erasure: every service deletes or anonymises what it holds about them."""

    sealed = {"user_id": "user_id"}

    user_id: uuid.UUID
    subject_hash: str | None = Field(
        default=None,
        description="sha256 of the id's text, lowercase hex: lets a reader that keeps no keys (the API gateway) "
        "recognise the person's still-valid tokens after their key is destroyed.",
    )
    at: datetime


class ErasureCompleted(Payload):
    """A service has deleted or anonymised everything it held about an erased person."""

    sealed = {"user_id": "user_id"}

    user_id: uuid.UUID
    service: str = Field(description="The service that finished, e.g. `skills`.")
    at: datetime
