"""Turning posted HTML forms into API bodies and the API's field errors back onto the form's fields.

Pure functions (no I/O), so what a person typed is kept and errors land next to the right field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

DAYS = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
]
MAX_ROWS = 28
_INDEXED = re.compile(r"^(availability|skills)\.(\d+)(?:\.(\w+))?$")


def whole_number(value: str, *, field_name: str, message: str, errors: dict[str, str]) -> int | None:
    """A non-negative whole number, or None for blank; a message in `errors` when it is neither."""
    text = value.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 6:
        errors[field_name] = message
        return None
    return int(text)


def rows_of(fields: dict[str, str], prefix: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """Numbered rows (`prefix.0.key`, `prefix.1.key`...) in order, as posted."""
    numbers = set()
    for name in fields:
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == prefix and parts[1].isdigit() and int(parts[1]) < MAX_ROWS * 4:
            numbers.add(int(parts[1]))
    return [{k: fields.get(f"{prefix}.{n}.{k}", "").strip() for k in keys} for n in sorted(numbers)]


# -- the volunteer profile ------------------------------------------------------------------------------


@dataclass
class ProfileForm:
    """The profile form as typed: re-rendered as it is when something is wrong."""

    constituency_code: str = ""
    travel_radius_km: str = "0"
    remote_ok: bool = False
    max_hours_per_week: str = ""
    windows: list[dict[str, str]] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)  # skill slug -> "1".."5"

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> ProfileForm:
        hours = profile.get("max_hours_per_week")
        return cls(
            constituency_code=profile.get("constituency_code") or "",
            travel_radius_km=str(profile.get("travel_radius_km") or 0),
            remote_ok=bool(profile.get("remote_ok")),
            max_hours_per_week="" if hours is None else str(hours),
            windows=[{"day": w["day"], "start": w["start"], "end": w["end"]} for w in profile.get("availability", [])],
            levels={s["slug"]: str(s["level"]) for s in profile.get("skills", [])},
        )

    @classmethod
    def from_fields(cls, fields: dict[str, str], skill_slugs: list[str]) -> ProfileForm:
        windows = [
            {"day": r["day"], "start": r["start"], "end": r["end"]}
            for r in rows_of(fields, "availability", ("day", "start", "end", "remove"))
            if r["remove"] != "yes" and (r["day"] or r["start"] or r["end"])
        ]
        levels = {slug: fields.get(f"skill.{slug}", "").strip() for slug in skill_slugs}
        return cls(
            constituency_code=fields.get("constituency_code", "").strip(),
            travel_radius_km=fields.get("travel_radius_km", "").strip(),
            remote_ok=fields.get("remote_ok") == "yes",
            max_hours_per_week=fields.get("max_hours_per_week", "").strip(),
            windows=windows[: MAX_ROWS * 2],
            levels={k: v for k, v in levels.items() if v},
        )

    def body(self, notes: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The PUT /api/v1/me/profile body, and the errors the form itself can see (wrong numbers)."""
        errors: dict[str, str] = {}
        radius = whole_number(
            self.travel_radius_km,
            field_name="travel_radius_km",
            message="Enter a whole number of kilometres, like 10.",
            errors=errors,
        )
        hours = whole_number(
            self.max_hours_per_week,
            field_name="max_hours_per_week",
            message="Enter a whole number of hours, or leave it empty.",
            errors=errors,
        )
        skills = []
        for slug, level in self.levels.items():
            if level.isdigit() and len(level) == 1:
                skills.append({"slug": slug, "level": int(level), "note": notes.get(slug, "")})
            else:
                errors[f"skill.{slug}"] = "Choose a level from 1 to 5."
        body = {
            "constituency_code": self.constituency_code or None,
            "travel_radius_km": radius or 0,
            "remote_ok": self.remote_ok,
            "max_hours_per_week": hours,
            "availability": self.windows,
            "skills": skills,
        }
        return body, errors


def profile_errors(errors: dict[str, str], body: dict[str, Any]) -> dict[str, str]:
    """Put the API's errors (`skills.3.level`, `availability.1.end`) on the form's own fields."""
    out: dict[str, str] = {}
    for name, message in errors.items():
        m = _INDEXED.match(name)
        if m and m.group(1) == "skills" and int(m.group(2)) < len(body["skills"]):
            out.setdefault(f"skill.{body['skills'][int(m.group(2))]['slug']}", message)
        else:
            # availability rows are posted in the order they are shown, so their numbers already agree
            out.setdefault(name, message)
    return out


# -- a request for help ---------------------------------------------------------------------------------


@dataclass
class RequestForm:
    title: str = ""
    description: str = ""
    constituency_code: str = ""
    remote_ok: bool = False
    urgency: str = "normal"
    starts_at: str = ""
    ends_at: str = ""
    skills: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> RequestForm:
        skills = [r for r in rows_of(fields, "skills", ("slug", "min_level", "people")) if r["slug"]]
        return cls(
            title=fields.get("title", ""),
            description=fields.get("description", ""),
            constituency_code=fields.get("constituency_code", "").strip(),
            remote_ok=fields.get("remote_ok") == "yes",
            urgency=fields.get("urgency", "normal"),
            starts_at=fields.get("starts_at", "").strip(),
            ends_at=fields.get("ends_at", "").strip(),
            skills=skills[:MAX_ROWS],
        )

    def body(self, zone: ZoneInfo) -> tuple[dict[str, Any], dict[str, str]]:
        errors: dict[str, str] = {}
        skills = []
        for i, row in enumerate(self.skills):
            level = whole_number(
                row["min_level"] or "1", field_name=f"skills.{i}.min_level", message="Choose a level.", errors=errors
            )
            people = whole_number(
                row["people"] or "1",
                field_name=f"skills.{i}.people",
                message="Enter how many people, like 2.",
                errors=errors,
            )
            skills.append({"slug": row["slug"], "min_level": level or 0, "people": people or 0})
        body: dict[str, Any] = {
            "title": self.title.strip(),
            "description": self.description.strip(),
            "constituency_code": self.constituency_code,
            "remote_ok": self.remote_ok,
            "skills": skills,
            "urgency": self.urgency if self.urgency in ("low", "normal", "high") else "normal",
        }
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value:
                when = local_time(value, zone)
                if when is None:
                    errors[name] = "Enter a date and time, like 02/05/2026 10:00."
                else:
                    body[name] = when
        return body, errors


def local_time(value: str, zone: ZoneInfo) -> str | None:
    """A browser's `datetime-local` value (no zone) read in the site's zone, as RFC 3339."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def request_errors(errors: dict[str, str]) -> dict[str, str]:
    """The request form numbers its skill rows as the API does (blank rows are dropped before both)."""
    return dict(errors)


# -- admin: X settings, a new skill -----------------------------------------------------------------------


@dataclass
class XSettingsForm:
    hashtags: str = ""
    poll_interval_s: str = ""
    monthly_read_budget: str = ""
    monthly_post_budget: str = ""
    posting_enabled: bool = False

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> XSettingsForm:
        return cls(
            hashtags=" ".join(f"#{h}" for h in settings.get("hashtags", [])),
            poll_interval_s=str(settings.get("poll_interval_s", "")),
            monthly_read_budget=str(settings.get("monthly_read_budget", "")),
            monthly_post_budget=str(settings.get("monthly_post_budget", "")),
            posting_enabled=bool(settings.get("posting_enabled")),
        )

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> XSettingsForm:
        return cls(
            hashtags=fields.get("hashtags", "").strip(),
            poll_interval_s=fields.get("poll_interval_s", "").strip(),
            monthly_read_budget=fields.get("monthly_read_budget", "").strip(),
            monthly_post_budget=fields.get("monthly_post_budget", "").strip(),
            posting_enabled=fields.get("posting_enabled") == "yes",
        )

    def body(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The PUT /api/v1/admin/x body, and the errors the form itself can see (numbers that are not)."""
        errors: dict[str, str] = {}
        hashtags = [t for t in re.split(r"[\s,]+", self.hashtags) if t]
        numbers: dict[str, int] = {}
        for name in ("poll_interval_s", "monthly_read_budget", "monthly_post_budget"):
            value = whole_number(
                getattr(self, name), field_name=name, message="Enter a whole number, like 60.", errors=errors
            )
            if value is None and name not in errors:
                errors[name] = "Enter a whole number, like 60."
            numbers[name] = value or 0
        return {"hashtags": hashtags, **numbers, "posting_enabled": self.posting_enabled}, errors


def x_settings_errors(errors: dict[str, str]) -> dict[str, str]:
    """The API names a bad hashtag by its position (`hashtags.2`); the form has one box for them all."""
    out: dict[str, str] = {}
    for name, message in errors.items():
        out.setdefault("hashtags" if name.startswith("hashtags") else name, message)
    return out


@dataclass
class SkillForm:
    slug: str = ""
    name: str = ""
    category: str = ""
    description: str = ""
    synonyms: str = ""

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> SkillForm:
        return cls(**{k: fields.get(k, "").strip() for k in ("slug", "name", "category", "description", "synonyms")})

    def body(self) -> dict[str, Any]:
        synonyms = [s.strip() for s in self.synonyms.split(",") if s.strip()]
        return {
            "slug": self.slug,
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "synonyms": synonyms[:100],
        }


def skill_errors(errors: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, message in errors.items():
        out.setdefault("synonyms" if name.startswith("synonyms") else name, message)
    return out


def constituency_code_of(value: str, constituencies: list[dict[str, str]]) -> str | None:
    """A constituency typed as its code or its name (any case), as its code; None if it is neither."""
    text = " ".join(value.split()).casefold()
    if not text:
        return None
    for c in constituencies:
        if c["code"].casefold() == text or c["name"].casefold() == text:
            return c["code"]
    return None
