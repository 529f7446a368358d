"""The fake X's memory: users, tweets, DMs, OAuth 2.0 codes and tokens, rate-limit windows and injected faults.

Everything sits behind one lock, so tests may read and change it from another thread while the server runs.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Development credentials: known to anyone who reads this file, accepted only by this fake.
CLIENT_ID = "lx-dev-client"
CLIENT_SECRET = "lx-dev-secret"  # noqa: S105 - a published dev credential of the fake
APP_BEARER_TOKEN = "lx-dev-app-bearer"  # noqa: S105 - a published dev credential of the fake
ACCOUNT_ID = "1000000000000000001"
ACCOUNT_USERNAME = "LabourExchange"
ACCOUNT_NAME = "Labour Exchange"
ACCOUNT_TOKEN = "lx-dev-account-token"  # noqa: S105 - a published dev credential of the fake

ALL_SCOPES = frozenset(
    {
        "tweet.read",
        "tweet.write",
        "tweet.moderate.write",
        "users.read",
        "users.email",
        "follows.read",
        "follows.write",
        "offline.access",
        "space.read",
        "mute.read",
        "mute.write",
        "like.read",
        "like.write",
        "list.read",
        "list.write",
        "block.read",
        "block.write",
        "bookmark.read",
        "bookmark.write",
        "dm.read",
        "dm.write",
        "media.write",
    }
)

WINDOW_S = 15 * 60
MAX_CALLS_KEPT = 10_000  # the newest calls, so a long `make run` does not grow without bound
DEFAULT_LIMITS: dict[str, int] = {
    "users_me": 75,
    "mentions": 450,
    "search_recent": 450,
    "tweets_lookup": 900,
    "post_tweets": 200,
    "dm_messages": 200,
    "oauth2_token": 1000,
    "oauth2_revoke": 1000,
}

_TWITTER_EPOCH_MS = 1288834974657
_USERNAME_RE = re.compile(r"^\w{1,15}$", re.ASCII)
_MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})(?!\w)")
_HASHTAG_RE = re.compile(r"(?<![\w&#])#(\w*[^\W\d]\w*)")


def x_time(moment: datetime) -> str:
    """RFC 3339 with milliseconds, as X writes times: 2026-11-27T12:00:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def valid_username(username: str) -> bool:
    return bool(_USERNAME_RE.match(username))


@dataclass
class User:
    id: str
    username: str
    name: str
    created_at: datetime


@dataclass
class Tweet:
    id: str
    text: str
    author_id: str
    created_at: datetime
    conversation_id: str
    in_reply_to_tweet_id: str | None = None
    in_reply_to_user_id: str | None = None
    retweet_of: str | None = None
    deleted: bool = False
    posted_through_api: bool = False

    @property
    def hashtags(self) -> list[tuple[int, int, str]]:
        return [(m.start(), m.end(), m.group(1)) for m in _HASHTAG_RE.finditer(self.text)]

    @property
    def mentions(self) -> list[tuple[int, int, str]]:
        return [(m.start(), m.end(), m.group(1)) for m in _MENTION_RE.finditer(self.text)]


@dataclass
class DirectMessage:
    dm_event_id: str
    dm_conversation_id: str
    sender_id: str
    participant_id: str
    text: str
    created_at: datetime


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    scopes: frozenset[str]
    user_id: str
    expires_at: float
    used: bool = False


@dataclass
class AccessToken:
    user_id: str | None  # None: the app-only bearer token
    scopes: frozenset[str]
    expires_at: float | None  # None: never
    grant_id: str | None
    revoked: bool = False


@dataclass
class RefreshToken:
    client_id: str
    user_id: str
    scopes: frozenset[str]
    grant_id: str
    spent: bool = False


@dataclass
class Window:
    limit: int
    remaining: int
    reset_at: int


@dataclass
class Fault:
    status: int
    count: int
    reset_in_s: int
    body: str | None = None  # answered as is, without rate-limit headers: a broken proxy or a changed API


@dataclass(frozen=True)
class Principal:
    """Who a bearer token speaks for: the app (user_id None) or a user, with the token's scopes."""

    user_id: str | None
    scopes: frozenset[str]

    @property
    def rate_key(self) -> str:
        return "app" if self.user_id is None else f"user:{self.user_id}"


class OAuthError(Exception):
    """An OAuth 2.0 error answer: {"error", "error_description"}."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class FakeXState:
    """All the fake knows. Change the knobs (limits, TTLs, clock) freely from tests."""

    code_ttl_s: float = 30.0
    access_token_ttl_s: int = 7200
    limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    # None: any loopback http(s) redirect URI is registered for the dev client.
    allowed_redirect_uris: set[str] | None = None
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._last_id = 0
        self._initial_limits = dict(self.limits)
        self.reset()

    # -- set-up ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything but the seeded app, campaign account and their tokens; limits as at start."""
        with self.lock:
            self.users: dict[str, User] = {}
            self.tweets: dict[str, Tweet] = {}
            self.dms: list[DirectMessage] = []
            self.codes: dict[str, AuthCode] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.windows: dict[tuple[str, str], Window] = {}
            self.faults: list[Fault] = []
            self.calls: list[dict[str, Any]] = []
            self.limits = dict(self._initial_limits)
            self.users[ACCOUNT_ID] = User(ACCOUNT_ID, ACCOUNT_USERNAME, ACCOUNT_NAME, self.now())
            self.access_tokens[APP_BEARER_TOKEN] = AccessToken(None, frozenset(), None, None)
            self.access_tokens[ACCOUNT_TOKEN] = AccessToken(ACCOUNT_ID, ALL_SCOPES, None, None)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def next_id(self) -> str:
        """Snowflake-like: milliseconds since X's epoch in the high bits, always increasing."""
        with self.lock:
            snowflake = (int(self.clock() * 1000) - _TWITTER_EPOCH_MS) << 22
            self._last_id = max(self._last_id + 1, snowflake)
            return str(self._last_id)

    # -- users -----------------------------------------------------------------------------
    def user_by_username(self, username: str) -> User | None:
        with self.lock:
            wanted = username.lower()
            return next((u for u in self.users.values() if u.username.lower() == wanted), None)

    def ensure_user(self, username: str, name: str | None = None) -> tuple[User, bool]:
        """The user with this username (any case), created on first use: (user, created)."""
        if not valid_username(username):
            raise ValueError("a username is 1 to 15 letters, digits or underscores")
        with self.lock:
            existing = self.user_by_username(username)
            if existing is not None:
                return existing, False
            user = User(self.next_id(), username, (name or username)[:50], self.now())
            self.users[user.id] = user
            return user, True

    # -- tweets ----------------------------------------------------------------------------
    def add_tweet(
        self,
        *,
        username: str,
        text: str = "",
        retweet_of: str | None = None,
        in_reply_to: str | None = None,
        through_api: bool = False,
    ) -> Tweet:
        """A tweet by `username` (created if new); a retweet copies the original's text as X shows it."""
        with self.lock:
            author, _ = self.ensure_user(username)
            tweet_id = self.next_id()
            if retweet_of is not None:
                original = self.tweets.get(retweet_of)
                if original is None or original.deleted:
                    raise KeyError(retweet_of)
                original_author = self.users[original.author_id]
                tweet = Tweet(
                    tweet_id,
                    f"RT @{original_author.username}: {original.text}",
                    author.id,
                    self.now(),
                    tweet_id,
                    retweet_of=original.id,
                )
            else:
                conversation_id, reply_user = tweet_id, None
                if in_reply_to is not None:
                    parent = self.tweets.get(in_reply_to)
                    if parent is None or parent.deleted:
                        raise KeyError(in_reply_to)
                    conversation_id, reply_user = parent.conversation_id, parent.author_id
                tweet = Tweet(
                    tweet_id,
                    text,
                    author.id,
                    self.now(),
                    conversation_id,
                    in_reply_to_tweet_id=in_reply_to,
                    in_reply_to_user_id=reply_user,
                    posted_through_api=through_api,
                )
            self.tweets[tweet.id] = tweet
            return tweet

    def delete_tweet(self, tweet_id: str) -> bool:
        with self.lock:
            tweet = self.tweets.get(tweet_id)
            if tweet is None or tweet.deleted:
                return False
            tweet.deleted = True
            return True

    def live_tweets_newest_first(self) -> list[Tweet]:
        with self.lock:
            live = [t for t in self.tweets.values() if not t.deleted]
        return sorted(live, key=lambda t: int(t.id), reverse=True)

    def send_dm(self, *, sender_id: str, participant_id: str, text: str) -> DirectMessage:
        with self.lock:
            low, high = sorted((sender_id, participant_id), key=int)
            dm = DirectMessage(self.next_id(), f"{low}-{high}", sender_id, participant_id, text, self.now())
            self.dms.append(dm)
            return dm

    # -- OAuth 2.0 -------------------------------------------------------------------------
    def redirect_allowed(self, redirect_uri: str) -> bool:
        if self.allowed_redirect_uris is not None:
            return redirect_uri in self.allowed_redirect_uris
        return bool(re.match(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?(/[^\s#]*)?$", redirect_uri))

    def issue_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        code_challenge: str,
        code_challenge_method: str,
        scopes: frozenset[str],
        user_id: str,
    ) -> str:
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.codes[code] = AuthCode(
                client_id,
                redirect_uri,
                code_challenge,
                code_challenge_method,
                scopes,
                user_id,
                self.clock() + self.code_ttl_s,
            )
        return code

    def exchange_code(self, *, client_id: str, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """Spend an authorization code (once, whatever the outcome) and answer X's token response."""
        with self.lock:
            grant = self.codes.get(code)
            if grant is None or grant.client_id != client_id:
                raise OAuthError("invalid_grant", "Value passed for the authorization code was invalid.")
            if grant.used:
                raise OAuthError("invalid_grant", "Value passed for the authorization code was already used.")
            grant.used = True
            if self.clock() > grant.expires_at:
                raise OAuthError("invalid_grant", "Value passed for the authorization code has expired.")
            if redirect_uri != grant.redirect_uri:
                raise OAuthError("invalid_grant", "Value passed for the redirect uri did not match the authorization.")
            expected = s256(code_verifier) if grant.code_challenge_method == "S256" else code_verifier
            if not secrets.compare_digest(expected, grant.code_challenge):
                raise OAuthError("invalid_grant", "Value passed for the code verifier did not match the challenge.")
            return self._issue_tokens(client_id, grant.user_id, grant.scopes, secrets.token_hex(8))

    def refresh(self, *, client_id: str, refresh_token: str) -> dict[str, Any]:
        """Rotate: the refresh token given is spent, a new one comes with the new access token."""
        with self.lock:
            held = self.refresh_tokens.get(refresh_token)
            if held is None or held.spent or held.client_id != client_id:
                raise OAuthError("invalid_grant", "Value passed for the token was invalid.")
            held.spent = True
            return self._issue_tokens(client_id, held.user_id, held.scopes, held.grant_id)

    def _issue_tokens(self, client_id: str, user_id: str, scopes: frozenset[str], grant_id: str) -> dict[str, Any]:
        access = secrets.token_urlsafe(40)
        self.access_tokens[access] = AccessToken(
            user_id, scopes, self.clock() + self.access_token_ttl_s, grant_id=grant_id
        )
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": self.access_token_ttl_s,
            "access_token": access,
            "scope": " ".join(sorted(scopes)),
        }
        if "offline.access" in scopes:
            refresh = secrets.token_urlsafe(40)
            self.refresh_tokens[refresh] = RefreshToken(client_id, user_id, scopes, grant_id)
            body["refresh_token"] = refresh
        return body

    def revoke(self, token: str) -> None:
        """An access token stops working; a refresh token ends its whole grant (and its access tokens)."""
        with self.lock:
            access = self.access_tokens.get(token)
            if access is not None and access.user_id is not None and token != ACCOUNT_TOKEN:
                access.revoked = True
            held = self.refresh_tokens.get(token)
            if held is not None:
                for r in self.refresh_tokens.values():
                    if r.grant_id == held.grant_id:
                        r.spent = True
                for a in self.access_tokens.values():
                    if a.grant_id == held.grant_id:
                        a.revoked = True

    def expire_tokens(self, username: str) -> int:
        """Expire every access token of this user now (refresh tokens keep working)."""
        with self.lock:
            user = self.user_by_username(username)
            if user is None:
                return 0
            expired = 0
            for token in self.access_tokens.values():
                if token.user_id == user.id:
                    token.expires_at = self.clock() - 1
                    expired += 1
            return expired

    def authenticate(self, token: str) -> Principal | None:
        with self.lock:
            held = self.access_tokens.get(token)
            if held is None or held.revoked:
                return None
            if held.expires_at is not None and self.clock() >= held.expires_at:
                return None
            return Principal(held.user_id, held.scopes)

    # -- rate limits and faults ------------------------------------------------------------
    def window(self, endpoint: str, key: str, *, consume: bool) -> tuple[Window, bool]:
        """The rate-limit window of `endpoint` for `key`; with consume, count one call: (window, allowed)."""
        with self.lock:
            now = self.clock()
            limit = self.limits.get(endpoint, 1000)
            w = self.windows.get((endpoint, key))
            if w is None or now >= w.reset_at:
                w = Window(limit, limit, int(now) + WINDOW_S)
                self.windows[(endpoint, key)] = w
            if not consume:
                return w, w.remaining > 0
            if w.remaining <= 0:
                return w, False
            w.remaining -= 1
            return w, True

    def add_fault(self, status: int, count: int, reset_in_s: int, body: str | None = None) -> None:
        with self.lock:
            self.faults.append(Fault(status, count, reset_in_s, body))

    def take_fault(self) -> Fault | None:
        with self.lock:
            while self.faults and self.faults[0].count <= 0:
                self.faults.pop(0)
            if not self.faults:
                return None
            fault = self.faults[0]
            fault.count -= 1
            return fault

    def record_call(self, method: str, path: str, query: dict[str, str], status: int) -> None:
        with self.lock:
            self.calls.append({"method": method, "path": path, "query": query, "status": status})
            del self.calls[:-MAX_CALLS_KEPT]
