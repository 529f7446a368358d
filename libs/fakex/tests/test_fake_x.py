"""The fake X answers as X API v2 does, over real HTTP on loopback."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lx_fakex import ACCOUNT_ID, ACCOUNT_TOKEN, APP_BEARER_TOKEN, CLIENT_ID, CLIENT_SECRET
from lx_fakex.state import s256
from lx_fakex.testing import RunningFakeX, running_fake_x

pytestmark = pytest.mark.integration

REDIRECT = "http://127.0.0.1:8000/api/v1/auth/x/callback"
APP = {"Authorization": f"Bearer {APP_BEARER_TOKEN}"}
ACCOUNT = {"Authorization": f"Bearer {ACCOUNT_TOKEN}"}


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[RunningFakeX]:
    async with running_fake_x() as running:
        yield running


@pytest.fixture
async def x(fake: RunningFakeX) -> AsyncIterator[httpx.AsyncClient]:
    fake.state.reset()
    async with httpx.AsyncClient(base_url=fake.url, timeout=10.0) as client:
        yield client


async def authorize(
    x: httpx.AsyncClient, username: str, *, scope: str = "tweet.read users.read offline.access"
) -> tuple[str, str]:
    """Click through the consent page as `username`: (code, verifier)."""
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(12)
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": state,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    page = await x.get("/i/oauth2/authorize", params=params)
    assert page.status_code == 200, page.text
    assert 'name="username"' in page.text and 'value="allow"' in page.text
    r = await x.post("/i/oauth2/authorize", data={**params, "username": username, "decision": "allow"})
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0], verifier


async def exchange(x: httpx.AsyncClient, code: str, verifier: str) -> httpx.Response:
    return await x.post(
        "/2/oauth2/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
    )


async def tweet(x: httpx.AsyncClient, username: str, text: str = "", **extra: str) -> str:
    r = await x.post("/_fake/tweets", json={"username": username, "text": text, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


async def test_pkce_login_gives_tokens_that_read_the_user(x: httpx.AsyncClient) -> None:
    code, verifier = await authorize(x, "alice_w")
    r = await exchange(x, code, verifier)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 7200
    assert set(body["scope"].split()) == {"tweet.read", "users.read", "offline.access"}
    assert body["refresh_token"]
    me = await x.get("/2/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["data"]["username"] == "alice_w"
    assert me.json()["data"]["id"].isdigit()


async def test_wrong_code_verifier_is_an_invalid_grant(x: httpx.AsyncClient) -> None:
    code, _ = await authorize(x, "mallory")
    r = await exchange(x, code, secrets.token_urlsafe(48))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def test_a_code_works_once(x: httpx.AsyncClient) -> None:
    code, verifier = await authorize(x, "bob")
    assert (await exchange(x, code, verifier)).status_code == 200
    again = await exchange(x, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_expired_code_and_other_redirect_are_refused(x: httpx.AsyncClient, fake: RunningFakeX) -> None:
    code, verifier = await authorize(x, "carol")
    r = await x.post(
        "/2/oauth2/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/elsewhere",
            "code_verifier": verifier,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    fake.state.code_ttl_s = -1.0
    try:
        code, verifier = await authorize(x, "carol")
        r = await exchange(x, code, verifier)
        assert r.status_code == 400 and "expired" in r.json()["error_description"]
    finally:
        fake.state.code_ttl_s = 30.0


async def test_wrong_client_secret_is_an_invalid_client(x: httpx.AsyncClient) -> None:
    code, verifier = await authorize(x, "dan")
    r = await x.post(
        "/2/oauth2/token",
        auth=(CLIENT_ID, "not-the-secret"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


async def test_no_refresh_token_without_offline_access(x: httpx.AsyncClient) -> None:
    code, verifier = await authorize(x, "erin", scope="tweet.read users.read")
    body = (await exchange(x, code, verifier)).json()
    assert "refresh_token" not in body


async def test_refresh_tokens_rotate(x: httpx.AsyncClient) -> None:
    code, verifier = await authorize(x, "frank")
    first = (await exchange(x, code, verifier)).json()
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": CLIENT_ID}
    second = await x.post("/2/oauth2/token", data=data)
    assert second.status_code == 200, second.text
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert second.json()["access_token"] != first["access_token"]
    reused = await x.post("/2/oauth2/token", data=data)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    me = await x.get("/2/users/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"})
    assert me.json()["data"]["username"] == "frank"


async def test_revoked_and_expired_tokens_get_401(x: httpx.AsyncClient) -> None:
    code, verifier = await authorize(x, "grace")
    tokens = (await exchange(x, code, verifier)).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await x.get("/2/users/me", headers=auth)).status_code == 200
    r = await x.post("/2/oauth2/revoke", auth=(CLIENT_ID, CLIENT_SECRET), data={"token": tokens["refresh_token"]})
    assert r.status_code == 200 and r.json() == {"revoked": True}
    denied = await x.get("/2/users/me", headers=auth)
    assert denied.status_code == 401
    assert denied.json() == {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    refresh = await x.post(
        "/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID},
    )
    assert refresh.status_code == 400

    code, verifier = await authorize(x, "grace")
    tokens = (await exchange(x, code, verifier)).json()
    assert (await x.post("/_fake/expire-tokens", json={"username": "grace"})).json()["expired"] >= 1
    r = await x.get("/2/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 401


async def test_denied_consent_and_bad_authorize_requests(x: httpx.AsyncClient) -> None:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "tweet.read users.read",
        "state": "s-1",
        "code_challenge": s256("v" * 43),
        "code_challenge_method": "S256",
    }
    r = await x.post("/i/oauth2/authorize", data={**params, "decision": "deny"})
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["location"]).query) == {"error": ["access_denied"], "state": ["s-1"]}
    for bad in ({"client_id": "someone-else"}, {"redirect_uri": "https://evil.example/cb"}, {"code_challenge": ""}):
        page = await x.get("/i/oauth2/authorize", params={**params, **bad})
        assert page.status_code == 400
        assert "<h1>Something went wrong</h1>" in page.text


async def test_writes_need_a_user_token(x: httpx.AsyncClient) -> None:
    r = await x.post("/2/tweets", headers=APP, json={"text": "hello"})
    assert r.status_code == 403 and r.json()["title"] == "Unsupported Authentication"
    code, verifier = await authorize(x, "henry")
    read_only = (await exchange(x, code, verifier)).json()["access_token"]
    r = await x.post("/2/tweets", headers={"Authorization": f"Bearer {read_only}"}, json={"text": "hello"})
    assert r.status_code == 403 and r.json()["title"] == "Forbidden"


async def test_account_replies_and_dms_land_in_the_outbox(x: httpx.AsyncClient) -> None:
    asking = await tweet(x, "ivy", "Need a plumber in Withington @LabourExchange")
    r = await x.post("/2/tweets", headers=ACCOUNT, json={"text": "On it!", "reply": {"in_reply_to_tweet_id": asking}})
    assert r.status_code == 201, r.text
    assert set(r.json()["data"]) == {"id", "text", "edit_history_tweet_ids"}
    ivy = (await x.post("/_fake/users", json={"username": "ivy"})).json()["data"]["id"]
    dm = await x.post(f"/2/dm_conversations/with/{ivy}/messages", headers=ACCOUNT, json={"text": "Hi Ivy"})
    assert dm.status_code == 201, dm.text
    assert set(dm.json()["data"]) == {"dm_conversation_id", "dm_event_id"}
    outbox = (await x.get("/_fake/outbox")).json()
    assert outbox["tweets"][0]["referenced_tweets"] == [{"type": "replied_to", "id": asking}]
    assert outbox["dms"][0]["participant_id"] == ivy and outbox["dms"][0]["sender_id"] == ACCOUNT_ID
    gone = await tweet(x, "ivy", "soon deleted")
    assert (await x.delete(f"/_fake/tweets/{gone}")).status_code == 204
    r = await x.post("/2/tweets", headers=ACCOUNT, json={"text": "late", "reply": {"in_reply_to_tweet_id": gone}})
    assert r.status_code == 403


async def test_mentions_since_id_and_pagination(x: httpx.AsyncClient) -> None:
    ids = [await tweet(x, f"user{i}", f"@LabourExchange need help {i}") for i in range(7)]
    await tweet(x, "other", "@LabourExchanger is a different account")
    params = {"max_results": "5", "expansions": "author_id", "tweet.fields": "created_at,author_id"}
    first = await x.get(f"/2/users/{ACCOUNT_ID}/mentions", headers=APP, params=params)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [t["id"] for t in body["data"]] == ids[::-1][:5]
    assert body["meta"]["newest_id"] == ids[-1] and body["meta"]["result_count"] == 5
    assert body["data"][0]["created_at"].endswith("Z") and len(body["data"][0]["created_at"]) == 24
    assert {u["username"] for u in body["includes"]["users"]} == {f"user{i}" for i in range(2, 7)}
    second = await x.get(
        f"/2/users/{ACCOUNT_ID}/mentions",
        headers=APP,
        params={**params, "pagination_token": body["meta"]["next_token"]},
    )
    assert [t["id"] for t in second.json()["data"]] == ids[1::-1]
    assert "next_token" not in second.json()["meta"]
    newer = await x.get(f"/2/users/{ACCOUNT_ID}/mentions", headers=APP, params={"since_id": ids[5]})
    assert [t["id"] for t in newer.json()["data"]] == [ids[6]]
    none = await x.get(f"/2/users/{ACCOUNT_ID}/mentions", headers=APP, params={"since_id": ids[6]})
    assert none.json() == {"meta": {"result_count": 0}}


async def test_max_results_outside_the_range_is_an_invalid_request(x: httpx.AsyncClient) -> None:
    r = await x.get(f"/2/users/{ACCOUNT_ID}/mentions", headers=APP, params={"max_results": "3"})
    assert r.status_code == 400
    assert r.json() == {
        "errors": [
            {
                "parameters": {"max_results": ["3"]},
                "message": "The `max_results` query parameter value [3] is not between 5 and 100",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    r = await x.get("/2/tweets/search/recent", headers=APP, params={"query": "x", "max_results": "5"})
    assert r.status_code == 400


async def test_search_or_hashtags_and_no_retweets(x: httpx.AsyncClient) -> None:
    a = await tweet(x, "jo", "Looking for a #Plumber near #LabourExchange")
    b = await tweet(x, "kim", "Can offer carpentry @LabourExchange")
    rt = await tweet(x, "lee", retweet_of=a)
    await tweet(x, "max", "nothing to see")
    query = {"query": "(#labourexchange OR @LabourExchange) -is:retweet", "tweet.fields": "referenced_tweets"}
    r = await x.get("/2/tweets/search/recent", headers=APP, params=query)
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()["data"]] == [b, a]
    with_rts = await x.get(
        "/2/tweets/search/recent", headers=APP, params={"query": "#LabourExchange", "tweet.fields": "referenced_tweets"}
    )
    retweet = with_rts.json()["data"][0]
    assert retweet["id"] == rt
    assert retweet["referenced_tweets"] == [{"type": "retweeted", "id": a}]
    assert retweet["text"].startswith("RT @jo: ")
    words = await x.get("/2/tweets/search/recent", headers=APP, params={"query": "carpentry OR plumber -is:retweet"})
    assert [t["id"] for t in words.json()["data"]] == [b, a]
    bad = await x.get("/2/tweets/search/recent", headers=APP, params={"query": "nope:thing"})
    assert bad.status_code == 400 and bad.json()["title"] == "Invalid Request"


async def test_lookup_reports_deleted_tweets_in_errors(x: httpx.AsyncClient) -> None:
    kept = await tweet(x, "nia", "still here")
    gone = await tweet(x, "nia", "about to go")
    assert (await x.delete(f"/_fake/tweets/{gone}")).status_code == 204
    r = await x.get("/2/tweets", headers=APP, params={"ids": f"{kept},{gone}"})
    assert r.status_code == 200
    body = r.json()
    assert [t["id"] for t in body["data"]] == [kept]
    assert body["errors"] == [
        {
            "value": gone,
            "detail": f"Could not find tweet with ids: [{gone}].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "ids",
            "resource_id": gone,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
    ]


async def test_rate_limit_headers_count_down_and_exhaust(x: httpx.AsyncClient) -> None:
    assert (await x.put("/_fake/rate-limits", json={"users_me": 2})).status_code == 200
    first = await x.get("/2/users/me", headers=ACCOUNT)
    second = await x.get("/2/users/me", headers=ACCOUNT)
    assert first.headers["x-rate-limit-limit"] == "2"
    assert (first.headers["x-rate-limit-remaining"], second.headers["x-rate-limit-remaining"]) == ("1", "0")
    assert int(first.headers["x-rate-limit-reset"]) > time.time()
    third = await x.get("/2/users/me", headers=ACCOUNT)
    assert third.status_code == 429
    assert third.json()["title"] == "Too Many Requests"
    other = await x.get("/2/tweets/search/recent", headers=ACCOUNT, params={"query": "hello"})
    assert other.status_code == 200 and other.headers["x-rate-limit-remaining"] == "449"


async def test_injected_faults_answer_the_next_calls(x: httpx.AsyncClient) -> None:
    await x.post("/_fake/faults", json={"status": 429, "count": 1, "reset_in_s": 120})
    await x.post("/_fake/faults", json={"status": 503, "count": 1})
    limited = await x.get(f"/2/users/{ACCOUNT_ID}/mentions", headers=APP)
    assert limited.status_code == 429
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert int(limited.headers["x-rate-limit-reset"]) >= int(time.time()) + 119
    down = await x.get(f"/2/users/{ACCOUNT_ID}/mentions", headers=APP)
    assert down.status_code == 503 and "x-rate-limit-limit" in down.headers
    assert (await x.get(f"/2/users/{ACCOUNT_ID}/mentions", headers=APP)).status_code == 200
    calls = (await x.get("/_fake/calls")).json()
    assert [c["status"] for c in calls] == [429, 503, 200]
    assert calls[0]["path"] == f"/2/users/{ACCOUNT_ID}/mentions"
