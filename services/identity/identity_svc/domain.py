"""Identity rules: emails, names, roles and consents. Plain Python, no I/O."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from lx_contracts.constituencies import is_valid_code

# An invited account was made by an admin's import; it cannot sign in until the person claims it.
ACTIVE = "active"
INVITED = "invited"

SUPPORTER = "supporter"
ORGANISER = "organiser"
ADMIN = "admin"
GRANTABLE_ROLES = (ORGANISER, ADMIN)

CONSENT_PURPOSES = ("terms", "discoverable", "contact_by_x")


@dataclass(frozen=True)
class ConsentWording:
    """What a person is shown, and agrees to or declines, for one purpose. Every consent record names the
    version in force when it was given; a new wording needs a new version (never edit one in place)."""

    purpose: str
    version: str
    text: str


# The one place the wording lives: the API serves it (GET /api/v1/consents/wording), the pages show it,
# and every consent record stores its version.
CONSENT_WORDINGS: dict[str, ConsentWording] = {
    w.purpose: w
    for w in (
        ConsentWording(
            "terms",
            "terms-2026-11",
            "I agree to the Labour Exchange terms of use: I will use it only to help the campaign, treat "
            "other volunteers with respect, and not copy anyone's details out of it. Labour Exchange keeps my "
            "account details to run it and erases them when I delete my account.",
        ),
        ConsentWording(
            "discoverable",
            "discoverable-2026-11",
            "Organisers of my constituency may find me by my skills and availability, and I may be suggested "
            "for requests that need them. This shows them my name, constituency and skills, not my email. "
            "I can turn this off at any time and I stop being shown within seconds.",
        ),
        ConsentWording(
            "contact_by_x",
            "contact_by_x-2026-11",
            "If I link my X account, the campaign account may send me direct messages on X about invitations "
            "and offers I made. I can turn this off at any time.",
        ),
    )
}


def wording_version(purpose: str) -> str:
    """The version of the wording in force for a purpose."""
    return CONSENT_WORDINGS[purpose].version


MAX_EMAIL = 254
MAX_DISPLAY_NAME = 80
MIN_PASSWORD = 12
MAX_PASSWORD = 1024

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


class RuleBroken(Exception):
    """A request breaks an identity rule; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalise_email(value: str) -> str:
    email = value.strip()
    if len(email) > MAX_EMAIL:
        raise RuleBroken("email", f"Use at most {MAX_EMAIL} characters.")
    if not _EMAIL_RE.match(email):
        raise RuleBroken("email", "Enter an email address like name@example.org.")
    return email


def normalise_display_name(value: str) -> str:
    name = " ".join(value.split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise RuleBroken("display_name", f"Use 1 to {MAX_DISPLAY_NAME} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in name):
        raise RuleBroken("display_name", "Remove control or invisible characters.")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise RuleBroken("password", f"Use at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise RuleBroken("password", f"Use at most {MAX_PASSWORD} characters.")


@dataclass(frozen=True)
class Consents:
    terms: bool
    discoverable: bool
    contact_by_x: bool

    def as_dict(self) -> dict[str, bool]:
        return {"terms": self.terms, "discoverable": self.discoverable, "contact_by_x": self.contact_by_x}


def initial_consents(*, terms: bool, discoverable: bool, contact_by_x: bool) -> Consents:
    if not terms:
        raise RuleBroken("consents.terms", "Accept the terms to create an account.")
    return Consents(terms=True, discoverable=discoverable, contact_by_x=contact_by_x)


NO_CONSENTS = Consents(terms=False, discoverable=False, contact_by_x=False)


def change_consents(current: Consents, changes: dict[str, bool]) -> Consents:
    """Apply a partial change. The terms can be given later (an account made by signing in with X starts
    without them) but never withdrawn on their own: only erasing the account ends them."""
    if changes.get("terms") is False and current.terms:
        raise RuleBroken(
            "consents.terms",
            "The terms cannot be withdrawn on their own; delete your account instead.",
        )
    return replace(
        current,
        terms=current.terms or changes.get("terms", False),
        discoverable=changes.get("discoverable", current.discoverable),
        contact_by_x=changes.get("contact_by_x", current.contact_by_x),
    )


def display_name_from_x(name: str, handle: str) -> str:
    """A display name for an account made from an X sign-in: X's name with invisible characters dropped,
    whitespace collapsed and cut to the limit; the handle when nothing usable is left."""
    for candidate in (name, handle):
        visible = "".join(ch for ch in candidate if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
        cleaned = " ".join(visible.split())[:MAX_DISPLAY_NAME].strip()
        if cleaned:
            return cleaned
    raise RuleBroken("handle", "Give the X handle.")


@dataclass(frozen=True)
class RoleGrant:
    role: str
    constituency_code: str = ""


def check_role_grant(role: str, constituency_code: str | None) -> RoleGrant:
    if role not in GRANTABLE_ROLES:
        raise RuleBroken("role", "Choose organiser or admin.")
    if role == ORGANISER:
        if not constituency_code:
            raise RuleBroken("constituency_code", "An organiser role needs a constituency code.")
        if not is_valid_code(constituency_code):
            raise RuleBroken("constituency_code", "Unknown constituency code.")
        return RoleGrant(ORGANISER, constituency_code)
    if constituency_code:
        raise RuleBroken("constituency_code", "The admin role covers every constituency; leave it out.")
    return RoleGrant(ADMIN)


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str | None  # None for an account made by signing in with X
    display_name: str
    consents: Consents
    created_at: datetime
    grants: tuple[RoleGrant, ...] = field(default_factory=tuple)
    status: str = ACTIVE
    x_handle: str | None = field(default=None, compare=False)  # the linked X account, if any

    @property
    def invited(self) -> bool:
        return self.status == INVITED

    @property
    def roles(self) -> list[str]:
        extra = sorted({g.role for g in self.grants})
        return [SUPPORTER, *extra]

    @property
    def organiser_of(self) -> list[str]:
        return sorted(g.constituency_code for g in self.grants if g.role == ORGANISER)

    @property
    def is_admin(self) -> bool:
        return any(g.role == ADMIN for g in self.grants)


# -- erasure ---------------------------------------------------------------------------------------

# The services that hold data about a person and confirm when they have erased it, by the name in
# their `<name>.erasure-completed.v1` topic.
ERASURE_SERVICES = ("skills", "requests", "matcher", "twitter")


@dataclass(frozen=True)
class Erasure:
    requested_at: datetime
    services: tuple[str, ...]
    confirmed: tuple[str, ...]
    completed_at: datetime | None

    @property
    def status(self) -> str:
        return "completed" if self.completed_at is not None else "in_progress"

    @property
    def pending(self) -> list[str]:
        return [s for s in self.services if s not in self.confirmed]


def confirm_erasure(erasure: Erasure, service: str, at: datetime) -> Erasure:
    """Record one service's confirmation; the erasure completes when the last one arrives. A service
    that confirms twice, or one that was never asked, changes nothing."""
    if service not in erasure.services or service in erasure.confirmed:
        return erasure
    confirmed = tuple(s for s in erasure.services if s in erasure.confirmed or s == service)
    done = len(confirmed) == len(erasure.services)
    return replace(erasure, confirmed=confirmed, completed_at=at if done else None)
