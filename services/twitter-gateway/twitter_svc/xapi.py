"""The X API as this service needs it: OAuth 2.0 with PKCE, reading mentions and searches, replies and DMs.

tweepy's `Client` does the requests; it blocks and hard-codes X's host, so every call runs in a worker
thread (`asyncio.to_thread`) and every session it uses carries `_RoutedAdapter`, which sends requests
for X's hosts to the configured base URL (the fake X in development and tests) with a timeout.

Rate limits are ours to keep: tweepy's `wait_on_rate_limit` sleeps in the thread and retries without
bound, so it stays off. Each response's `x-rate-limit-*` headers update a per-endpoint `RateState`;
while a known window is exhausted a call raises `XRateLimited` without reaching X. Server errors and
connection failures are retried with exponential backoff and full jitter, then raise `XUnavailable`.
Exception messages name the endpoint and X's status and error title, never a token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter
from tweepy.errors import Forbidden, HTTPException, TooManyRequests, TwitterServerError, Unauthorized

_X_HOSTS = frozenset({"api.twitter.com", "api.x.com"})
_TOKEN_URL = "https://api.x.com/2/oauth2/token"  # noqa: S105 - a URL, not a secret
_REVOKE_URL = "https://api.x.com/2/oauth2/revoke"
_TWEET_FIELDS = ["created_at", "author_id", "referenced_tweets", "conversation_id", "lang"]
_USER_FIELDS = ["username", "name"]
_DEFAULT_WAIT = timedelta(seconds=60)
_LONGEST_WAIT = timedelta(hours=24)  # X's longest window (daily posting caps); a reset beyond it is garbled
T = TypeVar("T")


@dataclass(frozen=True)
class XUser:
    id: str
    username: str
    name: str


@dataclass(frozen=True)
class Tweet:
    id: str
    text: str
    author_id: str
    created_at: datetime
    is_retweet: bool
    author_username: str | None


@dataclass(frozen=True)
class Page:
    tweets: list[Tweet]
    newest_id: str | None
    next_token: str | None


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scopes: list[str]

    def __repr__(self) -> str:  # tokens never reach a log line through a repr
        return f"TokenSet(expires_at={self.expires_at.isoformat()}, scopes={self.scopes})"


@dataclass(frozen=True)
class RateState:
    endpoint: str
    limit: int | None
    remaining: int | None
    reset_at: datetime | None


class XError(Exception):
    """Anything that went wrong talking to X; `kind` labels it in metrics."""

    kind = "error"

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class XRateLimited(XError):
    kind = "rate_limited"

    def __init__(self, message: str, *, endpoint: str, reset_at: datetime, status: int | None = 429) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.reset_at = reset_at


class XUnavailable(XError):
    kind = "unavailable"


class XAuthError(XError):
    kind = "auth"


class XBadResponse(XError):
    kind = "bad_response"


class XRejected(XError):
    """X refused the request itself (400, 404, 409, ...): retrying the same request will not help."""

    kind = "rejected"


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair."""
    verifier = secrets.token_urlsafe(64)  # 86 unreserved characters, within RFC 7636's 43-128
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _RoutedAdapter(HTTPAdapter):
    """Send requests meant for X's API hosts to `base_url`, and never without a timeout."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__()
        base = urlsplit(base_url.rstrip("/"))
        self._scheme, self._netloc, self._prefix = base.scheme, base.netloc, base.path
        self._timeout_s = timeout_s

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        if url.hostname in _X_HOSTS:
            request.url = urlunsplit((self._scheme, self._netloc, self._prefix + url.path, url.query, ""))
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout_s
        return super().send(request, *args, **kwargs)


def _route(session: requests.Session, base_url: str, timeout_s: float) -> requests.Session:
    adapter = _RoutedAdapter(base_url, timeout_s)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _int_header(headers: Any, name: str) -> int | None:
    try:
        return int(str(headers.get(name, "")).strip())
    except ValueError:
        return None


def _error_title(response: requests.Response | None) -> str:
    """X's short error label (never the request, never a token), for messages."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for key in ("error", "title"):
        value = body.get(key)
        if isinstance(value, str) and value.isprintable():
            return value[:60]
    return ""


def _raise_for_status(response: requests.Response) -> requests.Response:
    """The same errors tweepy raises, for the OAuth calls made without tweepy."""
    status = response.status_code
    if status == 400:
        raise tweepy.BadRequest(response)
    if status == 401:
        raise Unauthorized(response)
    if status == 403:
        raise Forbidden(response)
    if status == 404:
        raise tweepy.NotFound(response)
    if status == 429:
        raise TooManyRequests(response)
    if status >= 500:
        raise TwitterServerError(response)
    if not 200 <= status < 300:
        raise HTTPException(response)
    return response


def _json_object(response: requests.Response, endpoint: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise XBadResponse(
            f"{endpoint}: X answered {response.status_code} with malformed JSON", endpoint=endpoint
        ) from None
    if not isinstance(body, dict):
        raise XBadResponse(f"{endpoint}: X answered with JSON that is not an object", endpoint=endpoint)
    return body


def _str_field(obj: Any, key: str, endpoint: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise XBadResponse(f"{endpoint}: X's answer has no usable {key!r}", endpoint=endpoint)
    return value


class XApi:
    """One per process; safe to share between tasks."""

    def __init__(
        self,
        *,
        base_url: str,
        authorize_url: str,
        client_id: str,
        client_secret: str,
        bearer_token: str,
        account_token: str,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        timeout_s: float = 15.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name in ("tweepy", "tweepy.client"):
            logger = logging.getLogger(name)
            if logger.level < logging.INFO:  # at DEBUG tweepy logs the bearer token
                logger.setLevel(logging.INFO)
        self._base_url = base_url
        self._authorize_url = authorize_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._max_attempts = max(1, max_attempts)
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._app = self._client(bearer_token)
        self._account = self._client(account_token)
        self._oauth = _route(requests.Session(), base_url, timeout_s)
        self._rates: dict[str, RateState] = {}

    def _client(self, token: str) -> tweepy.Client:
        client = tweepy.Client(bearer_token=token, return_type=requests.Response, wait_on_rate_limit=False)
        _route(client.session, self._base_url, self._timeout_s)
        return client

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- OAuth 2.0 ------------------------------------------------------------------------------

    def authorization_url(self, *, redirect_uri: str, state: str, code_challenge: str, scopes: list[str]) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": redirect_uri,
                "scope": " ".join(scopes),
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self._authorize_url}?{query}"

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "client_id": self._client_id,
        }
        return await self._token("oauth2_token", form)

    async def refresh(self, refresh_token: str) -> TokenSet:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self._client_id}
        return await self._token("oauth2_refresh", form)

    async def revoke(self, token: str) -> None:
        form = {"token": token, "client_id": self._client_id}
        await self._call("oauth2_revoke", lambda: self._post_form(_REVOKE_URL, form), guard=False)

    def _post_form(self, url: str, form: dict[str, str]) -> requests.Response:
        auth = (self._client_id, self._client_secret) if self._client_secret else None
        return _raise_for_status(self._oauth.post(url, data=form, auth=auth))

    async def _token(self, endpoint: str, form: dict[str, str]) -> TokenSet:
        requested_at = self._now()
        response = await self._call(endpoint, lambda: self._post_form(_TOKEN_URL, form), guard=False)
        body = _json_object(response, endpoint)
        access = _str_field(body, "access_token", endpoint)
        refresh = body.get("refresh_token")
        expires_in = body.get("expires_in", 7200)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            raise XBadResponse(f"{endpoint}: X's answer has no usable 'expires_in'", endpoint=endpoint)
        scope = body.get("scope", "")
        return TokenSet(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=requested_at + timedelta(seconds=expires_in),
            scopes=scope.split() if isinstance(scope, str) else [],
        )

    # --- users -------------------------------------------------------------------------------------

    async def me(self, access_token: str) -> XUser:
        """The person the user token belongs to; their own rate window, so no shared guard."""
        client = self._client(access_token)
        try:
            response = await self._call(
                "users_me", lambda: client.get_me(user_auth=False, user_fields=_USER_FIELDS), guard=False
            )
        finally:
            client.session.close()
        return self._user(response, "users_me")

    async def account(self) -> XUser:
        response = await self._call(
            "account_me", lambda: self._account.get_me(user_auth=False, user_fields=_USER_FIELDS)
        )
        return self._user(response, "account_me")

    @staticmethod
    def _user(response: requests.Response, endpoint: str) -> XUser:
        data = _json_object(response, endpoint).get("data")
        return XUser(
            id=_str_field(data, "id", endpoint),
            username=_str_field(data, "username", endpoint),
            name=str(data.get("name") or "") if isinstance(data, dict) else "",
        )

    # --- reading -----------------------------------------------------------------------------------

    async def mentions(
        self, user_id: str, *, since_id: str | None, pagination_token: str | None = None, max_results: int = 100
    ) -> Page:
        params = self._read_params(since_id, max_results, low=5)
        if pagination_token:
            params["pagination_token"] = pagination_token
        response = await self._call("mentions", lambda: self._app.get_users_mentions(user_id, **params))
        return self._page(response, "mentions")

    async def search_recent(
        self, query: str, *, since_id: str | None, next_token: str | None = None, max_results: int = 100
    ) -> Page:
        params = self._read_params(since_id, max_results, low=10)
        if next_token:
            params["next_token"] = next_token
        response = await self._call("search_recent", lambda: self._app.search_recent_tweets(query, **params))
        return self._page(response, "search_recent")

    async def lookup_tweets(self, ids: list[str]) -> tuple[set[str], set[str]]:
        """(found, deleted or not found); an id in neither could not be seen (protected, suspended)."""
        wanted = list(dict.fromkeys(str(i) for i in ids))
        if not wanted:
            return set(), set()
        if len(wanted) > 100:
            raise ValueError("look up at most 100 tweets at a time")
        response = await self._call(
            "tweets_lookup", lambda: self._app.get_tweets(wanted, tweet_fields=["id"], user_auth=False)
        )
        body = _json_object(response, "tweets_lookup")
        data = body.get("data", [])
        errors = body.get("errors", [])
        if not isinstance(data, list) or not isinstance(errors, list):
            raise XBadResponse("tweets_lookup: X's answer is not a list of tweets", endpoint="tweets_lookup")
        asked = set(wanted)
        found = {_str_field(t, "id", "tweets_lookup") for t in data} & asked
        missing: set[str] = set()
        for error in errors:
            if not isinstance(error, dict):
                raise XBadResponse("tweets_lookup: X's errors are not objects", endpoint="tweets_lookup")
            if str(error.get("type", "")).endswith("/resource-not-found"):
                resource = error.get("resource_id") or error.get("value")
                if resource is not None and str(resource) in asked:
                    missing.add(str(resource))
            # Other problems (not authorised for a protected tweet, ...) say nothing about deletion.
        return found, missing - found

    @staticmethod
    def _read_params(since_id: str | None, max_results: int, *, low: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "max_results": min(100, max(low, max_results)),
            "expansions": ["author_id"],
            "tweet_fields": _TWEET_FIELDS,
            "user_fields": _USER_FIELDS,
            "user_auth": False,
        }
        if since_id:
            params["since_id"] = since_id
        return params

    @staticmethod
    def _page(response: requests.Response, endpoint: str) -> Page:
        body = _json_object(response, endpoint)
        data = body.get("data", [])
        includes = body.get("includes", {})
        meta = body.get("meta", {})
        if not isinstance(data, list) or not isinstance(includes, dict) or not isinstance(meta, dict):
            raise XBadResponse(f"{endpoint}: X's answer does not have the shape of a page", endpoint=endpoint)
        users = includes.get("users", [])
        usernames = {
            str(u.get("id")): u["username"]
            for u in (users if isinstance(users, list) else [])
            if isinstance(u, dict) and isinstance(u.get("username"), str)
        }
        tweets = []
        for item in data:
            author = _str_field(item, "author_id", endpoint)
            try:
                created_at = datetime.fromisoformat(_str_field(item, "created_at", endpoint))
            except ValueError:
                raise XBadResponse(
                    f"{endpoint}: X's answer has an unreadable 'created_at'", endpoint=endpoint
                ) from None
            if created_at.tzinfo is None:
                created_at = created_at.replace(tzinfo=UTC)
            refs = item.get("referenced_tweets") or []
            text = item.get("text")
            if not isinstance(text, str):
                raise XBadResponse(f"{endpoint}: X's answer has a tweet without text", endpoint=endpoint)
            tweets.append(
                Tweet(
                    id=_str_field(item, "id", endpoint),
                    text=text,
                    author_id=author,
                    created_at=created_at,
                    is_retweet=isinstance(refs, list)
                    and any(isinstance(r, dict) and r.get("type") == "retweeted" for r in refs),
                    author_username=usernames.get(author),
                )
            )
        newest = meta.get("newest_id")
        next_token = meta.get("next_token")
        return Page(
            tweets=tweets,
            newest_id=str(newest) if newest else (tweets[0].id if tweets else None),  # X lists newest first
            next_token=str(next_token) if next_token else None,
        )

    # --- writing -----------------------------------------------------------------------------------

    async def reply(self, *, in_reply_to: str, text: str) -> str:
        response = await self._call(
            "create_tweet",
            lambda: self._account.create_tweet(text=text, in_reply_to_tweet_id=in_reply_to, user_auth=False),
        )
        return _str_field(_json_object(response, "create_tweet").get("data"), "id", "create_tweet")

    async def send_dm(self, *, participant_id: str, text: str) -> str:
        response = await self._call(
            "send_dm",
            lambda: self._account.create_direct_message(participant_id=participant_id, text=text, user_auth=False),
        )
        return _str_field(_json_object(response, "send_dm").get("data"), "dm_event_id", "send_dm")

    # --- rate limits, retries, errors ---------------------------------------------------------------

    def rate_states(self) -> list[RateState]:
        return sorted(self._rates.values(), key=lambda r: r.endpoint)

    def _record(self, endpoint: str, response: requests.Response | None) -> None:
        if response is None:
            return
        headers = response.headers
        limit = _int_header(headers, "x-rate-limit-limit")
        remaining = _int_header(headers, "x-rate-limit-remaining")
        reset = _int_header(headers, "x-rate-limit-reset")
        if limit is None and remaining is None and reset is None:
            return
        self._rates[endpoint] = RateState(endpoint, limit, remaining, self._reset_time(reset))

    def _reset_time(self, reset: int | None) -> datetime | None:
        if reset is None:
            return None
        now = self._now()
        try:
            at = datetime.fromtimestamp(reset, UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return at if now < at <= now + _LONGEST_WAIT else None

    def _guard(self, endpoint: str) -> None:
        state = self._rates.get(endpoint)
        if state and state.remaining == 0 and state.reset_at and state.reset_at > self._now():
            raise XRateLimited(
                f"{endpoint}: rate limit window exhausted until {state.reset_at.isoformat()}",
                endpoint=endpoint,
                reset_at=state.reset_at,
                status=None,
            )

    async def _call(self, endpoint: str, send: Callable[[], T], *, guard: bool = True) -> T:
        """Run one blocking request in a thread; retry what may pass on retry; turn failures into XErrors."""
        last = "no attempt"
        for attempt in range(1, self._max_attempts + 1):
            if guard:
                self._guard(endpoint)
            try:
                result = await asyncio.to_thread(send)
            except TooManyRequests as exc:
                self._record(endpoint, exc.response)
                reset_at = self._reset_time(_int_header(exc.response.headers, "x-rate-limit-reset"))
                reset_at = reset_at or self._now() + _DEFAULT_WAIT
                limit = _int_header(exc.response.headers, "x-rate-limit-limit")
                self._rates[endpoint] = RateState(endpoint, limit, 0, reset_at)
                raise XRateLimited(
                    f"{endpoint}: X answered 429 (rate limited) until {reset_at.isoformat()}",
                    endpoint=endpoint,
                    reset_at=reset_at,
                ) from None
            except (Unauthorized, Forbidden) as exc:
                self._record(endpoint, exc.response)
                status = exc.response.status_code
                raise XAuthError(
                    f"{endpoint}: X answered {status} ({_error_title(exc.response) or 'not allowed'})",
                    endpoint=endpoint,
                    status=status,
                ) from None
            except TwitterServerError as exc:
                self._record(endpoint, exc.response)
                last = f"X answered {exc.response.status_code}"
            except tweepy.BadRequest as exc:
                self._record(endpoint, exc.response)
                title = _error_title(exc.response)
                status = exc.response.status_code
                if endpoint.startswith("oauth2_") and title in {
                    "invalid_grant",
                    "invalid_client",
                    "unauthorized_client",
                }:
                    raise XAuthError(
                        f"{endpoint}: X answered {status} ({title})", endpoint=endpoint, status=status
                    ) from None
                raise XRejected(
                    f"{endpoint}: X answered {status} ({title or 'bad request'})", endpoint=endpoint, status=status
                ) from None
            except HTTPException as exc:
                self._record(endpoint, exc.response)
                status = exc.response.status_code
                title = _error_title(exc.response) or "refused"
                raise XRejected(
                    f"{endpoint}: X answered {status} ({title})", endpoint=endpoint, status=status
                ) from None
            except (AttributeError, TypeError, ValueError):
                # tweepy reads error bodies as JSON objects; anything else breaks inside it.
                raise XBadResponse(f"{endpoint}: X answered with a malformed body", endpoint=endpoint) from None
            except requests.exceptions.Timeout:
                last = "timed out"
            except requests.exceptions.RequestException as exc:
                last = f"could not connect ({type(exc).__name__})"
            else:
                if isinstance(result, requests.Response):
                    self._record(endpoint, result)
                return result
            if attempt < self._max_attempts:
                ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (attempt - 1))
                await self._sleep(self._jitter() * ceiling)
        raise XUnavailable(f"{endpoint}: {last} after {self._max_attempts} attempts", endpoint=endpoint)
