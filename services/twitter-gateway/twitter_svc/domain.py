"""Pure rules of the twitter gateway: admin settings, the search query, what is said on X, retry timing.
No I/O, no framework."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

HASHTAG = re.compile(r"[A-Za-z0-9_]{1,100}")
MAX_HASHTAGS = 10
MIN_POLL_S, MAX_POLL_S = 15, 3600
# X's recent search takes queries of up to 512 characters on the basic tiers.
MAX_QUERY_CHARS = 512
X_TEXT_LIMIT = 280
SCOPES = ["tweet.read", "users.read", "dm.write", "offline.access"]
STREAMS = ("mentions", "search")


@dataclass(frozen=True)
class AdminSettings:
    hashtags: list[str]
    poll_interval_s: int
    monthly_read_budget: int
    monthly_post_budget: int
    posting_enabled: bool


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


def normalise_hashtags(raw: list[str]) -> tuple[list[str], list[FieldError]]:
    """Strip one leading '#', drop case-insensitive duplicates (first spelling kept), check each."""
    errors: list[FieldError] = []
    tags: list[str] = []
    seen: set[str] = set()
    for i, value in enumerate(raw):
        tag = value.strip()
        tag = tag[1:] if tag.startswith("#") else tag
        if not HASHTAG.fullmatch(tag):
            errors.append(FieldError(f"hashtags.{i}", "A hashtag is 1-100 letters, digits or '_' (the '#' optional)."))
            continue
        if tag.lower() not in seen:
            seen.add(tag.lower())
            tags.append(tag)
    if not errors and not 1 <= len(tags) <= MAX_HASHTAGS:
        errors.append(FieldError("hashtags", f"Give 1 to {MAX_HASHTAGS} different hashtags."))
    if not errors and len(search_query(tags)) > MAX_QUERY_CHARS:
        errors.append(FieldError("hashtags", f"Together the hashtags exceed X's {MAX_QUERY_CHARS}-character query."))
    return tags, errors


def validate_settings(
    *,
    hashtags: list[str],
    poll_interval_s: int,
    monthly_read_budget: int,
    monthly_post_budget: int,
    posting_enabled: bool,
) -> tuple[AdminSettings | None, list[FieldError]]:
    tags, errors = normalise_hashtags(hashtags)
    if not MIN_POLL_S <= poll_interval_s <= MAX_POLL_S:
        errors.append(FieldError("poll_interval_s", f"Poll every {MIN_POLL_S} to {MAX_POLL_S} seconds."))
    if monthly_read_budget < 0:
        errors.append(FieldError("monthly_read_budget", "A budget is 0 or more."))
    if monthly_post_budget < 0:
        errors.append(FieldError("monthly_post_budget", "A budget is 0 or more."))
    if errors:
        return None, errors
    return AdminSettings(tags, poll_interval_s, monthly_read_budget, monthly_post_budget, posting_enabled), []


def search_query(hashtags: list[str]) -> str:
    """`(#A OR #B) -is:retweet`: the watched hashtags, retweets left out by X itself."""
    return "(" + " OR ".join(f"#{t}" for t in hashtags) + ") -is:retweet"


def month_of(at: datetime) -> date:
    """The budget month (UTC calendar month) a moment counts against."""
    return date(at.year, at.month, 1)


def id_after(a: str | None, b: str | None) -> str | None:
    """The newer of two tweet ids (ids are increasing integers; compare numerically, not as text)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if _num(a) >= _num(b) else b


def _num(tweet_id: str) -> int:
    return int(tweet_id) if tweet_id.isdigit() else -1


def tweet_url(tweet_id: str) -> str:
    """A link that works without knowing the author's handle (which is not stored)."""
    return f"https://x.com/i/web/status/{tweet_id}"


def _fit(text: str, limit: int = X_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def reply_text(*, status: str, url: str) -> str:
    """The reply under a tweet that became a request. URLs count as 23 characters on X; ours are short."""
    if status == "pending":
        return _fit(
            "Thanks! We've noted your request on Labour Exchange. A local organiser will check it and "
            f"volunteers can offer help here: {url}"
        )
    return _fit(f"Thanks! Your request is on Labour Exchange and volunteers can offer to help here: {url}")


def _title(title: str | None) -> str:
    title = (title or "a request").strip() or "a request"
    return title if len(title) <= 80 else title[:79].rstrip() + "…"


def invitation_dm(*, title: str | None, url: str) -> str:
    return (
        f"You've been invited to help with \u201c{_title(title)}\u201d on Labour Exchange. "
        f"Have a look and offer if you can: {url}\n\n"
        "You get this because you allowed contact by X; turn it off in your account settings."
    )


def offer_accepted_dm(*, title: str | None, url: str) -> str:
    return (
        f"Your offer to help with \u201c{_title(title)}\u201d was accepted. Thank you! Details: {url}\n\n"
        "You get this because you allowed contact by X; turn it off in your account settings."
    )


def backoff(attempts: int, *, base_s: float, cap_s: float, rng: random.Random | None = None) -> timedelta:
    """Wait before the next try after `attempts` failures: exponential with full jitter, at least 1 s."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return timedelta(seconds=max(1.0, (rng or random).uniform(ceiling / 2, ceiling)))
