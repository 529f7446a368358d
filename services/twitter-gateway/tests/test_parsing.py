"""Reading tweets: intent, skills from the taxonomy, the constituency, and text that is not a tweet."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lx_contracts.constituencies import all_constituencies
from twitter_svc.parsing import MAX_TEXT, SkillTerm, TweetParser, clean_text, constituency_short_forms

pytestmark = pytest.mark.unit

WITHINGTON = "E14001354"
RUSHOLME = "E14001353"
SUTTON_AND_CHEAM = "E14001534"
SEED = Path(__file__).resolve().parents[2] / "skills" / "migrations" / "002_seed_skills.sql"

# A slice of the seeded taxonomy, written out so these tests read on their own.
SKILLS = [
    SkillTerm("canvassing", "Canvassing", ("canvasser", "canvass", "door knocking", "door-to-door", "on the doors")),
    SkillTerm("phone-banking", "Phone banking", ("phone bank", "phonebank", "phone banker", "calling voters")),
    SkillTerm("leafleting", "Leafleting", ("leaflets", "leaflet delivery", "delivering leaflets", "flyers")),
    SkillTerm(
        "graphic-design", "Graphic design", ("designer", "graphic designer", "design leaflets", "posters", "canva")
    ),
    SkillTerm("driving", "Driving", ("driver", "lifts", "giving lifts")),
    SkillTerm("public-speaking", "Public speaking", ("speaker", "talks")),
    SkillTerm("childcare", "Childcare", ("babysitting", "crèche", "creche")),
    SkillTerm("first-aid", "First aid", ("first aider", "first-aider")),
    SkillTerm("translation", "Translation and interpreting", ("translator", "interpreter")),
]


@pytest.fixture(scope="module")
def parser() -> TweetParser:
    return TweetParser(SKILLS)


def seeded_skills() -> list[SkillTerm]:
    sql = SEED.read_text("utf-8")
    rows = re.finditer(r"\('([a-z-]+)', '([^']+)', '[a-z-]+',\s*'(?:[^']|'')*',\s*ARRAY\[([^\]]*)\]\)", sql)
    return [SkillTerm(m.group(1), m.group(2), tuple(re.findall(r"'([^']*)'", m.group(3)))) for m in rows]


# --- the example --------------------------------------------------------------------------


def test_example_tweet_asks_for_graphic_design_in_withington(parser: TweetParser) -> None:
    parsed = parser.parse("Need someone to design leaflets in Withington this weekend #LabourExchange")
    assert parsed.intent == "ask"
    assert parsed.skills == ["graphic-design"]
    assert parsed.constituency_code == WITHINGTON


def test_example_tweet_reads_the_same_with_the_seeded_taxonomy() -> None:
    skills = seeded_skills()
    assert len(skills) == 41
    parsed = TweetParser(skills).parse("Need someone to design leaflets in Withington this weekend #LabourExchange")
    assert (parsed.intent, parsed.skills, parsed.constituency_code) == ("ask", ["graphic-design"], WITHINGTON)


def test_delivering_leaflets_is_leafleting_not_design(parser: TweetParser) -> None:
    assert parser.parse("Can anyone deliver leaflets in Rusholme?").skills == ["leafleting"]
    assert parser.parse("Need help delivering leaflets").skills == ["leafleting"]


# --- intent ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "We need canvassers on Saturday",
        "Volunteers needed for phone banking",
        "Looking for a driver tomorrow",
        "Can anyone help with first aid at the rally?",
        "Anyone able to do a crèche for the meeting",
        "Help wanted: leaflets",
        "Seeking a translator for the hustings",
        "Drivers wanted for polling day",
        "Any designers free this weekend?",
        "I can canvass but we need a designer",
    ],
)
def test_tweets_that_ask_are_asks(parser: TweetParser, text: str) -> None:
    assert parser.parse(text).intent == "ask"


@pytest.mark.parametrize(
    "text",
    [
        "I can drive people to the polls on Thursday",
        "Happy to do phone banking from home",
        "Available to canvass in Withington on Sunday",
        "Offering babysitting for anyone going out on the doors",
        "I'm a graphic designer and can help with posters",
        "Can help with translation (Urdu, Punjabi)",
        "Happy to help if anyone needs a driver",
    ],
)
def test_tweets_that_offer_are_offers(parser: TweetParser, text: str) -> None:
    assert parser.parse(text).intent == "offer"


@pytest.mark.parametrize(
    "text",
    ["Great turnout at the rally tonight!", "I always wanted to say thanks to everyone", "Polls close at 10pm", ""],
)
def test_tweets_that_neither_ask_nor_offer_are_other(parser: TweetParser, text: str) -> None:
    assert parser.parse(text).intent == "other"


# --- skills ----------------------------------------------------------------------------------------


def test_skills_come_in_order_of_appearance_once_each(parser: TweetParser) -> None:
    parsed = parser.parse("Need a driver, a canvasser and another driver, plus someone on the doors")
    assert parsed.skills == ["driving", "canvassing"]


def test_synonyms_and_inflections_match_whole_words(parser: TweetParser) -> None:
    assert parser.parse("Door knocking tonight").skills == ["canvassing"]
    assert parser.parse("DOOR TO DOOR tonight").skills == ["canvassing"]
    assert parser.parse("Canvassers and designers wanted").skills == ["canvassing", "graphic-design"]
    assert parser.parse("Anyone designing leaflets?").skills == ["graphic-design"]
    assert parser.parse("we need two drivers").skills == ["driving"]
    # Inside another word is not a match.
    assert parser.parse("Clear the driveway, then redesign the subleaflets page").skills == []


def test_plural_only_synonyms_are_not_cut_down(parser: TweetParser) -> None:
    assert parser.parse("Can we talk about it?").skills == []
    assert parser.parse("Short talks at the meeting").skills == ["public-speaking"]


def test_hashtags_name_skills(parser: TweetParser) -> None:
    assert parser.parse("#canvassing this Saturday").skills == ["canvassing"]
    assert parser.parse("Join us #PhoneBanking").skills == ["phone-banking"]
    assert parser.parse("Join us #phonebanking tonight").skills == ["phone-banking"]
    assert parser.parse("#first_aid needed").skills == ["first-aid"]


def test_accents_and_hyphens_do_not_matter(parser: TweetParser) -> None:
    assert parser.parse("Creche needed").skills == ["childcare"]
    assert parser.parse("First-aider needed").skills == ["first-aid"]


def test_mentions_and_links_do_not_name_skills(parser: TweetParser) -> None:
    assert parser.parse("@driver_dave see https://example.org/canvassing").skills == []


def test_a_taxonomy_with_no_skills_finds_none() -> None:
    assert TweetParser([]).parse("Need a canvasser in Withington").skills == []


# --- constituencies --------------------------------------------------------------------------------


def test_full_names_match_in_any_case_and_punctuation(parser: TweetParser) -> None:
    assert parser.parse("in manchester withington").constituency_code == WITHINGTON
    assert parser.parse("Sutton & Cheam canvass").constituency_code == SUTTON_AND_CHEAM
    assert parser.parse("Sutton and Cheam").constituency_code == SUTTON_AND_CHEAM
    stoke = next(c.code for c in all_constituencies() if c.name == "Stoke-on-Trent Central")
    assert parser.parse("STOKE ON TRENT CENTRAL!").constituency_code == stoke
    ynys = next(c.code for c in all_constituencies() if c.name == "Ynys Môn")
    assert parser.parse("Ynys Mon this week").constituency_code == ynys


def test_every_constituency_name_finds_itself(parser: TweetParser) -> None:
    for place in all_constituencies():
        assert parser.parse(f"Need help in {place.name} please").constituency_code == place.code, place.name


def test_hashtag_forms_name_the_constituency(parser: TweetParser) -> None:
    assert parser.parse("#ManchesterWithington").constituency_code == WITHINGTON
    assert parser.parse("#manchesterwithington").constituency_code == WITHINGTON
    assert parser.parse("#Withington").constituency_code == WITHINGTON


def test_short_forms_come_from_the_data(parser: TweetParser) -> None:
    short = constituency_short_forms()
    assert short["withington"] == WITHINGTON
    assert short["rusholme"] == RUSHOLME
    assert parser.parse("Canvassing in Rusholme").constituency_code == RUSHOLME
    assert parser.parse("Edgbaston leaflets").constituency_code == short["edgbaston"]
    # Generic words and everyday words never become short forms.
    for word in ("central", "north", "east", "test", "riverside", "pavilion", "city"):
        assert word not in short
    # A short form appears in no other constituency's name ("Lothian" is not a word of "Midlothian").
    for form, code in short.items():
        others = [
            c.name
            for c in all_constituencies()
            if c.code != code and f" {form} " in " " + " ".join(re.findall(r"\w+", c.name.lower())) + " "
        ]
        assert not others, (form, others)


def test_ambiguous_places_give_no_constituency(parser: TweetParser) -> None:
    assert parser.parse("Need help in Manchester").constituency_code is None  # three constituencies
    assert parser.parse("Help in Leeds").constituency_code is None
    assert parser.parse("Southampton Test").constituency_code is not None
    assert parser.parse("This is a test").constituency_code is None
    assert parser.parse("Withington and Rusholme both need people").constituency_code is None


def test_longest_name_wins_over_its_parts(parser: TweetParser) -> None:
    kingston_hull_east = next(c.code for c in all_constituencies() if c.name == "Kingston upon Hull East")
    assert parser.parse("Kingston upon Hull East").constituency_code == kingston_hull_east
    assert parser.parse("Manchester Withington, i.e. Withington").constituency_code == WITHINGTON


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \t\n ",
        "🎉🔥🙌" * 50,
        "نحتاج إلى متطوعين في ويثينغتون",
        "שלום עולם",
        "我们需要志愿者",
        "<script>alert('x')</script><b>need</b> a driver",
        "'; DROP TABLE requests; -- need a driver",
        "need\x00 a\x07 driver\x1b[31m in\u202eWithington",
        "\ud800 broken surrogate need a driver",
        "#" * 500,
        "@" * 500,
        "#_ #__ #",
        "a" * 100_000,
        ("need a driver in Withington " * 4000),
    ],
)
def test_bad_input_never_raises_and_gives_sane_output(parser: TweetParser, text: str) -> None:
    parsed = parser.parse(text)
    assert parsed.intent in ("ask", "offer", "other")
    assert all(isinstance(slug, str) for slug in parsed.skills)
    assert parsed.constituency_code is None or len(parsed.constituency_code) == 9


def test_markup_and_sql_are_just_words(parser: TweetParser) -> None:
    parsed = parser.parse("<script>alert('x')</script> '; DROP TABLE requests; -- need a driver in Withington")
    assert (parsed.intent, parsed.skills, parsed.constituency_code) == ("ask", ["driving"], WITHINGTON)


def test_clean_text_drops_controls_normalises_and_caps() -> None:
    assert clean_text("a\x00b\x07c") == "abc"
    assert clean_text("line one\nline\ttwo\r\n  three ") == "line one line two three"
    assert clean_text("e\u0301") == "\u00e9"  # NFC
    assert clean_text("right\u202eleft") == "rightleft"
    assert clean_text("\ud800x") == "x"
    assert clean_text("") == ""
    assert clean_text(None) == ""  # type: ignore[arg-type]
    long = clean_text("word " * 100_000)
    assert len(long) <= MAX_TEXT
    assert not long.endswith(" ")
    assert clean_text("👍🏽 שלום") == "👍🏽 שלום"
