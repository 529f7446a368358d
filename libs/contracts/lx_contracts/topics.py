"""Topic names (`<owner>.<event>.v<N>`), their payload models and partition counts."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from lx_contracts import identity

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    payload: type[BaseModel]
    partitions: int = 12
    description: str = ""

    @property
    def dlq(self) -> str:
        return dlq_of(self.name)


def dlq_of(topic: str) -> str:
    """The dead-letter topic for a topic."""
    return topic + DLQ_SUFFIX


USER_REGISTERED = Topic(
    "identity.user-registered.v1", identity.UserRegistered, description="A person created an account."
)
USER_UPDATED = Topic(
    "identity.user-updated.v1",
    identity.UserUpdated,
    description="A person changed their display name or consents.",
)
ROLE_GRANTED = Topic("identity.role-granted.v1", identity.RoleGranted, description="An admin granted a role.")
ROLE_REVOKED = Topic("identity.role-revoked.v1", identity.RoleRevoked, description="An admin revoked a role.")

ALL: tuple[Topic, ...] = (USER_REGISTERED, USER_UPDATED, ROLE_GRANTED, ROLE_REVOKED)
BY_NAME: dict[str, Topic] = {t.name: t for t in ALL}


def all_topic_names(*, with_dlq: bool = True) -> list[str]:
    """Every topic the system uses, and its dead-letter topic unless told otherwise."""
    names = [t.name for t in ALL]
    return names + [dlq_of(n) for n in names] if with_dlq else names
