"""Topic names (`<owner>.<event>.v<N>`), their payload models and partition counts."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from lx_contracts import identity, matcher, requests, skills, twitter

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
USER_ERASED = Topic(
    "identity.user-erased.v1",
    identity.UserErased,
    description="A person was erased; every service deletes or anonymises their data.",
)

PROFILE_UPDATED = Topic(
    "skills.profile-updated.v1",
    skills.ProfileUpdated,
    description="A supporter's profile (skills, availability, where they can help) as it now stands.",
)
SKILL_ADDED = Topic(
    "skills.skill-added.v1", skills.SkillAdded, partitions=1, description="A skill joined the taxonomy."
)

REQUEST_OPENED = Topic("requests.request-opened.v1", requests.RequestOpened, description="A help request opened.")
REQUEST_UPDATED = Topic(
    "requests.request-updated.v1",
    requests.RequestUpdated,
    description="A request changed: edited, approved, filled, or reopened by a withdrawal.",
)
REQUEST_CLOSED = Topic(
    "requests.request-closed.v1", requests.RequestClosed, description="A request was completed, cancelled or rejected."
)
OFFER_MADE = Topic("requests.offer-made.v1", requests.OfferMade, description="Someone offered to help.")
OFFER_ACCEPTED = Topic("requests.offer-accepted.v1", requests.OfferAccepted, description="An offer was accepted.")
OFFER_DECLINED = Topic("requests.offer-declined.v1", requests.OfferDeclined, description="An offer was declined.")
OFFER_WITHDRAWN = Topic(
    "requests.offer-withdrawn.v1", requests.OfferWithdrawn, description="The offerer withdrew an offer."
)
INVITATION_SENT = Topic(
    "requests.invitation-sent.v1", requests.InvitationSent, description="A supporter was invited to a request."
)
MATCH_PROPOSED = Topic(
    "matcher.match-proposed.v1",
    matcher.MatchProposed,
    description="A well-matched supporter was proposed for a request that just opened.",
)
ACCOUNT_LINKED = Topic(
    "twitter.account-linked.v1", twitter.AccountLinked, description="A person linked their X account."
)
ACCOUNT_UNLINKED = Topic(
    "twitter.account-unlinked.v1", twitter.AccountUnlinked, description="A person unlinked their X account."
)
TWEET_RECEIVED = Topic(
    "twitter.tweet-received.v1",
    twitter.TweetReceived,
    description="A tweet for the campaign arrived from X, parsed for intent, skills and constituency.",
)
TWEET_DELETED = Topic(
    "twitter.tweet-deleted.v1", twitter.TweetDeleted, description="A tweet was deleted on X; remove its text."
)


def _erasure_completed(owner: str) -> Topic:
    return Topic(
        f"{owner}.erasure-completed.v1",
        identity.ErasureCompleted,
        description=f"The {owner} service has erased everything it held about a person.",
    )


SKILLS_ERASURE_COMPLETED = _erasure_completed("skills")
REQUESTS_ERASURE_COMPLETED = _erasure_completed("requests")
MATCHER_ERASURE_COMPLETED = _erasure_completed("matcher")
TWITTER_ERASURE_COMPLETED = _erasure_completed("twitter")
ERASURE_COMPLETED: tuple[Topic, ...] = (
    SKILLS_ERASURE_COMPLETED,
    REQUESTS_ERASURE_COMPLETED,
    MATCHER_ERASURE_COMPLETED,
    TWITTER_ERASURE_COMPLETED,
)

ALL: tuple[Topic, ...] = (
    USER_REGISTERED,
    USER_UPDATED,
    ROLE_GRANTED,
    ROLE_REVOKED,
    USER_ERASED,
    PROFILE_UPDATED,
    SKILL_ADDED,
    REQUEST_OPENED,
    REQUEST_UPDATED,
    REQUEST_CLOSED,
    OFFER_MADE,
    OFFER_ACCEPTED,
    OFFER_DECLINED,
    OFFER_WITHDRAWN,
    INVITATION_SENT,
    MATCH_PROPOSED,
    ACCOUNT_LINKED,
    ACCOUNT_UNLINKED,
    TWEET_RECEIVED,
    TWEET_DELETED,
    *ERASURE_COMPLETED,
)
BY_NAME: dict[str, Topic] = {t.name: t for t in ALL}


def all_topic_names(*, with_dlq: bool = True) -> list[str]:
    """Every topic the system uses, and its dead-letter topic unless told otherwise."""
    names = [t.name for t in ALL]
    return names + [dlq_of(n) for n in names] if with_dlq else names
