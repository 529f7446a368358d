"""The X client against the fake X over real loopback HTTP: OAuth with PKCE, reading, writing, limits and faults."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lx_fakex import ACCOUNT_ID, ACCOUNT_TOKEN, ACCOUNT_USERNAME, APP_BEARER_TOKEN, CLIENT_ID, CLIENT_SECRET
from lx_fakex.testing import RunningFakeX, running_fake_x
from twitter_svc.xapi import (
    XApi,
    XAuthError,
    XBadResponse,
    XRateLimited,
    XUnavailable,
    pkce_pair,
)

pytestmark = pytest.mark.integration

REDIRECT = "http://127.0.0.1:8000/api/v1/auth/x/callback"
SCOPES = ["tweet.read", "users.read", "offline.access"]


class Sleeps:
    """Backoff delays asked for, returned at once so retries take no time."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[RunningFakeX]:
    async with running_fake_x() as running:
        yield running


@pytest.fixture
async def http(fake: RunningFakeX) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, follow_redirects=False, timeout=10) as client:
        assert (await client.post("/_fake/reset")).status_code == 204
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_api(url: str, sleeps: Sleeps, **over: Any) -> XApi:
    options: dict[str, Any] = {
        "base_url": url,
        "authorize_url": f"{url}/i/oauth2/authorize",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "bearer_token": APP_BEARER_TOKEN,
        "account_token": ACCOUNT_TOKEN,
        "max_attempts": 4,
        "sleep": sleeps,
        "jitter": lambda: 1.0,
    }
    options.update(over)
    return XApi(**options)


@pytest.fixture
def api(fake: RunningFakeX, http: httpx.AsyncClient, sleeps: Sleeps) -> XApi:
    return make_api(fake.url, sleeps)


async def tweet(http: httpx.AsyncClient, username: str, text: str, **extra: str) -> dict[str, Any]:
    response = await http.post("/_fake/tweets", json={"username": username, "text": text, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def calls(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = (await http.get("/_fake/calls")).json()
    return body


async def sign_in(http: httpx.AsyncClient, api: XApi, username: str) -> tuple[str, str | None]:
    """Click through the consent page as a browser would; return (access token, refresh token)."""
    verifier, challenge = pkce_pair()
    url = api.authorization_url(redirect_uri=REDIRECT, state="state-123", code_challenge=challenge, scopes=SCOPES)
    page = await http.get(url)
    assert page.status_code == 200
    form = {unescape(n): unescape(v) for n, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action and form["code_challenge"] == challenge
    redirect = await http.post(action.group(1), data={**form, "username": username, "decision": "allow"})
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["location"])
    assert location.path == urlsplit(REDIRECT).path
    query = parse_qs(location.query)
    assert query["state"] == ["state-123"]
    tokens = await api.exchange_code(code=query["code"][0], redirect_uri=REDIRECT, code_verifier=verifier)
    return tokens.access_token, tokens.refresh_token


# --- OAuth 2.0 ------------------------------------------------------------------------------------


def test_pkce_pair_is_fresh_and_s256_shaped() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128 and re.fullmatch(r"[A-Za-z0-9_-]+", verifier)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge)
    assert pkce_pair() != (verifier, challenge)


async def test_code_exchange_with_pkce_signs_the_person_in(http: httpx.AsyncClient, api: XApi) -> None:
    verifier, challenge = pkce_pair()
    url = api.authorization_url(redirect_uri=REDIRECT, state="s1", code_challenge=challenge, scopes=SCOPES)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == [" ".join(SCOPES)]

    access, refresh = await sign_in(http, api, "alice_lx")
    assert refresh is not None
    me = await api.me(access)
    assert me.username == "alice_lx" and me.id

    # A code is used once, and a verifier that does not fit the challenge is refused.
    with pytest.raises(XAuthError):
        await api.exchange_code(code="not-a-code", redirect_uri=REDIRECT, code_verifier=verifier)


async def test_refresh_rotates_the_refresh_token(http: httpx.AsyncClient, api: XApi) -> None:
    _, refresh = await sign_in(http, api, "bob_lx")
    assert refresh is not None
    renewed = await api.refresh(refresh)
    assert renewed.refresh_token and renewed.refresh_token != refresh
    assert renewed.expires_at > datetime.now(UTC) + timedelta(minutes=30)
    assert "offline.access" in renewed.scopes
    assert (await api.me(renewed.access_token)).username == "bob_lx"
    with pytest.raises(XAuthError):
        await api.refresh(refresh)  # the old one was rotated away


async def test_revoked_token_is_an_auth_error(http: httpx.AsyncClient, api: XApi) -> None:
    access, _ = await sign_in(http, api, "carol_lx")
    await api.revoke(access)
    with pytest.raises(XAuthError) as caught:
        await api.me(access)
    assert caught.value.status == 401 and caught.value.kind == "auth"


async def test_account_is_the_campaign_account(api: XApi) -> None:
    account = await api.account()
    assert (account.id, account.username) == (ACCOUNT_ID, ACCOUNT_USERNAME)


# --- reading --------------------------------------------------------------------------------------


async def test_mentions_page_through_and_start_after_since_id(http: httpx.AsyncClient, api: XApi) -> None:
    ids = [(await tweet(http, "dave_lx", f"@{ACCOUNT_USERNAME} need a driver {n}"))["data"]["id"] for n in range(7)]
    await tweet(http, "dave_lx", "not a mention")

    first = await api.mentions(ACCOUNT_ID, since_id=None, max_results=5)
    assert [t.id for t in first.tweets] == ids[::-1][:5]
    assert first.newest_id == ids[-1] and first.next_token
    assert all(t.author_username == "dave_lx" and t.created_at.tzinfo and not t.is_retweet for t in first.tweets)
    second = await api.mentions(ACCOUNT_ID, since_id=None, pagination_token=first.next_token, max_results=5)
    assert [t.id for t in second.tweets] == ids[::-1][5:] and second.next_token is None

    newer = await api.mentions(ACCOUNT_ID, since_id=ids[4])
    assert [t.id for t in newer.tweets] == [ids[6], ids[5]]
    empty = await api.mentions(ACCOUNT_ID, since_id=ids[-1])
    assert empty.tweets == [] and empty.newest_id is None and empty.next_token is None

    states = {s.endpoint: s for s in api.rate_states()}
    assert states["mentions"].limit and states["mentions"].remaining is not None
    assert states["mentions"].reset_at and states["mentions"].reset_at > datetime.now(UTC)


async def test_search_marks_retweets_and_honours_since_id(http: httpx.AsyncClient, api: XApi) -> None:
    original = (await tweet(http, "erin_lx", "Need canvassers in Withington #LabourExchange"))["data"]["id"]
    retweet = (await tweet(http, "frank_lx", "", retweet_of=original))["data"]["id"]

    page = await api.search_recent("#LabourExchange", since_id=None)
    by_id = {t.id: t for t in page.tweets}
    assert set(by_id) == {original, retweet}
    assert by_id[retweet].is_retweet and not by_id[original].is_retweet
    assert by_id[original].author_username == "erin_lx" and "Withington" in by_id[original].text

    later = (await tweet(http, "erin_lx", "Still need canvassers #LabourExchange"))["data"]["id"]
    assert [t.id for t in (await api.search_recent("#LabourExchange", since_id=page.newest_id)).tweets] == [later]

    paged = await api.search_recent("#LabourExchange", since_id=None, max_results=10)
    assert len(paged.tweets) == 3 and paged.next_token is None


async def test_lookup_splits_found_from_deleted(http: httpx.AsyncClient, api: XApi) -> None:
    kept = (await tweet(http, "gina_lx", "kept"))["data"]["id"]
    gone = (await tweet(http, "gina_lx", "gone"))["data"]["id"]
    assert (await http.delete(f"/_fake/tweets/{gone}")).status_code == 204

    found, missing = await api.lookup_tweets([kept, gone, kept])
    assert found == {kept} and missing == {gone}
    assert await api.lookup_tweets([]) == (set(), set())


# --- writing --------------------------------------------------------------------------------------


async def test_reply_and_dm_reach_x(http: httpx.AsyncClient, api: XApi) -> None:
    asked = await tweet(http, "hana_lx", f"@{ACCOUNT_USERNAME} need a designer")
    asker_id = asked["includes"]["users"][0]["id"]

    reply_id = await api.reply(in_reply_to=asked["data"]["id"], text="Thanks, it is on Labour Exchange now")
    dm_id = await api.send_dm(participant_id=asker_id, text="Someone offered to help")

    outbox = (await http.get("/_fake/outbox")).json()
    posted = {t["id"]: t for t in outbox["tweets"]}
    assert posted[reply_id]["text"].endswith("Thanks, it is on Labour Exchange now")
    assert any(r["id"] == asked["data"]["id"] for r in posted[reply_id].get("referenced_tweets", []))
    [dm] = outbox["dms"]
    assert (dm["dm_event_id"], dm["participant_id"], dm["sender_id"]) == (dm_id, asker_id, ACCOUNT_ID)
    assert dm["text"] == "Someone offered to help"


async def test_posting_with_the_app_token_is_refused(
    fake: RunningFakeX, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    api = make_api(fake.url, sleeps, account_token=APP_BEARER_TOKEN)
    with pytest.raises(XAuthError) as caught:
        await api.reply(in_reply_to="1", text="hello")
    assert caught.value.status == 403


# --- limits and faults ----------------------------------------------------------------------------


async def test_429_gives_its_reset_and_the_next_call_waits_without_reaching_x(
    http: httpx.AsyncClient, api: XApi
) -> None:
    await http.post("/_fake/faults", json={"status": 429, "count": 1, "reset_in_s": 120})
    before = datetime.now(UTC)
    with pytest.raises(XRateLimited) as caught:
        await api.mentions(ACCOUNT_ID, since_id=None)
    assert caught.value.endpoint == "mentions" and caught.value.kind == "rate_limited"
    assert before + timedelta(seconds=110) <= caught.value.reset_at <= before + timedelta(seconds=125)
    reached = len(await calls(http))

    with pytest.raises(XRateLimited) as again:
        await api.mentions(ACCOUNT_ID, since_id=None)
    assert again.value.reset_at == caught.value.reset_at
    assert len(await calls(http)) == reached  # refused here, not at X
    # Other endpoints have their own windows.
    assert (await api.search_recent("anything", since_id=None)).tweets == []
    [state] = [s for s in api.rate_states() if s.endpoint == "mentions"]
    assert state.remaining == 0 and state.reset_at == caught.value.reset_at


async def test_exhausted_window_with_a_past_reset_lets_calls_through(
    fake: RunningFakeX, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    now = [datetime.now(UTC).timestamp()]
    api = make_api(fake.url, sleeps, clock=lambda: now[0])
    await http.post("/_fake/faults", json={"status": 429, "count": 1, "reset_in_s": 30})
    with pytest.raises(XRateLimited):
        await api.search_recent("x", since_id=None)
    now[0] += 31  # the window has reset
    assert (await api.search_recent("x", since_id=None)).tweets == []


async def test_server_errors_are_retried_with_backoff(http: httpx.AsyncClient, api: XApi, sleeps: Sleeps) -> None:
    await tweet(http, "ivan_lx", f"@{ACCOUNT_USERNAME} hello")
    await http.post("/_fake/faults", json={"status": 503, "count": 2})
    page = await api.mentions(ACCOUNT_ID, since_id=None)
    assert len(page.tweets) == 1
    assert sleeps.delays == [0.5, 1.0]  # full jitter drawn at its top: base * 2^n
    assert [c["status"] for c in await calls(http)] == [503, 503, 200]


async def test_backoff_is_capped(fake: RunningFakeX, http: httpx.AsyncClient, sleeps: Sleeps) -> None:
    api = make_api(fake.url, sleeps, max_attempts=6, backoff_base_s=1.0, backoff_cap_s=3.0, jitter=lambda: 0.5)
    await http.post("/_fake/faults", json={"status": 500, "count": 5})
    await api.account()
    assert sleeps.delays == [0.5, 1.0, 1.5, 1.5, 1.5]


async def test_server_errors_that_persist_make_x_unavailable(
    fake: RunningFakeX, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    api = make_api(fake.url, sleeps, max_attempts=3)
    await http.post("/_fake/faults", json={"status": 503, "count": 50})
    with pytest.raises(XUnavailable) as caught:
        await api.search_recent("#LabourExchange", since_id=None)
    assert caught.value.kind == "unavailable" and "503" in str(caught.value)
    assert len(await calls(http)) == 3 and len(sleeps.delays) == 2


@pytest.mark.parametrize(
    "body",
    ["<html>502 Bad Gateway</html>", '{"data": "not a list"}', '{"data": [{"text": "no id or author"}]}', ""],
)
async def test_a_malformed_answer_is_a_bad_response_not_a_crash(
    http: httpx.AsyncClient, api: XApi, sleeps: Sleeps, body: str
) -> None:
    await http.post("/_fake/faults", json={"status": 200, "count": 1, "body": body})
    with pytest.raises(XBadResponse) as caught:
        await api.mentions(ACCOUNT_ID, since_id=None)
    assert caught.value.kind == "bad_response"
    assert sleeps.delays == []  # retrying cannot fix a malformed answer
    # The answer had no rate-limit headers; the next call goes ahead normally.
    assert (await api.mentions(ACCOUNT_ID, since_id=None)).tweets is not None


async def test_unreachable_x_is_unavailable(sleeps: Sleeps) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = make_api(f"http://127.0.0.1:{port}", sleeps, max_attempts=2, timeout_s=2.0)
    with pytest.raises(XUnavailable):
        await api.account()
    with pytest.raises(XUnavailable):
        await api.refresh("some-refresh-token")
    assert len(sleeps.delays) == 2


# --- secrets --------------------------------------------------------------------------------------


async def test_tokens_never_reach_exception_text_or_logs(
    fake: RunningFakeX, http: httpx.AsyncClient, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("tweepy").setLevel(logging.DEBUG)
    secret_bearer, secret_account, secret_user = "app-secret-9f2c", "account-secret-71ad", "user-secret-44be"
    api = make_api(fake.url, sleeps, bearer_token=secret_bearer, account_token=secret_account, max_attempts=2)
    assert logging.getLogger("tweepy").getEffectiveLevel() >= logging.INFO

    messages = []
    for call in (
        lambda: api.mentions(ACCOUNT_ID, since_id=None),
        lambda: api.reply(in_reply_to="1", text="x"),
        lambda: api.me(secret_user),
        lambda: api.refresh(secret_user),
        lambda: api.exchange_code(code=secret_user, redirect_uri=REDIRECT, code_verifier=secret_user),
    ):
        with pytest.raises(XAuthError) as caught:
            await call()
        messages.append(str(caught.value))
        messages.append(repr(caught.value))

    good = make_api(fake.url, sleeps)
    access, refresh = await sign_in(http, good, "judy_lx")
    tokens = await good.refresh(refresh or "")
    messages.append(repr(tokens))
    await http.post("/_fake/faults", json={"status": 503, "count": 10})
    with pytest.raises(XUnavailable) as down:
        await make_api(fake.url, sleeps, max_attempts=2).me(tokens.access_token)
    messages.append(str(down.value))

    text = "\n".join(messages) + caplog.text
    for secret in (
        secret_bearer,
        secret_account,
        secret_user,
        APP_BEARER_TOKEN,
        ACCOUNT_TOKEN,
        access,
        tokens.access_token,
    ):
        assert secret not in text
    assert tokens.refresh_token and tokens.refresh_token not in text
