"""Profile, availability, taxonomy, constituency and import CSV rules, without a database."""

from __future__ import annotations

import pytest

from skills_svc.domain import (
    EMPTY_PROFILE,
    BadImport,
    FieldError,
    Profile,
    RuleBroken,
    SkillInput,
    SkillLevel,
    Window,
    WindowInput,
    check_availability,
    check_new_skill,
    check_profile,
    check_skill_levels,
    decode_csv,
    normalise_place,
    parse_import,
    parse_time,
    resolve_constituency,
    search_constituencies,
)

pytestmark = pytest.mark.unit

KNOWN = {"graphic-design", "leafleting", "canvassing", "video"}
HEADER = "email,display_name,constituency_code,skills\n"
WITHINGTON = "E14001354"


def fields(errors: list[FieldError]) -> list[str]:
    return [e.field for e in errors]


def profile(**overrides: object) -> Profile:
    args: dict[str, object] = {
        "constituency_code": WITHINGTON,
        "travel_radius_km": 10,
        "remote_ok": True,
        "max_hours_per_week": 6,
        "availability": [],
        "skills": [],
        "known_skills": KNOWN,
    }
    args.update(overrides)
    return check_profile(**args)  # type: ignore[arg-type]


def broken(**overrides: object) -> list[str]:
    with pytest.raises(RuleBroken) as err:
        profile(**overrides)
    return fields(err.value.errors)


# -- times and windows -------------------------------------------------------------------------


def test_times_are_24_hour_hh_mm() -> None:
    assert parse_time("00:00") == 0
    assert parse_time("09:30") == 570
    assert parse_time("23:59") == 23 * 60 + 59
    for bad in ("9:30", "24:00", "23:60", "12:5", "noon", "12:00:00", "", " 09:00", "-1:00", "１２:００", "09:00\n"):
        assert parse_time(bad) is None, bad


def test_only_an_end_may_be_midnight_at_24_00() -> None:
    assert parse_time("24:00", end=True) == 24 * 60
    assert parse_time("24:01", end=True) is None
    assert check_availability([WindowInput("mon", "18:00", "24:00")]) == []
    assert fields(check_availability([WindowInput("mon", "24:00", "24:00")])) == ["availability.0.start"]


def test_a_window_must_end_after_it_starts() -> None:
    errors = check_availability([WindowInput("mon", "09:00", "12:00"), WindowInput("tue", "22:00", "02:00")])
    assert fields(errors) == ["availability.1.end"]
    assert "overnight" in errors[0].message
    assert fields(check_availability([WindowInput("wed", "10:00", "10:00")])) == ["availability.0.end"]


def test_malformed_times_and_days_are_named() -> None:
    errors = check_availability([WindowInput("mon", "9am", "12:00"), WindowInput("monday", "10:00", "25:00")])
    assert fields(errors) == ["availability.0.start", "availability.1.day", "availability.1.end"]


def test_overlapping_windows_on_one_day_are_refused_on_the_later_window() -> None:
    errors = check_availability(
        [
            WindowInput("sat", "10:00", "13:00"),
            WindowInput("sun", "11:00", "12:00"),
            WindowInput("sat", "12:30", "15:00"),
        ]
    )
    assert fields(errors) == ["availability.2"]
    assert "availability.0" in errors[0].message


def test_a_window_inside_another_overlaps_it() -> None:
    errors = check_availability([WindowInput("fri", "09:00", "17:00"), WindowInput("fri", "12:00", "13:00")])
    assert fields(errors) == ["availability.1"]


def test_windows_that_touch_do_not_overlap() -> None:
    assert check_availability([WindowInput("mon", "09:00", "12:00"), WindowInput("mon", "12:00", "14:00")]) == []


def test_at_most_28_windows() -> None:
    many = [WindowInput(day, f"{h:02d}:00", f"{h:02d}:30") for day in ("mon", "tue", "wed") for h in range(10)]
    assert fields(check_availability(many)) == ["availability"]
    assert check_availability(many[:28]) == []


# -- skills on a profile -------------------------------------------------------------------------


def test_unknown_and_repeated_skill_slugs_are_named() -> None:
    errors = check_skill_levels(
        [SkillInput("graphic-design", 3), SkillInput("juggling", 2), SkillInput("graphic-design", 4)],
        known_skills=KNOWN,
    )
    assert fields(errors) == ["skills.1.slug", "skills.2.slug"]
    assert "skills.0" in errors[1].message


@pytest.mark.parametrize("level", [0, 6, -1, 100])
def test_levels_outside_1_to_5_are_refused(level: int) -> None:
    assert fields(check_skill_levels([SkillInput("video", level)], known_skills=KNOWN)) == ["skills.0.level"]


def test_notes_are_at_most_500_characters() -> None:
    assert check_skill_levels([SkillInput("video", 3, "x" * 500)], known_skills=KNOWN) == []
    errors = check_skill_levels([SkillInput("video", 3, "x" * 501)], known_skills=KNOWN)
    assert fields(errors) == ["skills.0.note"]


def test_at_most_50_skills() -> None:
    many = [SkillInput(f"skill-{i}", 3) for i in range(51)]
    assert fields(check_skill_levels(many, known_skills={s.slug for s in many})) == ["skills"]


# -- whole profiles ------------------------------------------------------------------------------


def test_a_good_profile_comes_back_in_canonical_order() -> None:
    p = profile(
        availability=[WindowInput("sat", "10:00", "13:00"), WindowInput("mon", "18:00", "21:00")],
        skills=[SkillInput("leafleting", 2), SkillInput("video", 4, "  Premiere  "), SkillInput("canvassing", 2)],
    )
    assert p.availability == (Window("mon", "18:00", "21:00"), Window("sat", "10:00", "13:00"))
    assert p.skills == (SkillLevel("video", 4, "Premiere"), SkillLevel("canvassing", 2), SkillLevel("leafleting", 2))


def test_the_same_profile_in_another_order_is_equal() -> None:
    a = profile(skills=[SkillInput("video", 4), SkillInput("canvassing", 2)])
    b = profile(skills=[SkillInput("canvassing", 2), SkillInput("video", 4)])
    assert a == b


def test_constituency_codes_are_checked_and_normalised() -> None:
    assert profile(constituency_code=" e14001354 ").constituency_code == WITHINGTON
    assert profile(constituency_code=None).constituency_code is None
    assert broken(constituency_code="E99999999") == ["constituency_code"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"travel_radius_km": -1}, "travel_radius_km"),
        ({"travel_radius_km": 501}, "travel_radius_km"),
        ({"max_hours_per_week": -1}, "max_hours_per_week"),
        ({"max_hours_per_week": 169}, "max_hours_per_week"),
    ],
)
def test_numbers_outside_their_range_are_refused(change: dict[str, int], field: str) -> None:
    assert broken(**change) == [field]


def test_range_edges_are_accepted() -> None:
    p = profile(travel_radius_km=500, max_hours_per_week=168)
    assert (p.travel_radius_km, p.max_hours_per_week) == (500, 168)
    assert profile(travel_radius_km=0, max_hours_per_week=0).max_hours_per_week == 0
    assert profile(max_hours_per_week=None).max_hours_per_week is None


def test_every_problem_is_reported_at_once() -> None:
    assert broken(
        constituency_code="nowhere",
        travel_radius_km=-5,
        availability=[WindowInput("mon", "12:00", "09:00")],
        skills=[SkillInput("nope", 9)],
    ) == ["constituency_code", "travel_radius_km", "availability.0.end", "skills.0.slug", "skills.0.level"]


def test_notes_stay_out_of_what_others_see() -> None:
    p = profile(skills=[SkillInput("video", 4, "my phone number is ...")])
    assert p.without_notes().skills == (SkillLevel("video", 4, ""),)
    assert p.without_notes() != p


def test_the_empty_profile_is_nowhere_with_nothing() -> None:
    assert EMPTY_PROFILE == Profile(None, 0, False, None, (), ())


# -- the taxonomy --------------------------------------------------------------------------------


def test_a_new_skill_is_tidied() -> None:
    skill = check_new_skill(
        slug="podcasting",
        name="  Podcast   production ",
        category="creative",
        description=" Recording audio. ",
        synonyms=["Podcast", "podcast", " audio   editing "],
    )
    assert skill.name == "Podcast production"
    assert skill.description == "Recording audio."
    assert skill.synonyms == ("podcast", "audio editing")


@pytest.mark.parametrize(
    "slug", ["web design", "Graphic-Design", "graphic_design", "-design", "design-", "a--b", "x", "a" * 61, ""]
)
def test_slugs_are_lowercase_words_joined_by_single_hyphens(slug: str) -> None:
    with pytest.raises(RuleBroken) as err:
        check_new_skill(slug=slug, name="A skill", category="digital", description="", synonyms=[])
    assert fields(err.value.errors) == ["slug"]


def test_a_new_skill_names_every_bad_field() -> None:
    with pytest.raises(RuleBroken) as err:
        check_new_skill(slug="ok-slug", name="", category="Big Category", description="x" * 501, synonyms=["", "ok"])
    assert fields(err.value.errors) == ["name", "category", "description", "synonyms.0"]


# -- constituencies ------------------------------------------------------------------------------


def test_place_names_are_compared_without_case_accents_punctuation_or_and() -> None:
    assert normalise_place("Ynys Môn") == "ynys mon"
    assert normalise_place("Argyll, Bute and South Lochaber") == "argyll bute south lochaber"
    assert normalise_place("Brighton Kemptown & Peacehaven") == "brighton kemptown peacehaven"
    assert normalise_place("St. Albans") == "st albans"


def test_search_finds_withington_by_part_of_its_name() -> None:
    found = search_constituencies("withington")
    assert [(c.code, c.name) for c in found] == [(WITHINGTON, "Manchester Withington")]


def test_search_ignores_and_punctuation_and_accents() -> None:
    assert [c.name for c in search_constituencies("brighton kemptown peacehaven")] == [
        "Brighton Kemptown and Peacehaven"
    ]
    assert [c.name for c in search_constituencies("argyll bute & south")] == ["Argyll, Bute and South Lochaber"]
    assert [c.name for c in search_constituencies("ynys mon")] == ["Ynys Môn"]


def test_search_without_a_query_lists_all_650_by_name() -> None:
    everything = search_constituencies(None)
    assert len(everything) == 650 == len(search_constituencies("  "))
    assert [c.name for c in everything] == sorted(c.name for c in everything)


def test_search_results_are_sorted_and_a_code_finds_its_constituency() -> None:
    manchester = [c.name for c in search_constituencies("MANCHESTER")]
    assert manchester == sorted(manchester) and "Manchester Withington" in manchester
    assert [c.code for c in search_constituencies(WITHINGTON.lower())] == [WITHINGTON]
    assert search_constituencies("atlantis") == []


def test_a_constituency_is_found_by_code_or_name() -> None:
    assert resolve_constituency("E14001354") == WITHINGTON
    assert resolve_constituency(" e14001354 ") == WITHINGTON
    assert resolve_constituency("manchester withington") == WITHINGTON
    assert resolve_constituency("Argyll Bute & South Lochaber") == "S14000067"
    assert resolve_constituency("Withington") is None, "a part of a name is not enough"
    assert resolve_constituency("") is None


# -- the import CSV ------------------------------------------------------------------------------


def plan(text: str, max_rows: int = 5000) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    result = parse_import(text, known_skills=KNOWN, max_rows=max_rows)
    return [(r.row, r.email) for r in result.rows], [(e.row, e.field) for e in result.errors]


def test_good_rows_become_profiles_with_constituency_and_skills() -> None:
    result = parse_import(
        HEADER + "sam@example.org,Sam Patel,E14001354,graphic-design:4;leafleting:2\n"
        "alex@example.org, Alex  Doe ,Manchester Withington,\n",
        known_skills=KNOWN,
    )
    assert result.errors == []
    sam, alex = result.rows
    assert (sam.row, sam.display_name, sam.constituency_code) == (2, "Sam Patel", WITHINGTON)
    assert sam.profile == Profile(WITHINGTON, skills=(SkillLevel("graphic-design", 4), SkillLevel("leafleting", 2)))
    assert (alex.row, alex.display_name, alex.profile.skills) == (3, "Alex Doe", ())


@pytest.mark.parametrize(
    "header",
    ["email,name,constituency_code,skills", "email,display_name,constituency_code", "", "a,b,c,d,e"],
)
def test_a_wrong_header_names_the_expected_one(header: str) -> None:
    with pytest.raises(BadImport) as err:
        parse_import(header + "\nsam@example.org,Sam,E14001354,\n", known_skills=KNOWN)
    assert err.value.field == "header"
    assert "email,display_name,constituency_code,skills" in err.value.message


def test_the_header_may_differ_in_case_and_spaces() -> None:
    rows, errors = plan(" Email , Display_Name,constituency_code,SKILLS\nsam@example.org,Sam,E14001354,\n")
    assert (rows, errors) == ([(2, "sam@example.org")], [])


def test_bad_rows_are_reported_by_spreadsheet_row_and_field() -> None:
    rows, errors = plan(
        HEADER + "good@example.org,Good,E14001354,video:3\n"
        "not-an-email,,Atlantis,juggling:3\n"
        "\n"
        "ok@example.org,Ok,E14001354,video:9;canvassing\n"
        "GOOD@example.org,Again,E14001354,\n"
        "too,many,columns,here,now\n"
    )
    assert rows == [(2, "good@example.org")]
    assert errors == [
        (3, "email"),
        (3, "display_name"),
        (3, "constituency_code"),
        (3, "skills"),
        (5, "skills"),
        (5, "skills"),
        (6, "email"),
        (7, "row"),
    ]


def test_skill_lists_tolerate_spaces_case_and_a_trailing_semicolon() -> None:
    result = parse_import(HEADER + "a@example.org,A,E14001354, Video : 3 ; leafleting:1;\n", known_skills=KNOWN)
    assert result.errors == []
    assert result.rows[0].skills == (SkillLevel("video", 3), SkillLevel("leafleting", 1))


def test_a_skill_listed_twice_in_a_row_is_an_error() -> None:
    _, errors = plan(HEADER + "a@example.org,A,E14001354,video:3;video:4\n")
    assert errors == [(2, "skills")]


def test_a_missing_constituency_is_an_error() -> None:
    result = parse_import(HEADER + "a@example.org,A,,video:3\n", known_skills=KNOWN)
    assert [(e.row, e.field, e.message) for e in result.errors] == [
        (2, "constituency_code", "Give a constituency code or name.")
    ]


def test_more_rows_than_the_limit_refuse_the_whole_file() -> None:
    text = HEADER + "".join(f"p{i}@example.org,P,E14001354,\n" for i in range(4))
    assert len(plan(text, max_rows=4)[0]) == 4
    with pytest.raises(BadImport) as err:
        plan(text, max_rows=3)
    assert err.value.field == "body"


def test_quoted_fields_may_hold_commas() -> None:
    rows, errors = plan(HEADER + 'a@example.org,"Patel, Sam","Argyll, Bute and South Lochaber",\n')
    assert (rows, errors) == ([(2, "a@example.org")], [])


def test_csv_must_be_utf8_and_a_byte_order_mark_is_ignored() -> None:
    assert decode_csv("\ufeffemail".encode()) == "email"
    with pytest.raises(BadImport):
        decode_csv("café".encode("latin-1"))


def test_a_header_only_file_imports_nothing() -> None:
    assert plan(HEADER) == ([], [])
