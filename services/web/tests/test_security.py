"""The browser-session rules on their own: CSRF tokens, safe redirects, reading our access token, forms."""

from __future__ import annotations

import base64
import json
from zoneinfo import ZoneInfo

import pytest

from web_svc.apiclient import problem_of
from web_svc.forms import ProfileForm, RequestForm, profile_errors
from web_svc.security import csrf_ok, csrf_token, needs_refresh, new_session_id, read_claims, safe_next

pytestmark = pytest.mark.unit

KEY = b"k" * 32


def jwt(payload: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'EdDSA'})}.{part(payload)}.c2lnbmF0dXJl"


def test_csrf_token_of_the_session_is_accepted() -> None:
    sid = new_session_id()
    assert csrf_ok(KEY, sid, csrf_token(KEY, sid))


def test_csrf_token_of_another_session_is_rejected() -> None:
    assert not csrf_ok(KEY, new_session_id(), csrf_token(KEY, new_session_id()))


def test_csrf_token_under_another_key_is_rejected() -> None:
    sid = new_session_id()
    assert not csrf_ok(KEY, sid, csrf_token(b"o" * 32, sid))


@pytest.mark.parametrize("presented", [None, "", "x", "A" * 43, "A" * 5000])
def test_missing_or_made_up_csrf_tokens_are_rejected(presented: str | None) -> None:
    assert not csrf_ok(KEY, new_session_id(), presented)


def test_csrf_check_needs_a_session() -> None:
    assert not csrf_ok(KEY, None, csrf_token(KEY, ""))
    assert not csrf_ok(KEY, "", csrf_token(KEY, ""))


def test_session_ids_are_random_and_long() -> None:
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) >= 43 for i in ids)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/requests?status=open", "/requests?status=open"),
        ("/me", "/me"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/\tevil", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("requests", "/"),
    ],
)
def test_next_is_always_a_local_path(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_claims_are_read_from_the_token_payload() -> None:
    token = jwt({"sub": "u-1", "exp": 2_000, "roles": ["supporter", "organiser"], "organiser_of": ["E1"]})
    claims = read_claims(token)
    assert claims.user_id == "u-1"
    assert claims.roles == ("supporter", "organiser")
    assert claims.organiser_of == ("E1",)
    assert claims.expires_at == 2_000


@pytest.mark.parametrize(
    "token", [None, "", "not-a-jwt", "a.b", "a.!!!.c", jwt({"exp": "soon"}), "a." + "x" * 9000 + ".c"]
)
def test_unreadable_tokens_have_no_claims_and_need_refreshing(token: str | None) -> None:
    assert read_claims(token).user_id is None
    assert needs_refresh(token, now=0, margin_s=60)


def test_token_is_refreshed_within_the_margin_only() -> None:
    token = jwt({"sub": "u", "exp": 1_000})
    assert not needs_refresh(token, now=900, margin_s=60)
    assert needs_refresh(token, now=941, margin_s=60)
    assert needs_refresh(token, now=1_001, margin_s=60)


def test_problem_keeps_the_first_message_per_field_and_ignores_junk() -> None:
    problem = problem_of(
        422,
        {
            "title": "Invalid input",
            "detail": "Some fields are missing or invalid.",
            "errors": [
                {"field": "password", "message": "Use at least 12 characters."},
                {"field": "password", "message": "second"},
                {"field": 3, "message": "junk"},
                "junk",
            ],
        },
    )
    assert problem.errors == {"password": "Use at least 12 characters."}
    assert problem.detail == "Some fields are missing or invalid."
    assert problem_of(502, "<html>").detail == "Something went wrong"


def test_profile_form_keeps_rows_in_order_and_drops_blank_and_removed_ones() -> None:
    fields = {
        "availability.0.day": "mon", "availability.0.start": "18:00", "availability.0.end": "21:00",
        "availability.1.day": "", "availability.1.start": "", "availability.1.end": "",
        "availability.2.day": "tue", "availability.2.start": "09:00", "availability.2.end": "10:00",
        "availability.2.remove": "yes",
        "availability.3.day": "sat", "availability.3.start": "10:00", "availability.3.end": "12:00",
        "skill.canvassing": "3", "skill.leafleting": "", "travel_radius_km": "12", "remote_ok": "yes",
    }  # fmt: skip
    form = ProfileForm.from_fields(fields, ["canvassing", "leafleting"])
    body, errors = form.body({"canvassing": "kept note"})
    assert errors == {}
    assert body["availability"] == [
        {"day": "mon", "start": "18:00", "end": "21:00"},
        {"day": "sat", "start": "10:00", "end": "12:00"},
    ]
    assert body["skills"] == [{"slug": "canvassing", "level": 3, "note": "kept note"}]
    assert body["travel_radius_km"] == 12 and body["remote_ok"] is True and body["max_hours_per_week"] is None


def test_profile_form_reports_numbers_it_cannot_read() -> None:
    form = ProfileForm.from_fields({"travel_radius_km": "ten", "max_hours_per_week": "-1", "skill.x": "9"}, ["x"])
    _, errors = form.body({})
    assert set(errors) == {"travel_radius_km", "max_hours_per_week"}
    form = ProfileForm.from_fields({"skill.x": "nine"}, ["x"])
    assert set(form.body({})[1]) == {"skill.x"}


def test_api_skill_errors_land_on_the_skill_they_are_about() -> None:
    body = {"skills": [{"slug": "canvassing"}, {"slug": "driving"}]}
    mapped = profile_errors({"skills.1.level": "Use 1 to 5.", "availability.0.end": "End later."}, body)
    assert mapped == {"skill.driving": "Use 1 to 5.", "availability.0.end": "End later."}


def test_request_form_reads_local_times_in_the_sites_zone() -> None:
    form = RequestForm.from_fields(
        {
            "title": " T ",
            "skills.0.slug": "driving",
            "skills.0.min_level": "2",
            "skills.0.people": "3",
            "skills.1.slug": "",
            "starts_at": "2026-07-01T10:00",
            "ends_at": "2026-12-01T10:00",
        }  # fmt: skip
    )
    body, errors = form.body(ZoneInfo("Europe/London"))
    assert errors == {}
    assert body["skills"] == [{"slug": "driving", "min_level": 2, "people": 3}]
    assert body["starts_at"] == "2026-07-01T10:00:00+01:00"
    assert body["ends_at"] == "2026-12-01T10:00:00+00:00"
    assert body["title"] == "T"


def test_request_form_reports_unreadable_times_and_numbers() -> None:
    form = RequestForm.from_fields({"skills.0.slug": "driving", "skills.0.people": "lots", "starts_at": "soon"})
    _, errors = form.body(ZoneInfo("Europe/London"))
    assert set(errors) == {"skills.0.people", "starts_at"}
