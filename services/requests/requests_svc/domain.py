"""Help-request rules: fields, states and transitions, offers, and who may do what. Plain Python, no I/O."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from lx_contracts.constituencies import is_valid_code

# -- states ------------------------------------------------------------------------------------

PENDING: Final = "pending"
OPEN: Final = "open"
FILLED: Final = "filled"
COMPLETED: Final = "completed"
CANCELLED: Final = "cancelled"
STATUSES: Final = (PENDING, OPEN, FILLED, COMPLETED, CANCELLED)
CLOSED_STATUSES: Final = (COMPLETED, CANCELLED)

# How a request ended; a rejected request (a pending one an organiser turned down) has status cancelled.
OUTCOME_COMPLETED: Final = "completed"
OUTCOME_CANCELLED: Final = "cancelled"
OUTCOME_REJECTED: Final = "rejected"

URGENCIES: Final = ("low", "normal", "high")
SOURCES: Final = ("web", "x")

OFFER_PENDING: Final = "pending"
OFFER_ACCEPTED: Final = "accepted"
OFFER_DECLINED: Final = "declined"
OFFER_WITHDRAWN: Final = "withdrawn"
LIVE_OFFER_STATUSES: Final = (OFFER_PENDING, OFFER_ACCEPTED)

# -- limits ------------------------------------------------------------------------------------

MAX_TITLE: Final = 120
MAX_DESCRIPTION: Final = 4000
MAX_SKILLS: Final = 20
MAX_PEOPLE_PER_SKILL: Final = 50
MAX_MESSAGE: Final = 1000
MIN_LEVEL: Final = 1
MAX_LEVEL: Final = 5

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


# -- errors ------------------------------------------------------------------------------------


class RuleBroken(Exception):
    """An input breaks a rule; `field` names it (dotted path, as in the request body)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RulesBroken(Exception):
    """Several inputs break rules at once; all are reported together."""

    def __init__(self, errors: Sequence[RuleBroken]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)


class Forbidden(Exception):
    """The caller is known and may see the thing, but may not do this to it."""


class Conflict(Exception):
    """The thing's current state does not allow this."""


# -- who is asking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """The signed-in caller, as far as these rules care."""

    user_id: uuid.UUID
    is_admin: bool = False
    organiser_of: frozenset[str] = frozenset()

    def organises(self, constituency_code: str) -> bool:
        return self.is_admin or constituency_code in self.organiser_of


# -- the request -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillNeed:
    slug: str
    min_level: int
    people: int
    accepted: int = 0

    @property
    def room(self) -> int:
        return self.people - self.accepted


@dataclass(frozen=True)
class Draft:
    """A checked set of request fields: what a new request is made of, or an edit ends as."""

    title: str
    description: str
    constituency_code: str
    remote_ok: bool
    skills: tuple[SkillNeed, ...]
    starts_at: datetime | None
    ends_at: datetime | None
    urgency: str


@dataclass(frozen=True)
class HelpRequest:
    id: uuid.UUID
    title: str
    description: str
    constituency_code: str
    remote_ok: bool
    skills: tuple[SkillNeed, ...]
    starts_at: datetime | None
    ends_at: datetime | None
    urgency: str
    status: str
    source: str
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    outcome: str | None = None
    closed_at: datetime | None = None
    source_ref: str | None = None  # for a request from X, the tweet id
    created_by_name: str | None = field(default=None, compare=False)

    @property
    def people_needed(self) -> int:
        return sum(s.people for s in self.skills)

    @property
    def people_accepted(self) -> int:
        return sum(s.accepted for s in self.skills)

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    def skill(self, slug: str) -> SkillNeed | None:
        return next((s for s in self.skills if s.slug == slug), None)


def new_request(
    *,
    request_id: uuid.UUID,
    draft: Draft,
    created_by: uuid.UUID | None,
    now: datetime,
    source: str = "web",
    status: str = OPEN,
    source_ref: str | None = None,
) -> HelpRequest:
    """A new request: `open` from the web; an X request whose author has no account starts `pending`."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if status not in (OPEN, PENDING):
        raise ValueError("a request starts open or pending")
    if created_by is None and status != PENDING:
        raise ValueError("a request with no account behind it must wait for an organiser (pending)")
    return HelpRequest(
        id=request_id,
        title=draft.title,
        description=draft.description,
        constituency_code=draft.constituency_code,
        remote_ok=draft.remote_ok,
        skills=tuple(replace(s, accepted=0) for s in draft.skills),
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        urgency=draft.urgency,
        status=status,
        source=source,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        source_ref=source_ref,
    )


# -- checking fields ---------------------------------------------------------------------------


def _has_invisible(text: str, *, allow_newlines: bool) -> bool:
    for ch in text:
        if allow_newlines and ch in "\n\r\t":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            return True
    return False


def check_title(value: str) -> str:
    title = " ".join(value.split())
    if not title:
        raise RuleBroken("title", "Give the request a title.")
    if len(title) > MAX_TITLE:
        raise RuleBroken("title", f"Use at most {MAX_TITLE} characters.")
    if _has_invisible(title, allow_newlines=False):
        raise RuleBroken("title", "Remove control or invisible characters.")
    return title


def check_description(value: str) -> str:
    text = value.strip()
    if len(text) > MAX_DESCRIPTION:
        raise RuleBroken("description", f"Use at most {MAX_DESCRIPTION} characters.")
    if _has_invisible(text, allow_newlines=True):
        raise RuleBroken("description", "Remove control or invisible characters.")
    return text


def check_constituency(code: str) -> str:
    if not is_valid_code(code):
        raise RuleBroken("constituency_code", "Unknown constituency code.")
    return code


def check_urgency(value: str) -> str:
    if value not in URGENCIES:
        raise RuleBroken("urgency", "Choose low, normal or high.")
    return value


def parse_time(field_name: str, value: str | datetime | None) -> datetime | None:
    """An RFC 3339 time with a timezone (or an aware datetime), as UTC; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        when = value
    else:
        if not _RFC3339.match(value):
            raise RuleBroken(field_name, "Use an RFC 3339 time with a timezone, like 2026-05-02T10:00:00Z.")
        try:
            when = datetime.fromisoformat(value.upper())
        except ValueError as exc:
            raise RuleBroken(field_name, "Not a real date and time.") from exc
    if when.tzinfo is None or when.utcoffset() is None:
        raise RuleBroken(field_name, "Include a timezone, like Z or +01:00.")
    return when.astimezone(UTC)


@dataclass(frozen=True)
class SkillInput:
    slug: str
    min_level: int
    people: int


def check_skills(skills: Sequence[SkillInput], *, known: Iterable[str]) -> tuple[SkillNeed, ...]:
    """At least one skill, at most MAX_SKILLS, each known, listed once, a level 1..5 and 1..50 people."""
    known_slugs = set(known)
    errors: list[RuleBroken] = []
    if not skills:
        errors.append(RuleBroken("skills", "Ask for at least one skill."))
    if len(skills) > MAX_SKILLS:
        errors.append(RuleBroken("skills", f"Ask for at most {MAX_SKILLS} skills."))
    seen: set[str] = set()
    for i, s in enumerate(skills):
        if s.slug in seen:
            errors.append(RuleBroken(f"skills.{i}.slug", "This skill is listed twice; list each skill once."))
        elif s.slug not in known_slugs:
            errors.append(RuleBroken(f"skills.{i}.slug", "Unknown skill."))
        seen.add(s.slug)
        if not MIN_LEVEL <= s.min_level <= MAX_LEVEL:
            errors.append(RuleBroken(f"skills.{i}.min_level", f"Use a level from {MIN_LEVEL} to {MAX_LEVEL}."))
        if not 1 <= s.people <= MAX_PEOPLE_PER_SKILL:
            errors.append(RuleBroken(f"skills.{i}.people", f"Ask for 1 to {MAX_PEOPLE_PER_SKILL} people."))
    if errors:
        raise RulesBroken(errors)
    return tuple(SkillNeed(s.slug, s.min_level, s.people) for s in skills)


@dataclass(frozen=True)
class RequestInput:
    """Request fields as a caller sent them, before checking."""

    title: str
    description: str
    constituency_code: str
    remote_ok: bool
    skills: Sequence[SkillInput]
    starts_at: str | datetime | None = None
    ends_at: str | datetime | None = None
    urgency: str = "normal"


def check_draft(given: RequestInput, *, known_skills: Iterable[str]) -> Draft:
    """Every field checked; all problems reported together (RulesBroken)."""
    errors: list[RuleBroken] = []

    def attempt(check: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except RuleBroken as exc:
            errors.append(exc)
        except RulesBroken as exc:
            errors.extend(exc.errors)
        return None

    title = attempt(check_title, given.title)
    description = attempt(check_description, given.description)
    code = attempt(check_constituency, given.constituency_code)
    urgency = attempt(check_urgency, given.urgency)
    skills = attempt(check_skills, given.skills, known=known_skills)
    starts_at = attempt(parse_time, "starts_at", given.starts_at)
    ends_at = attempt(parse_time, "ends_at", given.ends_at)
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        errors.append(RuleBroken("ends_at", "End after the start."))
    if errors:
        raise RulesBroken(errors)
    return Draft(
        title=title,
        description=description,
        constituency_code=code,
        remote_ok=given.remote_ok,
        skills=skills,
        starts_at=starts_at,
        ends_at=ends_at,
        urgency=urgency,
    )


# -- who may do what ---------------------------------------------------------------------------


def is_owner(actor: Actor | None, req: HelpRequest) -> bool:
    return actor is not None and req.created_by is not None and actor.user_id == req.created_by


def can_see(actor: Actor | None, req: HelpRequest) -> bool:
    """Pending requests are seen only by organisers of their constituency, admins and their owner."""
    if req.status != PENDING:
        return True
    return actor is not None and (is_owner(actor, req) or actor.organises(req.constituency_code))


def can_manage(actor: Actor | None, req: HelpRequest) -> bool:
    """Edit, close, accept or decline offers, invite, see every offer: owner, organiser of it, admin."""
    return actor is not None and (is_owner(actor, req) or actor.organises(req.constituency_code))


def can_moderate(actor: Actor | None, req: HelpRequest) -> bool:
    """Approve or reject a pending request: an organiser of its constituency or an admin."""
    return actor is not None and actor.organises(req.constituency_code)


def _status_for(skills: Sequence[SkillNeed]) -> str:
    return FILLED if sum(s.accepted for s in skills) >= sum(s.people for s in skills) else OPEN


# -- transitions -------------------------------------------------------------------------------


def edit(
    req: HelpRequest, actor: Actor, changes: Mapping[str, Any], *, known_skills: Iterable[str], now: datetime
) -> HelpRequest:
    """Apply a partial edit (field name -> new value; `skills` replaces the whole list) to an open request.

    People already accepted for a skill stay counted against it; a skill cannot drop below them or be
    removed while it has any. Cutting the people needed down to those accepted fills the request.
    """
    if not can_manage(actor, req):
        raise Forbidden("Only the owner, an organiser of its constituency or an admin may edit this request.")
    if req.status != OPEN:
        raise Conflict(f"Only open requests can be edited; this one is {req.status}.")
    unknown = set(changes) - {
        "title",
        "description",
        "constituency_code",
        "remote_ok",
        "skills",
        "starts_at",
        "ends_at",
        "urgency",
    }
    if unknown:
        raise ValueError(f"cannot edit {sorted(unknown)}")
    skill_inputs: Sequence[SkillInput] = changes.get(
        "skills", [SkillInput(s.slug, s.min_level, s.people) for s in req.skills]
    )
    given = RequestInput(
        title=changes.get("title", req.title),
        description=changes.get("description", req.description),
        constituency_code=changes.get("constituency_code", req.constituency_code),
        remote_ok=changes.get("remote_ok", req.remote_ok),
        skills=skill_inputs,
        starts_at=changes.get("starts_at", req.starts_at),
        ends_at=changes.get("ends_at", req.ends_at),
        urgency=changes.get("urgency", req.urgency),
    )
    # Skills already on the request stay valid even if the taxonomy projection lags behind.
    draft = check_draft(given, known_skills={*known_skills, *(s.slug for s in req.skills)})
    errors: list[RuleBroken] = []
    new_skills = []
    for i, need in enumerate(draft.skills):
        current = req.skill(need.slug)
        accepted = current.accepted if current else 0
        if need.people < accepted:
            errors.append(RuleBroken(f"skills.{i}.people", f"{accepted} people are already accepted for this skill."))
        new_skills.append(replace(need, accepted=accepted))
    kept = {s.slug for s in draft.skills}
    for s in req.skills:
        if s.slug not in kept and s.accepted:
            errors.append(RuleBroken("skills", f"{s.accepted} people are already accepted for {s.slug}; keep it."))
    if errors:
        raise RulesBroken(errors)
    return replace(
        req,
        title=draft.title,
        description=draft.description,
        constituency_code=draft.constituency_code,
        remote_ok=draft.remote_ok,
        skills=tuple(new_skills),
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        urgency=draft.urgency,
        status=_status_for(new_skills),
        updated_at=now,
    )


def differs(a: HelpRequest, b: HelpRequest) -> bool:
    """Whether an edit changed anything worth announcing."""
    return replace(a, updated_at=b.updated_at) != b


_CLOSABLE_FROM = {
    OUTCOME_COMPLETED: (OPEN, FILLED),
    OUTCOME_CANCELLED: (OPEN, FILLED, PENDING),
}


def close(req: HelpRequest, actor: Actor, outcome: str, *, now: datetime) -> HelpRequest:
    """Complete (from open or filled) or cancel (from open, filled or pending) a request."""
    if outcome not in _CLOSABLE_FROM:
        raise RuleBroken("outcome", "Choose completed or cancelled.")
    if not can_manage(actor, req):
        raise Forbidden("Only the owner, an organiser of its constituency or an admin may close this request.")
    if req.status not in _CLOSABLE_FROM[outcome]:
        if req.is_closed:
            raise Conflict(f"This request is already {req.status}.")
        raise Conflict(f"A {req.status} request cannot be marked {outcome}.")
    status = COMPLETED if outcome == OUTCOME_COMPLETED else CANCELLED
    return replace(req, status=status, outcome=outcome, closed_at=now, updated_at=now)


def approve(req: HelpRequest, actor: Actor, *, now: datetime) -> HelpRequest:
    if not can_moderate(actor, req):
        raise Forbidden("Only an organiser of this constituency or an admin may approve requests.")
    if req.status != PENDING:
        raise Conflict(f"Only pending requests can be approved; this one is {req.status}.")
    return replace(req, status=OPEN, updated_at=now)


def reject(req: HelpRequest, actor: Actor, *, now: datetime) -> HelpRequest:
    if not can_moderate(actor, req):
        raise Forbidden("Only an organiser of this constituency or an admin may reject requests.")
    if req.status != PENDING:
        raise Conflict(f"Only pending requests can be rejected; this one is {req.status}.")
    return replace(req, status=CANCELLED, outcome=OUTCOME_REJECTED, closed_at=now, updated_at=now)


# -- requests from X -------------------------------------------------------------------------

# What stands in for the description once the tweet it came from is gone from X.
DELETED_TWEET_NOTE: Final = "The tweet this request came from was deleted on X."
MAX_TWEET_URL: Final = 300


def title_for_x(skill_names: Sequence[str], place: str) -> str:
    """A title made from the skills and the constituency only, never from the tweet's words (so a deleted
    tweet leaves nothing of itself behind): "Graphic design needed in Manchester Withington"."""
    names = [" ".join(n.split()) for n in skill_names if n.strip()]
    if not names:
        raise ValueError("a request from X names at least one skill")
    tail = f" needed in {place}"

    def phrase(shown: list[str], more: int) -> str:
        parts = [shown[0], *(_lower_first(n) for n in shown[1:])]
        if more:
            return ", ".join(parts) + f" and {more} more"
        if len(parts) == 1:
            return parts[0]
        return ", ".join(parts[:-1]) + " and " + parts[-1]

    for shown_count in range(len(names), 0, -1):
        title = phrase(names[:shown_count], len(names) - shown_count) + tail
        if len(title) <= MAX_TITLE:
            return title
    title = names[0] + tail
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def _lower_first(name: str) -> str:
    # "Leafleting" reads as "leafleting" mid-sentence; an acronym such as "SEO" keeps its capitals.
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def description_from_tweet(text: str, url: str) -> str:
    """The tweet's text (stripped of invisible characters) then where to read it on X, within the limit."""
    clean_url = "".join(
        ch for ch in url if not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    link = f"From X: {clean_url[:MAX_TWEET_URL]}"
    visible = "".join(
        " " if ch in "\t\r" else ch
        for ch in text
        if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co") or ch in "\t\r"
    ).strip()
    room = MAX_DESCRIPTION - len(link) - 2
    if len(visible) > room:
        visible = visible[: room - 1].rstrip() + "…"
    return f"{visible}\n\n{link}" if visible else link


def forget_tweet(req: HelpRequest, *, now: datetime) -> HelpRequest:
    """The tweet behind a request was deleted on X: its text goes, and a request still waiting for an
    organiser (pending) is turned down, as a rejection would."""
    if req.status == PENDING:
        return replace(
            req,
            description=DELETED_TWEET_NOTE,
            status=CANCELLED,
            outcome=OUTCOME_REJECTED,
            closed_at=now,
            updated_at=now,
        )
    if req.description == DELETED_TWEET_NOTE:
        return req
    return replace(req, description=DELETED_TWEET_NOTE, updated_at=now)


# -- offers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    id: uuid.UUID
    request_id: uuid.UUID
    user_id: uuid.UUID
    message: str
    skill: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    # The skill an accepted offer is counted against (its own skill, or the first with room).
    counted_skill: str | None = None
    display_name: str | None = field(default=None, compare=False)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_OFFER_STATUSES


def check_message(value: str) -> str:
    text = value.strip()
    if len(text) > MAX_MESSAGE:
        raise RuleBroken("message", f"Use at most {MAX_MESSAGE} characters.")
    if _has_invisible(text, allow_newlines=True):
        raise RuleBroken("message", "Remove control or invisible characters.")
    return text


def make_offer(
    req: HelpRequest,
    actor: Actor,
    *,
    offer_id: uuid.UUID,
    message: str,
    skill: str | None,
    has_live_offer: bool,
    now: datetime,
) -> Offer:
    """Anyone signed in but the owner may offer, once at a time, while the request is open."""
    if is_owner(actor, req):
        raise Forbidden("You cannot offer to help with your own request.")
    if req.status != OPEN:
        raise Conflict(f"Offers are taken only while a request is open; this one is {req.status}.")
    errors: list[RuleBroken] = []
    try:
        message = check_message(message)
    except RuleBroken as exc:
        errors.append(exc)
    if skill is not None and req.skill(skill) is None:
        errors.append(RuleBroken("skill", "This request does not ask for that skill."))
    if errors:
        raise RulesBroken(errors)
    if has_live_offer:
        raise Conflict("You already have an offer on this request; withdraw it before offering again.")
    return Offer(
        id=offer_id,
        request_id=req.id,
        user_id=actor.user_id,
        message=message,
        skill=skill,
        status=OFFER_PENDING,
        created_at=now,
        updated_at=now,
    )


def _with_accepted(skills: Sequence[SkillNeed], slug: str, delta: int) -> tuple[SkillNeed, ...]:
    return tuple(replace(s, accepted=s.accepted + delta) if s.slug == slug else s for s in skills)


def accept(req: HelpRequest, offer: Offer, actor: Actor, *, now: datetime) -> tuple[HelpRequest, Offer]:
    """Accept a pending offer on an open request, counting it against one of the request's skills.

    An offer that names a skill counts against that skill, and is refused when that skill already has
    every person it needs. An offer without a skill (or naming one since removed from the request)
    counts against the first skill, in the request's order, that still has room.
    """
    if not can_manage(actor, req):
        raise Forbidden("Only the owner, an organiser of its constituency or an admin may accept offers.")
    if req.status != OPEN:
        raise Conflict(f"Offers can be accepted only while a request is open; this one is {req.status}.")
    if offer.status != OFFER_PENDING:
        raise Conflict(f"Only pending offers can be accepted; this one is {offer.status}.")
    named = req.skill(offer.skill) if offer.skill else None
    if named is not None:
        if named.room <= 0:
            raise Conflict(f"Every person needed for {named.slug} is already accepted.")
        target = named
    else:
        found = next((s for s in req.skills if s.room > 0), None)
        if found is None:  # unreachable while open, which means some skill has room
            raise Conflict("Every person needed is already accepted.")
        target = found
    skills = _with_accepted(req.skills, target.slug, +1)
    updated = replace(req, skills=skills, status=_status_for(skills), updated_at=now)
    return updated, replace(offer, status=OFFER_ACCEPTED, counted_skill=target.slug, updated_at=now)


def decline(req: HelpRequest, offer: Offer, actor: Actor, *, now: datetime) -> Offer:
    if not can_manage(actor, req):
        raise Forbidden("Only the owner, an organiser of its constituency or an admin may decline offers.")
    if offer.status != OFFER_PENDING:
        raise Conflict(f"Only pending offers can be declined; this one is {offer.status}.")
    return replace(offer, status=OFFER_DECLINED, updated_at=now)


def withdraw(req: HelpRequest, offer: Offer, actor: Actor, *, now: datetime) -> tuple[HelpRequest, Offer]:
    """The offerer takes back a live offer; an accepted one frees its place and reopens a filled request."""
    if actor.user_id != offer.user_id:
        raise Forbidden("Only the person who made an offer may withdraw it.")
    if not offer.is_live:
        raise Conflict(f"This offer is already {offer.status}.")
    if req.status not in (OPEN, FILLED):
        raise Conflict(f"This request is {req.status}; there is nothing to withdraw from.")
    withdrawn = replace(offer, status=OFFER_WITHDRAWN, updated_at=now)
    if offer.status != OFFER_ACCEPTED:
        return req, withdrawn
    need = req.skill(offer.counted_skill) if offer.counted_skill else None
    if need is None or need.accepted <= 0:
        # Edits keep skills with accepted people, so this is only a safety net: free a place that is taken.
        need = next((s for s in req.skills if s.accepted > 0), None)
        if need is None:
            return req, withdrawn
    skills = _with_accepted(req.skills, need.slug, -1)
    return replace(req, skills=skills, status=_status_for(skills), updated_at=now), withdrawn


# -- invitations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    id: uuid.UUID
    request_id: uuid.UUID
    user_id: uuid.UUID
    # None once the person who sent it was erased.
    invited_by: uuid.UUID | None
    created_at: datetime
    display_name: str | None = field(default=None, compare=False)


def invite(
    req: HelpRequest, actor: Actor, *, invitation_id: uuid.UUID, user_id: uuid.UUID, person_known: bool, now: datetime
) -> Invitation:
    """Owner, organiser or admin invites a known person (not the owner) to an open request."""
    if not can_manage(actor, req):
        raise Forbidden("Only the owner, an organiser of its constituency or an admin may invite people.")
    if req.status != OPEN:
        raise Conflict(f"Invitations are sent only while a request is open; this one is {req.status}.")
    if req.created_by is not None and user_id == req.created_by:
        raise RuleBroken("user_id", "The owner of a request cannot be invited to it.")
    if not person_known:
        raise RuleBroken("user_id", "No such person.")
    return Invitation(id=invitation_id, request_id=req.id, user_id=user_id, invited_by=actor.user_id, created_at=now)
