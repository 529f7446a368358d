"""Skills rules: the taxonomy, volunteer profiles, availability, constituency search and the import CSV.

Plain Python, no I/O: every check collects all the problems it finds so a person can fix them at once.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field

from lx_contracts.constituencies import Constituency, all_constituencies, by_code

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

MAX_TRAVEL_RADIUS_KM = 500
MAX_HOURS_PER_WEEK = 168
MAX_NOTE = 500
MAX_SKILLS = 50
MAX_WINDOWS = 28
MIN_LEVEL, MAX_LEVEL = 1, 5
# An empty profile: nowhere, no travel, not remote, hours unsaid, nothing offered.
DEFAULT_TRAVEL_RADIUS_KM = 0

MAX_SLUG = 60
MAX_SKILL_NAME = 80
MAX_CATEGORY = 40
MAX_DESCRIPTION = 500
MAX_SYNONYMS = 30
MAX_SYNONYM = 60

MAX_EMAIL = 254
MAX_DISPLAY_NAME = 80

IMPORT_HEADER = ("email", "display_name", "constituency_code", "skills")
MAX_IMPORT_ROWS = 5000

_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2})")
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class RuleBroken(Exception):
    """Input breaks one or more rules; each error names the field at fault."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


def _has_control_characters(text: str, *, allow_newlines: bool = False) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch not in allowed for ch in text)


# -- times and availability ----------------------------------------------------------------------


def parse_time(value: str, *, end: bool = False) -> int | None:
    """Minutes after midnight for `HH:MM` (00:00-23:59; an end may also be 24:00), else None."""
    match = _TIME_RE.fullmatch(value)
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if end and hours == 24 and minutes == 0:
        return 24 * 60
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


@dataclass(frozen=True)
class Window:
    """A weekly availability window on one day; `end` may be 24:00 (midnight at the end of the day)."""

    day: str
    start: str
    end: str

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return DAYS.index(self.day), self.start, self.end


@dataclass(frozen=True)
class SkillLevel:
    slug: str
    level: int
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """A volunteer profile in canonical order: windows by day then time, skills by level (highest first)
    then slug, so two profiles that say the same thing compare equal."""

    constituency_code: str | None = None
    travel_radius_km: int = DEFAULT_TRAVEL_RADIUS_KM
    remote_ok: bool = False
    max_hours_per_week: int | None = None
    availability: tuple[Window, ...] = ()
    skills: tuple[SkillLevel, ...] = ()

    def without_notes(self) -> Profile:
        """What other services may see: the profile with the free-text notes left out."""
        return Profile(
            constituency_code=self.constituency_code,
            travel_radius_km=self.travel_radius_km,
            remote_ok=self.remote_ok,
            max_hours_per_week=self.max_hours_per_week,
            availability=self.availability,
            skills=tuple(SkillLevel(s.slug, s.level) for s in self.skills),
        )


EMPTY_PROFILE = Profile()


@dataclass(frozen=True)
class WindowInput:
    day: str
    start: str
    end: str


@dataclass(frozen=True)
class SkillInput:
    slug: str
    level: int
    note: str = ""


def check_availability(windows: Sequence[WindowInput], *, prefix: str = "availability") -> list[FieldError]:
    """Each window: a known day, HH:MM times, start before end; no two windows on a day overlap."""
    if len(windows) > MAX_WINDOWS:
        return [FieldError(prefix, f"Give at most {MAX_WINDOWS} windows; merge neighbouring ones.")]
    errors: list[FieldError] = []
    valid: list[tuple[int, str, int, int]] = []  # index, day, start, end
    for i, w in enumerate(windows):
        here = f"{prefix}.{i}"
        day_ok = w.day in DAYS
        if not day_ok:
            errors.append(FieldError(f"{here}.day", "Use one of mon, tue, wed, thu, fri, sat, sun."))
        start = parse_time(w.start)
        end = parse_time(w.end, end=True)
        if start is None:
            errors.append(FieldError(f"{here}.start", "Use 24-hour HH:MM between 00:00 and 23:59."))
        if end is None:
            errors.append(FieldError(f"{here}.end", "Use 24-hour HH:MM between 00:01 and 24:00."))
        if start is None or end is None:
            continue
        if start >= end:
            errors.append(
                FieldError(f"{here}.end", "End after the start, on the same day; split an overnight window in two.")
            )
            continue
        if not day_ok:
            continue
        for j, day, other_start, other_end in valid:
            if day == w.day and start < other_end and other_start < end:
                errors.append(
                    FieldError(
                        here,
                        f"Overlaps {prefix}.{j} ({day} {windows[j].start}-{windows[j].end}); "
                        "merge them or change the times.",
                    )
                )
                break
        else:
            valid.append((i, w.day, start, end))
    return errors


def check_skill_levels(
    skills: Sequence[SkillInput], *, known_skills: Container[str], prefix: str = "skills"
) -> list[FieldError]:
    """Known slugs, each once, levels 1-5, notes of at most 500 characters."""
    if len(skills) > MAX_SKILLS:
        return [FieldError(prefix, f"Give at most {MAX_SKILLS} skills.")]
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for i, s in enumerate(skills):
        here = f"{prefix}.{i}"
        if s.slug not in known_skills:
            errors.append(FieldError(f"{here}.slug", "Unknown skill; GET /api/v1/skills lists them."))
        elif s.slug in seen:
            errors.append(FieldError(f"{here}.slug", f"Listed twice (also {prefix}.{seen[s.slug]})."))
        else:
            seen[s.slug] = i
        if not MIN_LEVEL <= s.level <= MAX_LEVEL:
            errors.append(FieldError(f"{here}.level", "Use a level from 1 (beginner) to 5 (expert)."))
        if len(s.note) > MAX_NOTE:
            errors.append(FieldError(f"{here}.note", f"Use at most {MAX_NOTE} characters."))
        elif _has_control_characters(s.note, allow_newlines=True):
            errors.append(FieldError(f"{here}.note", "Remove control or invisible characters."))
    return errors


def normalise_constituency_code(code: str) -> str:
    return code.strip().upper()


def check_profile(
    *,
    constituency_code: str | None,
    travel_radius_km: int,
    remote_ok: bool,
    max_hours_per_week: int | None,
    availability: Sequence[WindowInput],
    skills: Sequence[SkillInput],
    known_skills: Container[str],
) -> Profile:
    """The profile these inputs describe, in canonical order; RuleBroken lists every problem."""
    errors: list[FieldError] = []
    code = normalise_constituency_code(constituency_code) if constituency_code is not None else None
    if code is not None and by_code(code) is None:
        errors.append(FieldError("constituency_code", "Unknown constituency code; GET /api/v1/constituencies."))
    if not 0 <= travel_radius_km <= MAX_TRAVEL_RADIUS_KM:
        errors.append(FieldError("travel_radius_km", f"Use 0 to {MAX_TRAVEL_RADIUS_KM} km."))
    if max_hours_per_week is not None and not 0 <= max_hours_per_week <= MAX_HOURS_PER_WEEK:
        errors.append(FieldError("max_hours_per_week", f"Use 0 to {MAX_HOURS_PER_WEEK} hours, or null."))
    errors += check_availability(availability)
    errors += check_skill_levels(skills, known_skills=known_skills)
    if errors:
        raise RuleBroken(errors)
    return Profile(
        constituency_code=code,
        travel_radius_km=travel_radius_km,
        remote_ok=remote_ok,
        max_hours_per_week=max_hours_per_week,
        availability=canonical_windows(Window(w.day, w.start, w.end) for w in availability),
        skills=canonical_skills(SkillLevel(s.slug, s.level, s.note.strip()) for s in skills),
    )


def canonical_windows(windows: Iterable[Window]) -> tuple[Window, ...]:
    return tuple(sorted(windows, key=lambda w: w.sort_key))


def canonical_skills(skills: Iterable[SkillLevel]) -> tuple[SkillLevel, ...]:
    return tuple(sorted(skills, key=lambda s: (-s.level, s.slug)))


# -- the taxonomy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skill:
    slug: str
    name: str
    category: str
    description: str = ""
    synonyms: tuple[str, ...] = field(default_factory=tuple)


def check_new_skill(*, slug: str, name: str, category: str, description: str, synonyms: Sequence[str]) -> Skill:
    """A skill an admin adds: lowercase-hyphen slug and category, a name, short synonyms (lowercased, once each)."""
    errors: list[FieldError] = []
    slug = slug.strip()
    if not (2 <= len(slug) <= MAX_SLUG and _SLUG_RE.fullmatch(slug)):
        errors.append(
            FieldError("slug", f"Use 2 to {MAX_SLUG} lowercase letters, digits and single hyphens, like web-design.")
        )
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_SKILL_NAME or _has_control_characters(name):
        errors.append(FieldError("name", f"Use 1 to {MAX_SKILL_NAME} printable characters."))
    category = category.strip()
    if not (2 <= len(category) <= MAX_CATEGORY and _SLUG_RE.fullmatch(category)):
        errors.append(FieldError("category", "Use a lowercase-hyphen category, like campaigning or digital."))
    description = description.strip()
    if len(description) > MAX_DESCRIPTION or _has_control_characters(description, allow_newlines=True):
        errors.append(FieldError("description", f"Use at most {MAX_DESCRIPTION} printable characters."))
    clean: list[str] = []
    if len(synonyms) > MAX_SYNONYMS:
        errors.append(FieldError("synonyms", f"Give at most {MAX_SYNONYMS} synonyms."))
    else:
        for i, synonym in enumerate(synonyms):
            word = " ".join(synonym.split()).lower()
            if not 1 <= len(word) <= MAX_SYNONYM or _has_control_characters(word):
                errors.append(FieldError(f"synonyms.{i}", f"Use 1 to {MAX_SYNONYM} printable characters."))
            elif word not in clean:
                clean.append(word)
    if errors:
        raise RuleBroken(errors)
    return Skill(slug=slug, name=name, category=category, description=description, synonyms=tuple(clean))


# -- constituencies ------------------------------------------------------------------------------

_PUNCTUATION_RE = re.compile(r"[^a-z0-9 ]+")


def normalise_place(text: str) -> str:
    """Lowercase, accents and punctuation gone, `&` and the word `and` dropped, spaces collapsed:
    "Ynys Môn" → "ynys mon", "Brighton Kemptown & Peacehaven" → "brighton kemptown peacehaven"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("&", " and "))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _PUNCTUATION_RE.sub(" ", ascii_only.replace("'", "").replace("\u2019", "")).split()
    return " ".join(w for w in words if w != "and")


def search_constituencies(query: str | None) -> list[Constituency]:
    """Constituencies whose name contains the query (ignoring case, accents, punctuation and "and"),
    or whose code it is; every one without a query. Sorted by name."""
    everything = sorted(all_constituencies(), key=lambda c: c.name)
    q = (query or "").strip()
    if not q:
        return everything
    plain, loose, code = q.lower(), normalise_place(q), q.upper()
    return [
        c
        for c in everything
        if plain in c.name.lower() or (loose and loose in normalise_place(c.name)) or c.code == code
    ]


def resolve_constituency(value: str) -> str | None:
    """A constituency code from a code or a name (case, accents, punctuation and "and" ignored)."""
    text = value.strip()
    if not text:
        return None
    if by_code(text.upper()) is not None:
        return text.upper()
    wanted = normalise_place(text)
    for c in all_constituencies():
        if normalise_place(c.name) == wanted:
            return c.code
    return None


# -- people --------------------------------------------------------------------------------------


def normalise_email(value: str) -> str | None:
    """The trimmed address if it looks like one, else None (identity has the final say)."""
    email = value.strip()
    if len(email) > MAX_EMAIL or not _EMAIL_RE.fullmatch(email):
        return None
    return email


def normalise_display_name(value: str) -> str | None:
    name = " ".join(value.split())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME or _has_control_characters(name):
        return None
    return name


# -- the supporter import CSV --------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


@dataclass(frozen=True)
class ImportRow:
    """A row that passed every check. `row` is its number as a spreadsheet shows it (the header is row 1)."""

    row: int
    email: str
    display_name: str
    constituency_code: str
    skills: tuple[SkillLevel, ...]

    @property
    def profile(self) -> Profile:
        """The profile an import gives an account it manages: where they are and what they can do."""
        return Profile(constituency_code=self.constituency_code, skills=self.skills)


@dataclass(frozen=True)
class ImportPlan:
    rows: list[ImportRow]
    errors: list[RowError]


def parse_skill_list(text: str, *, known_skills: Container[str]) -> tuple[tuple[SkillLevel, ...], list[str]]:
    """`slug:level;slug:level` (spaces and a trailing `;` tolerated) → skills, and messages for what is wrong."""
    problems: list[str] = []
    found: list[SkillLevel] = []
    parts = [p.strip() for p in text.split(";")]
    parts = [p for p in parts if p]
    if len(parts) > MAX_SKILLS:
        return (), [f"Give at most {MAX_SKILLS} skills."]
    seen: set[str] = set()
    for part in parts:
        slug, colon, level_text = (x.strip() for x in part.partition(":"))
        slug = slug.lower()
        if not colon or not level_text:
            problems.append(f"`{part}`: write skill:level, like graphic-design:4.")
            continue
        if slug not in known_skills:
            problems.append(f"`{slug}` is not a known skill slug; GET /api/v1/skills lists them.")
        elif slug in seen:
            problems.append(f"`{slug}` is listed twice.")
        if not (level_text.isascii() and level_text.isdigit() and MIN_LEVEL <= int(level_text) <= MAX_LEVEL):
            problems.append(f"`{part}`: the level must be a whole number from 1 to 5.")
            continue
        if slug in known_skills and slug not in seen:
            seen.add(slug)
            found.append(SkillLevel(slug, int(level_text)))
    return (canonical_skills(found) if not problems else ()), problems


class BadImport(Exception):
    """The file as a whole cannot be imported (wrong header, too many rows, not text)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def decode_csv(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadImport("body", "Save the file as CSV in UTF-8.") from exc


def parse_import(text: str, *, known_skills: Container[str], max_rows: int = MAX_IMPORT_ROWS) -> ImportPlan:
    """Check every row of a supporter import.

    The header must be `email,display_name,constituency_code,skills` (names trimmed, any case).
    `constituency_code` may hold the code or the constituency's name. `skills` is `slug:level;slug:level`
    and may be empty. A second row for the same email (case-insensitive) is an error on the later row.
    Blank lines are skipped but counted, so row numbers match what a spreadsheet shows.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    expected = ",".join(IMPORT_HEADER)
    try:
        header = next(reader, None)
        records = list(reader)
    except csv.Error as exc:
        raise BadImport("body", f"This is not readable CSV: {exc}.") from exc
    if header is None or tuple(h.strip().lower() for h in header) != IMPORT_HEADER:
        raise BadImport("header", f"The first line must be exactly `{expected}`.")
    data_rows = [r for r in records if any(cell.strip() for cell in r)]
    if len(data_rows) > max_rows:
        raise BadImport("body", f"Import at most {max_rows:,} rows at a time; split the file.")

    rows: list[ImportRow] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    for index, record in enumerate(records):
        number = index + 2
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(IMPORT_HEADER):
            errors.append(RowError(number, "row", f"Expected {len(IMPORT_HEADER)} columns, found {len(record)}."))
            continue
        raw_email, raw_name, raw_place, raw_skills = record
        bad: list[RowError] = []
        email = normalise_email(raw_email)
        if email is None:
            bad.append(RowError(number, "email", "Enter an email address like name@example.org."))
        elif email.lower() in first_row_of:
            bad.append(RowError(number, "email", f"This email is already on row {first_row_of[email.lower()]}."))
        else:
            first_row_of[email.lower()] = number
        name = normalise_display_name(raw_name)
        if name is None:
            bad.append(RowError(number, "display_name", f"Use 1 to {MAX_DISPLAY_NAME} printable characters."))
        code = resolve_constituency(raw_place)
        if code is None:
            message = "Give a constituency code or name." if not raw_place.strip() else "Unknown constituency."
            bad.append(RowError(number, "constituency_code", message))
        skills, problems = parse_skill_list(raw_skills, known_skills=known_skills)
        bad += [RowError(number, "skills", p) for p in problems]
        if bad or email is None or name is None or code is None:
            errors += bad
            continue
        rows.append(ImportRow(number, email, name, code, skills))
    return ImportPlan(rows=rows, errors=errors)
