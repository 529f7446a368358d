"""The pure parts of the organiser, national and admin pages: sorting, the chart, uploads, admin forms."""

from __future__ import annotations

import pytest

from web_svc import stats
from web_svc.forms import SkillForm, XSettingsForm, constituency_code_of, x_settings_errors
from web_svc.security import parse_multipart

pytestmark = pytest.mark.unit


def seat(code: str, name: str, open_: int, first: float | None = None) -> dict[str, object]:
    return {
        "constituency_code": code,
        "name": name,
        "requests": {"open": open_, "filled": 1, "completed": 0, "cancelled": 0, "pending": 0},
        "median_hours_to_first_offer": first,
        "median_hours_to_filled": None,
        "supporters_by_skill": [{"slug": "leafleting", "supporters": 3}, {"slug": "canvassing", "supporters": 2}],
        "missing_skills": [{"slug": "driving", "people_needed": 1, "supporters": 0}],
    }


ROWS = [
    stats.row_of(seat("A", "bath", 2, 5.0)),
    stats.row_of(seat("B", "Aldershot", 7)),
    stats.row_of(seat("C", "Crewe", 2, 1.5)),
]


def test_rows_flatten_the_figures() -> None:
    row = ROWS[0]
    assert (row.open, row.filled, row.supporters, row.missing, row.first_offer) == (2, 1, 5, 1, 5.0)


def test_sorting_by_a_number_breaks_ties_by_name_and_by_name_ignores_case() -> None:
    assert [r.code for r in stats.sort_rows(ROWS, "open", "desc")] == ["B", "A", "C"]
    assert [r.code for r in stats.sort_rows(ROWS, "open", "asc")] == ["A", "C", "B"]
    assert [r.code for r in stats.sort_rows(ROWS, "name", "asc")] == ["B", "A", "C"]
    assert [r.code for r in stats.sort_rows(ROWS, "name", "desc")] == ["C", "A", "B"]


def test_unknown_medians_are_last_whichever_the_direction() -> None:
    assert [r.code for r in stats.sort_rows(ROWS, "first_offer", "asc")] == ["C", "A", "B"]
    assert [r.code for r in stats.sort_rows(ROWS, "first_offer", "desc")] == ["A", "C", "B"]


def test_the_query_string_cannot_choose_an_unknown_column_or_direction() -> None:
    assert stats.sort_choice("drop table", "asc") == stats.DEFAULT_SORT
    assert stats.sort_choice("name", "sideways") == ("name", "asc")
    assert stats.sort_choice("open", None) == ("open", "desc")


def test_aria_sort_marks_only_the_sorted_column_and_a_click_flips_it() -> None:
    assert stats.aria_sort("open", "open", "desc") == "descending"
    assert stats.aria_sort("name", "open", "desc") is None
    assert stats.next_direction("open", "open", "desc") == "asc"
    assert stats.next_direction("name", "open", "desc") == "asc"
    assert stats.next_direction("filled", "open", "desc") == "desc"


def test_hours_read_as_people_say_them() -> None:
    assert stats.hours_text(None) == "not yet"
    assert stats.hours_text(0.25) == "15 minutes"
    assert stats.hours_text(0.01) == "1 minute"
    assert stats.hours_text(1.02) == "1 hour"
    assert stats.hours_text(3.0) == "3 hours"
    assert stats.hours_text(3.46) == "3.5 hours"
    assert stats.hours_text(72) == "3.0 days"


def test_chart_bars_are_stacked_and_scaled_to_the_biggest_total() -> None:
    chart = stats.stacked_chart(
        [("North", {"open": 2, "filled": 2, "completed": 0}), ("South", {"open": 1, "filled": 0, "completed": 1})],
        width=440,
        label_width=100,
    )
    north, south = chart.rows
    assert [b.series for b in north.bars] == ["open", "filled"]  # nothing drawn for zero
    assert north.bars[0].x == 100 and north.bars[0].width == 150 and north.bars[1].x == 250
    assert north.total == 4 and south.total == 2
    assert south.bars[1].x == 175 and south.y > north.y
    assert stats.stacked_chart([]).rows == []


def test_multipart_uploads_give_fields_and_files() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\ntok\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="people.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nemail,display_name\r\nx@example.org,X\r\n--b--\r\n"
    )
    fields, files = parse_multipart("multipart/form-data; boundary=b", body)
    assert fields == {"csrf_token": "tok"}
    assert files == {"file": ("people.csv", b"email,display_name\r\nx@example.org,X")}
    assert parse_multipart("application/x-www-form-urlencoded", b"csrf_token=tok") == ({}, {})
    assert parse_multipart("multipart/form-data", body) == ({}, {})  # no boundary


def test_x_settings_form_reads_hashtags_and_refuses_words_for_numbers() -> None:
    form = XSettingsForm.from_fields(
        {
            "hashtags": "#LabourExchange, Volunteers",
            "poll_interval_s": "60",
            "monthly_read_budget": "lots",
            "monthly_post_budget": "",
            "posting_enabled": "yes",
        }  # fmt: skip
    )
    body, errors = form.body()
    assert body["hashtags"] == ["#LabourExchange", "Volunteers"] and body["posting_enabled"] is True
    assert set(errors) == {"monthly_read_budget", "monthly_post_budget"}
    assert x_settings_errors({"hashtags.1": "Bad tag.", "poll_interval_s": "Too often."}) == {
        "hashtags": "Bad tag.",
        "poll_interval_s": "Too often.",
    }
    again = XSettingsForm.from_settings(
        {
            "hashtags": ["A", "B"],
            "poll_interval_s": 60,
            "monthly_read_budget": 1,
            "monthly_post_budget": 2,
            "posting_enabled": False,
        }  # fmt: skip
    )
    assert again.hashtags == "#A #B" and again.poll_interval_s == "60"


def test_skill_form_splits_synonyms_on_commas() -> None:
    form = SkillForm.from_fields(
        {"slug": "bsl", "name": "Sign language", "category": "languages", "synonyms": "bsl, signing ,"}
    )
    assert form.body()["synonyms"] == ["bsl", "signing"]


def test_constituencies_are_found_by_code_or_name_in_any_case() -> None:
    seats = [{"code": "E14001354", "name": "Manchester Withington"}]
    assert constituency_code_of("manchester  withington", seats) == "E14001354"
    assert constituency_code_of("e14001354", seats) == "E14001354"
    assert constituency_code_of("Withington", seats) is None
    assert constituency_code_of("", seats) is None
