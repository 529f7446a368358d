"""Reading X: mentions and watched hashtags become `twitter.tweet-received.v1` once each, with skills and a
constituency read from the text; restarts, rate limits, X's failures and hostile texts change nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from lx_contracts import topics
from lx_devstack.testkit import wait_until

from .conftest import SERVICE, XWorld, handle

pytestmark = pytest.mark.integration

WITHINGTON = "E14001354"
SEARCH = "/2/tweets/search/recent"


def _received(x: XWorld, tweet_id: str, timeout_s: float = 30) -> dict[str, object]:
    return x.wait_events(topics.TWEET_RECEIVED.name, tweet_id, timeout_s=timeout_s)[0]


def test_a_tweet_asking_for_help_is_received_with_its_skill_and_constituency(x: XWorld) -> None:
    tweet_id = x.tweet("Need someone to design leaflets in Withington this weekend #LabourExchange")
    event = _received(x, tweet_id)
    data = event["data"]
    assert isinstance(data, dict)
    assert "graphic-design" in data["skills"]
    assert data["constituency_code"] == WITHINGTON
    assert data["intent"] == "ask"
    assert data["user_id"] is None
    assert data["url"].endswith(tweet_id)
    row = x.sql("SELECT * FROM tweets WHERE tweet_id = $1", tweet_id)[0]
    assert row["author_user_id"] is None and row["constituency_code"] == WITHINGTON
    # Nothing about an author who has not joined: no X id or handle anywhere in the row.
    assert "withington_mum" not in " ".join(str(v) for v in row.values())


def test_mentions_of_the_campaign_account_are_read_and_retweets_are_not(x: XWorld) -> None:
    mention = x.tweet("@LabourExchange could anyone help with canvassing in Manchester Withington?")
    retweet = x.tweet("", retweet_of=mention, username=handle())
    _received(x, mention)
    x.wait_for(
        "the search cursor to pass the retweet", "SELECT 1 FROM cursors WHERE since_id::numeric >= $1::numeric", retweet
    )
    assert x.scalar("SELECT count(*) FROM tweets WHERE tweet_id = $1", retweet) == 0


def test_a_linked_author_is_named_by_their_account(x: XWorld) -> None:
    name = handle()
    signed = x.login(name)
    me = x.gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {signed['access_token']}"}).json()
    tweet_id = x.tweet("Offering help with graphic design #LabourExchange", username=name)
    data = _received(x, tweet_id)["data"]
    assert isinstance(data, dict)
    assert data["user_id"] == me["id"]


def test_hostile_texts_are_absorbed_and_the_loop_goes_on(x: XWorld) -> None:
    texts = [
        "\u200b #LabourExchange",
        "🔥🔥 need 🙏 help 🎨 #LabourExchange " + "🙂" * 300,
        "<script>alert(1)</script><b>help</b> &amp; #LabourExchange",
        "'); DROP TABLE tweets; -- #LabourExchange",
        "bell\x07 null\x00 esc\x1b[31m red \u202e #LabourExchange",
        "#LabourExchange " + "word " * 2000,
    ]
    ids = [x.tweet(t, username=handle()) for t in texts]
    for tweet_id in ids:
        _received(x, tweet_id)
    rows = x.sql("SELECT tweet_id, text FROM tweets WHERE tweet_id = ANY($1::text[])", ids)
    assert len(rows) == len(ids)
    assert all(len(r["text"]) <= 1000 and "\x00" not in r["text"] for r in rows)
    after = x.tweet("Still listening #LabourExchange")
    _received(x, after)


def test_a_restart_neither_rereads_nor_skips(x: XWorld) -> None:
    before = x.tweet("Before the restart #LabourExchange")
    _received(x, before)
    x.stack.stop_service(SERVICE)
    try:
        during = [x.tweet(f"While it was down {i} #LabourExchange", username=handle()) for i in range(3)]
    finally:
        x.stack.start_service(SERVICE)
    for tweet_id in during:
        _received(x, tweet_id)
    after = x.tweet("After the restart #LabourExchange")
    _received(x, after)
    events = x.events(topics.TWEET_RECEIVED.name)
    for tweet_id in [before, *during, after]:
        assert sum(1 for e in events if e["subject"] == tweet_id) == 1, tweet_id


def test_a_rate_limit_is_honoured_until_its_reset(x: XWorld, admin_auth: dict[str, str]) -> None:
    start = len(x.calls())
    r = x.fake.post("/_fake/faults", json={"status": 429, "count": 1, "reset_in_s": 4})
    assert r.status_code == 201
    limited_path: list[str] = []

    async def limited() -> bool:
        calls = x.calls()[start:]
        hit = [c for c in calls if c["status"] == 429]
        if hit:
            limited_path[:] = [hit[0]["path"]]
        return bool(hit)

    asyncio.run(wait_until(limited, timeout_s=20, what="a call to meet the 429"))
    hit_at = time.monotonic()
    position = len(x.calls())
    status = x.gateway.get("/api/v1/admin/x", headers=admin_auth).json()["status"]
    if limited_path[0] in (SEARCH,) or "/mentions" in limited_path[0] or limited_path[0] == "/2/tweets":
        assert status["rate_limit_remaining"] == 0
        assert datetime.fromisoformat(status["rate_limit_reset"]) > datetime.now(UTC)
    # No call to the limited endpoint before its reset (2 s of the 4 are observed), then calls resume.
    while time.monotonic() - hit_at < 2:
        assert not [c for c in x.calls()[position:] if c["path"] == limited_path[0]]
    tweet_id = x.tweet("After the rate limit #LabourExchange")
    _received(x, tweet_id, timeout_s=30)


def test_server_errors_are_retried(x: XWorld) -> None:
    r = x.fake.post("/_fake/faults", json={"status": 503, "count": 3})
    assert r.status_code == 201
    tweet_id = x.tweet("Through the outage #LabourExchange")
    _received(x, tweet_id)


def test_a_tweet_deleted_on_x_loses_its_text(x: XWorld) -> None:
    tweet_id = x.tweet("Soon to be deleted, Withington leaflets #LabourExchange", username=handle())
    _received(x, tweet_id)
    assert x.fake.delete(f"/_fake/tweets/{tweet_id}").status_code == 204
    x.wait_for("the text to be removed", "SELECT 1 FROM tweets WHERE tweet_id = $1 AND text IS NULL", tweet_id)
    row = x.sql("SELECT deleted_at FROM tweets WHERE tweet_id = $1", tweet_id)[0]
    assert row["deleted_at"] is not None
    x.wait_events(topics.TWEET_DELETED.name, tweet_id)


def test_reads_are_counted_against_the_month(x: XWorld, admin_auth: dict[str, str]) -> None:
    status = x.gateway.get("/api/v1/admin/x", headers=admin_auth).json()["status"]
    assert status["reads_used"] > 0
    assert status["since_id"] is not None and status["last_poll_at"] is not None
    assert status["x_configured"] is True
    assert status["campaign_account"] == "LabourExchange"


def test_an_exhausted_read_budget_stops_polling_until_it_allows_again(x: XWorld, admin_auth: dict[str, str]) -> None:
    before = x.gateway.get("/api/v1/admin/x", headers=admin_auth).json()
    settings = {k: v for k, v in before["settings"].items() if k != "updated_at"}
    used = before["status"]["reads_used"]
    try:
        r = x.gateway.put("/api/v1/admin/x", headers=admin_auth, json={**settings, "monthly_read_budget": used})
        assert r.status_code == 200, r.text

        async def paused() -> bool:
            status = x.gateway.get("/api/v1/admin/x", headers=admin_auth).json()["status"]
            return bool(status["read_budget_exhausted"]) and "ingestion" in status["notes"]

        asyncio.run(wait_until(paused, timeout_s=15, what="polling to pause"))
        position = len(x.calls())
        tweet_id = x.tweet("Over budget #LabourExchange", username=handle())
        observed_from = time.monotonic()
        while time.monotonic() - observed_from < 3:  # three poll intervals: no reads at all
            assert not [c for c in x.calls()[position:] if c["path"] == SEARCH or "/mentions" in c["path"]]
        assert x.scalar("SELECT count(*) FROM tweets WHERE tweet_id = $1", tweet_id) == 0
    finally:
        assert x.gateway.put("/api/v1/admin/x", headers=admin_auth, json=settings).status_code == 200
    _received(x, tweet_id)
