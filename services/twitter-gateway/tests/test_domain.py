"""The gateway's pure rules: admin settings, the search query, tweet ids, wording on X, retry timing."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from twitter_svc.domain import (
    X_TEXT_LIMIT,
    backoff,
    id_after,
    invitation_dm,
    month_of,
    normalise_hashtags,
    offer_accepted_dm,
    reply_text,
    search_query,
    validate_settings,
)

pytestmark = pytest.mark.unit


def _validate(**over: object) -> tuple[object, list[str]]:
    given: dict[str, object] = {
        "hashtags": ["LabourExchange"],
        "poll_interval_s": 60,
        "monthly_read_budget": 10,
        "monthly_post_budget": 0,
        "posting_enabled": False,
    }
    given.update(over)
    value, errors = validate_settings(**given)  # type: ignore[arg-type]
    return value, [e.field for e in errors]


def test_hashtags_lose_their_hash_and_case_insensitive_duplicates() -> None:
    tags, errors = normalise_hashtags(["#LabourExchange", "labourexchange", " Volunteers "])
    assert errors == []
    assert tags == ["LabourExchange", "Volunteers"]


@pytest.mark.parametrize("bad", ["", "#", "two words", "tag-with-dash", "x" * 101, "#é"])
def test_a_malformed_hashtag_is_named_by_its_position(bad: str) -> None:
    _, fields = _validate(hashtags=["Good", bad])
    assert fields == ["hashtags.1"]


def test_no_hashtags_or_more_than_ten_are_refused() -> None:
    assert _validate(hashtags=[])[1] == ["hashtags"]
    assert _validate(hashtags=[f"t{i}" for i in range(11)])[1] == ["hashtags"]
    assert _validate(hashtags=[f"t{i}" for i in range(10)])[1] == []


def test_poll_interval_and_budgets_have_their_ranges() -> None:
    assert _validate(poll_interval_s=14)[1] == ["poll_interval_s"]
    assert _validate(poll_interval_s=3601)[1] == ["poll_interval_s"]
    assert _validate(poll_interval_s=15)[1] == []
    assert _validate(monthly_read_budget=-1, monthly_post_budget=-1)[1] == [
        "monthly_read_budget",
        "monthly_post_budget",
    ]


def test_search_query_leaves_retweets_out() -> None:
    assert search_query(["A", "B"]) == "(#A OR #B) -is:retweet"


def test_tweet_ids_compare_as_numbers() -> None:
    assert id_after("999", "1000") == "1000"
    assert id_after(None, "5") == "5"
    assert id_after("5", None) == "5"


def test_budget_month_is_the_utc_calendar_month() -> None:
    assert month_of(datetime(2026, 5, 31, 23, 59, tzinfo=UTC)) == date(2026, 5, 1)


def test_replies_differ_for_open_and_pending_and_fit_a_tweet() -> None:
    url = "http://127.0.0.1:8000/requests/0b6f0e8e-8f7c-4f7a-9f55-2d7c1d1f4c11"
    pending, opened = reply_text(status="pending", url=url), reply_text(status="open", url=url)
    assert pending != opened
    assert url in pending and url in opened
    assert len(pending) <= X_TEXT_LIMIT and len(opened) <= X_TEXT_LIMIT


def test_dms_name_the_request_and_say_how_to_stop_them() -> None:
    for text in (invitation_dm(title="Leaflets " * 30, url="u"), offer_accepted_dm(title=None, url="u")):
        assert "contact by X" in text
    assert "a request" in offer_accepted_dm(title="  ", url="u")


def test_backoff_grows_and_stays_under_its_cap() -> None:
    rng = random.Random(7)
    waits = [backoff(n, base_s=30, cap_s=3600, rng=rng) for n in range(1, 12)]
    assert all(timedelta(seconds=1) <= w <= timedelta(seconds=3600) for w in waits)
    assert waits[-1] >= timedelta(seconds=1800)
