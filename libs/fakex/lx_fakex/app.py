"""The fake X over HTTP: X API v2 routes under /2/, the OAuth 2.0 consent page, and /_fake/ controls."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from lx_fakex import pages
from lx_fakex.query import QueryError, TweetView, parse_query
from lx_fakex.shapes import (
    FORBIDDEN,
    OTHER_FIELD_PARAMS,
    TOO_MANY,
    TWEET_EXPANSIONS,
    TWEET_FIELDS,
    UNAUTHORIZED,
    UNSUPPORTED_AUTH,
    USER_EXPANSIONS,
    USER_FIELDS,
    includes_for,
    invalid_request,
    not_found,
    server_error,
    tweet_json,
    user_json,
)
from lx_fakex.state import (
    ALL_SCOPES,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeXState,
    OAuthError,
    Principal,
    Tweet,
    Window,
    valid_username,
    x_time,
)

_ID_RE = re.compile(r"^[0-9]{1,19}$")
_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_COMMON_PARAMS = ("expansions", "tweet.fields", "user.fields", *OTHER_FIELD_PARAMS)
_TIMELINE_PARAMS = ("since_id", "until_id", "max_results", "start_time", "end_time", *_COMMON_PARAMS)
_SEARCH_WINDOW = timedelta(days=7)
_READ_SCOPES = ("tweet.read", "users.read")


class ApiError(Exception):
    """Answer this JSON body with this status (and the rate-limit headers known so far)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _rate_headers(w: Window) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(w.limit),
        "x-rate-limit-remaining": str(max(w.remaining, 0)),
        "x-rate-limit-reset": str(w.reset_at),
    }


def endpoint_of(method: str, path: str) -> str | None:
    """The rate-limit bucket of an API call, named after the endpoint."""
    if path == "/2/oauth2/token":
        return "oauth2_token"
    if path == "/2/oauth2/revoke":
        return "oauth2_revoke"
    if method == "GET" and path == "/2/users/me":
        return "users_me"
    if method == "GET" and re.fullmatch(r"/2/users/[^/]+/mentions", path):
        return "mentions"
    if method == "GET" and path == "/2/tweets/search/recent":
        return "search_recent"
    if method == "GET" and re.fullmatch(r"/2/tweets(/[^/]+)?", path):
        return "tweets_lookup"
    if method == "POST" and path == "/2/tweets":
        return "post_tweets"
    if method == "POST" and re.fullmatch(r"/2/dm_conversations/with/[^/]+/messages", path):
        return "dm_messages"
    return None


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def _csv(request: Request, name: str, allowed: frozenset[str], headers: dict[str, str]) -> frozenset[str]:
    raw = request.query_params.get(name)
    if raw is None:
        return frozenset()
    values = [v for v in raw.split(",") if v]
    for v in values:
        if v not in allowed:
            raise ApiError(
                400,
                invalid_request(
                    f"The `{name}` query parameter value [{v}] is not one of [{','.join(sorted(allowed))}]", name, v
                ),
                headers,
            )
    return frozenset(values)


def _only_params(request: Request, allowed: tuple[str, ...], headers: dict[str, str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise ApiError(
                400,
                invalid_request(f"The query parameter [{name}] is not one of [{','.join(allowed)}]", name),
                headers,
            )


def _id_param(request: Request, name: str, headers: dict[str, str]) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not _ID_RE.match(raw):
        raise ApiError(
            400,
            invalid_request(f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$", name, raw),
            headers,
        )
    return int(raw)


def _max_results(request: Request, low: int, high: int, default: int, headers: dict[str, str]) -> int:
    raw = request.query_params.get("max_results")
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(
            400,
            invalid_request(
                f"The `max_results` query parameter value [{raw}] is not between {low} and {high}", "max_results", raw
            ),
            headers,
        )
    return int(raw)


def _time_param(request: Request, name: str, headers: dict[str, str]) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise ValueError(raw)
        return moment
    except ValueError:
        raise ApiError(
            400,
            invalid_request(f"Invalid '{name}':'{raw}'. '{name}' must be a valid RFC 3339 date-time", name, raw),
            headers,
        ) from None


def _encode_token(until_id: str) -> str:
    return base64.b32encode(f"fx:{until_id}".encode()).decode().rstrip("=").lower()


def _decode_token(request: Request, name: str, headers: dict[str, str]) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        padded = raw.upper() + "=" * (-len(raw) % 8)
        prefix, _, until = base64.b32decode(padded).decode().partition(":")
        if prefix != "fx" or not _ID_RE.match(until):
            raise ValueError(raw)
        return int(until)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            400, invalid_request(f"The `{name}` query parameter value [{raw}] is not valid", name, raw), headers
        ) from None


def _client_id(request: Request, form: dict[str, str]) -> str:
    """Authenticate the client: HTTP Basic id:secret (confidential client) or a client_id field (public)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(credentials.strip()).decode().partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Missing valid authorization header", 401) from None
        if unquote(client_id) != CLIENT_ID or unquote(secret) != CLIENT_SECRET:
            raise OAuthError("invalid_client", "Missing valid authorization header", 401)
        return CLIENT_ID
    if form.get("client_id") == CLIENT_ID:
        return CLIENT_ID
    raise OAuthError("invalid_client", "Missing valid authorization header", 401)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode(errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"Missing required parameter [{name}].")
    return value


def _authorize_problems(params: dict[str, str], state: FakeXState) -> list[str]:
    problems = []
    if params.get("response_type") != "code":
        problems.append("response_type must be code")
    if params.get("client_id") != CLIENT_ID:
        problems.append("unknown client_id")
    if not state.redirect_allowed(params.get("redirect_uri", "")):
        problems.append("redirect_uri is not registered for this app")
    scopes = params.get("scope", "").split()
    if not scopes or not set(scopes) <= ALL_SCOPES:
        problems.append("scope must name one or more known scopes, separated by spaces")
    if not params.get("state") or len(params["state"]) > 500:
        problems.append("state is required (at most 500 characters)")
    if not _CHALLENGE_RE.match(params.get("code_challenge", "")):
        problems.append("code_challenge must be 43 to 128 characters (base64url)")
    if params.get("code_challenge_method") not in {"S256", "plain"}:
        problems.append("code_challenge_method must be S256 (or plain)")
    return problems


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _body_json(raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400, invalid_request("Request body is not valid JSON"), headers) from None
    if not isinstance(body, dict):
        raise ApiError(400, invalid_request("$: object expected"), headers)
    return body


def _control_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, {"detail": "the body must be a JSON object"}) from None
    if not isinstance(body, dict):
        raise ApiError(400, {"detail": "the body must be a JSON object"})
    return body


def create_app(state: FakeXState | None = None) -> FastAPI:  # noqa: C901 - one closure per route
    """The fake X as an ASGI app over `state` (a fresh one when not given)."""
    st = state or FakeXState()
    app = FastAPI(title="Fake X API v2 (development and tests only)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.fake_x = st

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc.body, exc.status, exc.headers)

    @app.exception_handler(OAuthError)
    async def _oauth_error(_: Request, exc: OAuthError) -> JSONResponse:
        return _json({"error": exc.error, "error_description": exc.description}, exc.status)

    @app.middleware("http")
    async def _faults_and_calls(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if not path.startswith("/2/"):
            return await call_next(request)
        endpoint = endpoint_of(request.method, path) or "other"
        fault = st.take_fault()
        response: Response
        if fault is not None:
            token = _bearer(request)
            principal = st.authenticate(token) if token else None
            window, _ = st.window(endpoint, principal.rate_key if principal else "anonymous", consume=False)
            headers = _rate_headers(window)
            if fault.body is not None:
                response = Response(fault.body, fault.status, media_type="application/json")
            elif fault.status == 429:
                headers["x-rate-limit-remaining"] = "0"
                headers["x-rate-limit-reset"] = str(int(st.clock()) + fault.reset_in_s)
                response = _json(TOO_MANY, 429, headers)
            else:
                response = _json(server_error(fault.status), fault.status, headers)
        else:
            response = await call_next(request)
        st.record_call(request.method, path, dict(request.query_params), response.status_code)
        return response

    def gate(
        request: Request, endpoint: str, *, user_only: bool, scopes: tuple[str, ...]
    ) -> tuple[Principal, dict[str, str]]:
        """Authenticate, authorise and count one call against the endpoint's window."""
        token = _bearer(request)
        principal = st.authenticate(token) if token else None
        if principal is None:
            window, _ = st.window(endpoint, "anonymous", consume=False)
            raise ApiError(401, UNAUTHORIZED, _rate_headers(window))
        if user_only and principal.user_id is None:
            window, _ = st.window(endpoint, principal.rate_key, consume=False)
            raise ApiError(403, UNSUPPORTED_AUTH, _rate_headers(window))
        if principal.user_id is not None and not set(scopes) <= principal.scopes:
            window, _ = st.window(endpoint, principal.rate_key, consume=False)
            raise ApiError(403, FORBIDDEN, _rate_headers(window))
        window, allowed = st.window(endpoint, principal.rate_key, consume=True)
        headers = _rate_headers(window)
        if not allowed:
            raise ApiError(429, TOO_MANY, headers)
        return principal, headers

    def view(t: Tweet) -> TweetView:
        original = st.tweets.get(t.retweet_of) if t.retweet_of else None
        reply_user = st.users.get(t.in_reply_to_user_id) if t.in_reply_to_user_id else None
        return TweetView(
            text=t.text,
            author_username=st.users[t.author_id].username,
            hashtags=frozenset(tag.lower() for _, _, tag in t.hashtags),
            mentions=frozenset(u.lower() for _, _, u in t.mentions),
            is_retweet=t.retweet_of is not None,
            is_reply=t.in_reply_to_tweet_id is not None,
            in_reply_to_username=reply_user.username if reply_user else None,
            conversation_id=t.conversation_id,
            retweet_of_author=st.users[original.author_id].username if original else None,
        )

    def timeline(
        request: Request,
        headers: dict[str, str],
        candidates: list[Tweet],
        *,
        cursor_param: str,
        low: int,
        default: int,
    ) -> dict[str, Any]:
        """One page, newest first, of `candidates` after since_id/until_id/time filters."""
        since_id = _id_param(request, "since_id", headers)
        until_id = _id_param(request, "until_id", headers)
        max_results = _max_results(request, low, 100, default, headers)
        cursor = _decode_token(request, cursor_param, headers)
        start = _time_param(request, "start_time", headers)
        end = _time_param(request, "end_time", headers)
        expansions = _csv(request, "expansions", TWEET_EXPANSIONS, headers)
        tweet_fields = _csv(request, "tweet.fields", TWEET_FIELDS, headers)
        user_fields = _csv(request, "user.fields", USER_FIELDS, headers)
        matching = [
            t
            for t in candidates
            if (since_id is None or int(t.id) > since_id)
            and (until_id is None or int(t.id) < until_id)
            and (cursor is None or int(t.id) < cursor)
            and (start is None or t.created_at >= start)
            and (end is None or t.created_at < end)
        ]
        page = matching[:max_results]
        body: dict[str, Any] = {}
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            body["data"] = [tweet_json(st, t, tweet_fields) for t in page]
            includes = includes_for(st, page, expansions, tweet_fields, user_fields)
            if includes:
                body["includes"] = includes
            meta = {"newest_id": page[0].id, "oldest_id": page[-1].id, "result_count": len(page)}
            if len(matching) > len(page):
                meta["next_token"] = _encode_token(page[-1].id)
        body["meta"] = meta
        return body

    # -- OAuth 2.0 -------------------------------------------------------------------------
    @app.get("/i/oauth2/authorize", response_class=HTMLResponse)
    async def authorize_page(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        problems = _authorize_problems(params, st)
        if problems:
            return HTMLResponse(pages.error_page(problems), status_code=400)
        return HTMLResponse(pages.consent_page(params))

    @app.post("/i/oauth2/authorize", response_model=None)
    async def authorize_decision(request: Request) -> Response:
        form = await _form(request)
        problems = _authorize_problems(form, st)
        if problems:
            return HTMLResponse(pages.error_page(problems), status_code=400)
        if form.get("decision") != "allow":
            return RedirectResponse(
                _with_query(form["redirect_uri"], {"error": "access_denied", "state": form["state"]}), 302
            )
        username = form.get("username", "").strip().lstrip("@")
        if not valid_username(username):
            return HTMLResponse(pages.consent_page(form, error="Enter a username: 1 to 15 letters, digits or _"), 400)
        user, _ = st.ensure_user(username, form.get("name", "").strip() or None)
        code = st.issue_code(
            client_id=form["client_id"],
            redirect_uri=form["redirect_uri"],
            code_challenge=form["code_challenge"],
            code_challenge_method=form["code_challenge_method"],
            scopes=frozenset(form["scope"].split()),
            user_id=user.id,
        )
        return RedirectResponse(_with_query(form["redirect_uri"], {"state": form["state"], "code": code}), 302)

    @app.post("/2/oauth2/token")
    async def token(request: Request) -> JSONResponse:
        form = await _form(request)
        client_id = _client_id(request, form)
        window, allowed = st.window("oauth2_token", f"client:{client_id}", consume=True)
        if not allowed:
            raise ApiError(429, TOO_MANY, _rate_headers(window))
        grant_type = _required(form, "grant_type")
        if grant_type == "authorization_code":
            body = st.exchange_code(
                client_id=client_id,
                code=_required(form, "code"),
                redirect_uri=_required(form, "redirect_uri"),
                code_verifier=_required(form, "code_verifier"),
            )
        elif grant_type == "refresh_token":
            body = st.refresh(client_id=client_id, refresh_token=_required(form, "refresh_token"))
        else:
            raise OAuthError("unsupported_grant_type", "Value passed for the grant type was invalid.")
        return _json(body, 200, {**_rate_headers(window), "cache-control": "no-store"})

    @app.post("/2/oauth2/revoke")
    async def revoke(request: Request) -> JSONResponse:
        form = await _form(request)
        client_id = _client_id(request, form)
        window, allowed = st.window("oauth2_revoke", f"client:{client_id}", consume=True)
        if not allowed:
            raise ApiError(429, TOO_MANY, _rate_headers(window))
        st.revoke(_required(form, "token"))
        return _json({"revoked": True}, 200, _rate_headers(window))

    # -- API v2 ----------------------------------------------------------------------------
    @app.get("/2/users/me")
    async def users_me(request: Request) -> JSONResponse:
        principal, headers = gate(request, "users_me", user_only=True, scopes=_READ_SCOPES)
        _only_params(request, ("expansions", "tweet.fields", "user.fields"), headers)
        _csv(request, "expansions", USER_EXPANSIONS, headers)
        _csv(request, "tweet.fields", TWEET_FIELDS, headers)
        user_fields = _csv(request, "user.fields", USER_FIELDS, headers)
        assert principal.user_id is not None
        return _json({"data": user_json(st.users[principal.user_id], user_fields)}, 200, headers)

    @app.get("/2/users/{user_id}/mentions")
    async def mentions(request: Request, user_id: str) -> JSONResponse:
        _, headers = gate(request, "mentions", user_only=False, scopes=_READ_SCOPES)
        _only_params(request, (*_TIMELINE_PARAMS, "pagination_token"), headers)
        if not _ID_RE.match(user_id):
            raise ApiError(
                400,
                invalid_request(
                    f"The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$", "id", user_id
                ),
                headers,
            )
        with st.lock:
            user = st.users.get(user_id)
            if user is None:
                return _json({"errors": [not_found("user", "id", user_id)]}, 200, headers)
            wanted = user.username.lower()
            candidates = [
                t for t in st.live_tweets_newest_first() if any(u.lower() == wanted for _, _, u in t.mentions)
            ]
            body = timeline(request, headers, candidates, cursor_param="pagination_token", low=5, default=10)
        return _json(body, 200, headers)

    @app.get("/2/tweets/search/recent")
    async def search_recent(request: Request) -> JSONResponse:
        _, headers = gate(request, "search_recent", user_only=False, scopes=_READ_SCOPES)
        _only_params(request, ("query", "next_token", "pagination_token", "sort_order", *_TIMELINE_PARAMS), headers)
        raw = request.query_params.get("query", "")
        try:
            node = parse_query(raw)
        except QueryError as exc:
            raise ApiError(400, invalid_request(str(exc), "query", raw), headers) from None
        if request.query_params.get("sort_order", "recency") not in {"recency", "relevancy"}:
            value = request.query_params["sort_order"]
            raise ApiError(
                400,
                invalid_request(
                    f"The `sort_order` query parameter value [{value}] is not one of [recency,relevancy]",
                    "sort_order",
                    value,
                ),
                headers,
            )
        cursor_param = "pagination_token" if "pagination_token" in request.query_params else "next_token"
        with st.lock:
            oldest = st.now() - _SEARCH_WINDOW
            candidates = [t for t in st.live_tweets_newest_first() if t.created_at >= oldest and node.matches(view(t))]
            body = timeline(request, headers, candidates, cursor_param=cursor_param, low=10, default=10)
        return _json(body, 200, headers)

    def lookup(request: Request, ids: list[str], headers: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
        expansions = _csv(request, "expansions", TWEET_EXPANSIONS, headers)
        tweet_fields = _csv(request, "tweet.fields", TWEET_FIELDS, headers)
        user_fields = _csv(request, "user.fields", USER_FIELDS, headers)
        with st.lock:
            found = [st.tweets[i] for i in ids if i in st.tweets and not st.tweets[i].deleted]
            missing = [i for i in ids if i not in st.tweets or st.tweets[i].deleted]
            body: dict[str, Any] = {}
            if found:
                body["data"] = [tweet_json(st, t, tweet_fields) for t in found]
                includes = includes_for(st, found, expansions, tweet_fields, user_fields)
                if includes:
                    body["includes"] = includes
        return body, missing

    @app.get("/2/tweets")
    async def tweets_lookup(request: Request) -> JSONResponse:
        _, headers = gate(request, "tweets_lookup", user_only=False, scopes=_READ_SCOPES)
        _only_params(request, ("ids", *_COMMON_PARAMS), headers)
        raw = request.query_params.get("ids", "")
        ids = list(dict.fromkeys(v for v in raw.split(",") if v))
        if not 1 <= len(ids) <= 100:
            raise ApiError(
                400,
                invalid_request(
                    f"The number of values in the `ids` query parameter list [{len(ids)}] is not between 1 and 100",
                    "ids",
                    raw,
                ),
                headers,
            )
        for i in ids:
            if not _ID_RE.match(i):
                raise ApiError(
                    400,
                    invalid_request(f"The `ids` query parameter value [{i}] does not match ^[0-9]{{1,19}}$", "ids", i),
                    headers,
                )
        body, missing = lookup(request, ids, headers)
        if missing:
            body["errors"] = [
                {**not_found("tweet", "ids", i), "detail": f"Could not find tweet with ids: [{i}]."} for i in missing
            ]
        return _json(body, 200, headers)

    @app.get("/2/tweets/{tweet_id}")
    async def tweet_by_id(request: Request, tweet_id: str) -> JSONResponse:
        _, headers = gate(request, "tweets_lookup", user_only=False, scopes=_READ_SCOPES)
        _only_params(request, _COMMON_PARAMS, headers)
        if not _ID_RE.match(tweet_id):
            raise ApiError(
                400,
                invalid_request(
                    f"The `id` query parameter value [{tweet_id}] does not match ^[0-9]{{1,19}}$", "id", tweet_id
                ),
                headers,
            )
        body, missing = lookup(request, [tweet_id], headers)
        if missing:
            return _json({"errors": [not_found("tweet", "id", tweet_id)]}, 200, headers)
        return _json({**body, "data": body["data"][0]}, 200, headers)

    @app.post("/2/tweets")
    async def post_tweet(request: Request) -> JSONResponse:
        principal, headers = gate(
            request, "post_tweets", user_only=True, scopes=("tweet.read", "tweet.write", "users.read")
        )
        body = _body_json(await request.body(), headers)
        allowed = {"text", "reply", "quote_tweet_id", "media", "poll", "reply_settings", "for_super_followers_only",
                   "direct_message_deep_link", "geo", "nullcast", "card_uri", "community_id", "made_with_ai",
                   "paid_partnership", "share_with_followers"}  # fmt: skip
        for key in body:
            if key not in allowed:
                raise ApiError(
                    400,
                    invalid_request(
                        f"$.{key}: is not defined in the schema and the schema does not allow additional properties"
                    ),
                    headers,
                )
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, invalid_request("$.text: a non-empty string is required"), headers)
        if _weighted_length(text) > 280:
            raise ApiError(400, invalid_request("Your Tweet text is too long."), headers)
        reply_to: str | None = None
        reply = body.get("reply")
        if reply is not None:
            if not isinstance(reply, dict) or not isinstance(reply.get("in_reply_to_tweet_id"), str):
                raise ApiError(400, invalid_request("$.reply.in_reply_to_tweet_id: string expected"), headers)
            reply_to = reply["in_reply_to_tweet_id"]
        assert principal.user_id is not None
        with st.lock:
            author = st.users[principal.user_id]
            try:
                tweet = st.add_tweet(username=author.username, text=text, in_reply_to=reply_to, through_api=True)
            except KeyError:
                raise ApiError(
                    403,
                    {
                        "detail": "You attempted to reply to a Tweet that is deleted or not visible to you.",
                        "type": "about:blank",
                        "title": "Forbidden",
                        "status": 403,
                    },
                    headers,
                ) from None
        return _json({"data": {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}}, 201, headers)

    @app.post("/2/dm_conversations/with/{participant_id}/messages")
    async def send_dm(request: Request, participant_id: str) -> JSONResponse:
        principal, headers = gate(
            request, "dm_messages", user_only=True, scopes=("dm.read", "dm.write", "tweet.read", "users.read")
        )
        body = _body_json(await request.body(), headers)
        if not _ID_RE.match(participant_id) or participant_id not in st.users:
            raise ApiError(
                400,
                invalid_request(
                    f"The `participant_id` query parameter value [{participant_id}] is not a user you can message",
                    "participant_id",
                    participant_id,
                ),
                headers,
            )
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, invalid_request("$.text: a non-empty string is required"), headers)
        if len(text) > 10_000:
            raise ApiError(400, invalid_request("$.text: at most 10000 characters"), headers)
        assert principal.user_id is not None
        dm = st.send_dm(sender_id=principal.user_id, participant_id=participant_id, text=text)
        return _json(
            {"data": {"dm_conversation_id": dm.dm_conversation_id, "dm_event_id": dm.dm_event_id}}, 201, headers
        )

    # -- controls (development and tests only) ---------------------------------------------
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_fake/users")
    async def fake_user(request: Request) -> JSONResponse:
        body = _control_json(await request.body())
        username, name = body.get("username"), body.get("name")
        if not isinstance(username, str) or not valid_username(username.lstrip("@")):
            raise ApiError(400, {"detail": "username: 1 to 15 letters, digits or underscores"})
        if name is not None and (not isinstance(name, str) or not 1 <= len(name.strip()) <= 50):
            raise ApiError(400, {"detail": "name: 1 to 50 characters"})
        user, created = st.ensure_user(username.lstrip("@"), name.strip() if name else None)
        return _json({"data": user_json(user, USER_FIELDS)}, 201 if created else 200)

    @app.post("/_fake/tweets")
    async def fake_tweet(request: Request) -> JSONResponse:
        body = _control_json(await request.body())
        username, text = body.get("username"), body.get("text", "")
        retweet_of, in_reply_to = body.get("retweet_of"), body.get("in_reply_to")
        if not isinstance(username, str) or not valid_username(username.lstrip("@")):
            raise ApiError(400, {"detail": "username: 1 to 15 letters, digits or underscores"})
        if not isinstance(text, str) or (not text.strip() and retweet_of is None):
            raise ApiError(400, {"detail": "text: a non-empty string (or retweet_of)"})
        for name, value in (("retweet_of", retweet_of), ("in_reply_to", in_reply_to)):
            if value is not None and not (isinstance(value, str) and _ID_RE.match(value)):
                raise ApiError(400, {"detail": f"{name}: a tweet id (a string of digits)"})
        with st.lock:
            try:
                tweet = st.add_tweet(
                    username=username.lstrip("@"), text=text, retweet_of=retweet_of, in_reply_to=in_reply_to
                )
            except KeyError as exc:
                raise ApiError(404, {"detail": f"no tweet {exc.args[0]}"}) from None
            author = st.users[tweet.author_id]
            return _json({"data": tweet_json(st, tweet, TWEET_FIELDS), "includes": {"users": [user_json(author)]}}, 201)

    @app.delete("/_fake/tweets/{tweet_id}")
    async def fake_delete(tweet_id: str) -> Response:
        if not st.delete_tweet(tweet_id):
            raise ApiError(404, {"detail": f"no tweet {tweet_id}"})
        return Response(status_code=204)

    @app.post("/_fake/faults")
    async def fake_faults(request: Request) -> JSONResponse:
        body = _control_json(await request.body())
        status, count, reset_in_s = body.get("status"), body.get("count", 1), body.get("reset_in_s", 60)
        raw = body.get("body")
        if raw is not None and (not isinstance(raw, str) or not isinstance(status, int) or not 200 <= status <= 599):
            raise ApiError(400, {"detail": "body: a string, with a status 200-599"})
        if not isinstance(status, int) or (raw is None and not (status == 429 or 500 <= status <= 599)):
            raise ApiError(400, {"detail": "status: 429 or 500-599 (any status with a raw `body`)"})
        if not isinstance(count, int) or count < 1 or not isinstance(reset_in_s, int) or reset_in_s < 0:
            raise ApiError(400, {"detail": "count: a positive integer; reset_in_s: a non-negative integer"})
        st.add_fault(status, count, reset_in_s, raw)
        return _json({"status": status, "count": count, "reset_in_s": reset_in_s}, 201)

    @app.post("/_fake/expire-tokens")
    async def fake_expire(request: Request) -> JSONResponse:
        body = _control_json(await request.body())
        username = body.get("username")
        if not isinstance(username, str) or st.user_by_username(username.lstrip("@")) is None:
            raise ApiError(404, {"detail": "no such user"})
        return _json({"expired": st.expire_tokens(username.lstrip("@"))})

    @app.put("/_fake/rate-limits")
    async def fake_limits(request: Request) -> JSONResponse:
        body = _control_json(await request.body())
        with st.lock:
            for endpoint, limit in body.items():
                if endpoint not in st.limits or not isinstance(limit, int) or limit < 0:
                    raise ApiError(400, {"detail": f"{endpoint}: one of {sorted(st.limits)}, with a limit >= 0"})
            for endpoint, limit in body.items():
                st.limits[endpoint] = limit
                for key in [k for k in st.windows if k[0] == endpoint]:
                    del st.windows[key]
            return _json({"limits": st.limits})

    @app.get("/_fake/outbox")
    async def fake_outbox() -> JSONResponse:
        with st.lock:
            tweets = [tweet_json(st, t, TWEET_FIELDS) for t in st.tweets.values() if t.posted_through_api]
            dms = [
                {
                    "dm_event_id": d.dm_event_id,
                    "dm_conversation_id": d.dm_conversation_id,
                    "sender_id": d.sender_id,
                    "participant_id": d.participant_id,
                    "text": d.text,
                    "created_at": x_time(d.created_at),
                }
                for d in st.dms
            ]
        return _json({"tweets": tweets, "dms": dms})

    @app.get("/_fake/calls")
    async def fake_calls() -> JSONResponse:
        with st.lock:
            return _json(list(st.calls))

    @app.post("/_fake/reset")
    async def fake_reset() -> Response:
        st.reset()
        return Response(status_code=204)

    return app


_URL_RE = re.compile(r"https?://\S+")


def _weighted_length(text: str) -> int:
    """X counts every link as 23 characters."""
    return len(_URL_RE.sub("x" * 23, text))
