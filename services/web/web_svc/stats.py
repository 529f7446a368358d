"""Shaping the campaign statistics for the pages: sortable rows, readable hours, bar chart geometry.

Pure functions (no I/O), so sorting and the chart can be tested on their own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Columns of the national table: query-string key -> (heading, how to read the value from a row).
COLUMNS: dict[str, str] = {
    "name": "Constituency",
    "open": "Open",
    "filled": "Filled",
    "completed": "Completed",
    "pending": "Pending",
    "supporters": "Supporters by skill",
    "missing": "Skills missing",
    "first_offer": "Time to first offer",
    "to_filled": "Time to filled",
}
DEFAULT_SORT = ("open", "desc")


@dataclass(frozen=True)
class Row:
    """One constituency's figures, flattened for the table."""

    code: str
    name: str
    open: int
    filled: int
    completed: int
    pending: int
    supporters: int
    missing: int
    first_offer: float | None
    to_filled: float | None

    def value(self, key: str) -> Any:
        return getattr(self, key)


def _count(figures: Mapping[str, Any], key: str) -> int:
    counts = figures.get("requests") or {}
    value = counts.get(key, 0) if isinstance(counts, Mapping) else 0
    return value if isinstance(value, int) else 0


def _hours(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def row_of(seat: Mapping[str, Any]) -> Row:
    supply = seat.get("supporters_by_skill") or []
    return Row(
        code=str(seat.get("constituency_code", "")),
        name=str(seat.get("name", seat.get("constituency_code", ""))),
        open=_count(seat, "open"),
        filled=_count(seat, "filled"),
        completed=_count(seat, "completed"),
        pending=_count(seat, "pending"),
        supporters=sum(int(s.get("supporters", 0)) for s in supply if isinstance(s, Mapping)),
        missing=len(seat.get("missing_skills") or []),
        first_offer=_hours(seat.get("median_hours_to_first_offer")),
        to_filled=_hours(seat.get("median_hours_to_filled")),
    )


def sort_choice(sort: str | None, direction: str | None) -> tuple[str, str]:
    """The column and direction asked for in the query string, or the default for anything else."""
    if sort not in COLUMNS:
        return DEFAULT_SORT
    return sort, direction if direction in ("asc", "desc") else ("asc" if sort == "name" else "desc")


def sort_rows(rows: Sequence[Row], sort: str, direction: str) -> list[Row]:
    """Rows by one column; unknown values (no median yet) always last; ties by name."""
    by_name = sorted(rows, key=lambda r: r.name.casefold())
    known = [r for r in by_name if r.value(sort) is not None]
    unknown = [r for r in by_name if r.value(sort) is None]
    if sort == "name":
        ordered = sorted(known, key=lambda r: r.name.casefold(), reverse=direction == "desc")
    else:
        ordered = sorted(known, key=lambda r: r.value(sort), reverse=direction == "desc")
    return ordered + unknown


def aria_sort(column: str, sort: str, direction: str) -> str | None:
    if column != sort:
        return None
    return "ascending" if direction == "asc" else "descending"


def next_direction(column: str, sort: str, direction: str) -> str:
    """Clicking the sorted column flips it; another column starts in its natural direction."""
    if column == sort:
        return "asc" if direction == "desc" else "desc"
    return "asc" if column == "name" else "desc"


def hours_text(value: Any) -> str:
    """Median hours as people read them: "45 minutes", "3.5 hours", "2.1 days", or "not yet"."""
    hours = _hours(value)
    if hours is None:
        return "not yet"
    if hours < 1:
        minutes = max(1, round(hours * 60))
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    if hours < 48:
        text = f"{hours:.1f}".removesuffix(".0")
        return f"{text} hour{'' if text == '1' else 's'}"
    return f"{hours / 24:.1f} days"


# -- the bar chart ---------------------------------------------------------------------------------------

SERIES = (("open", "Open"), ("filled", "Filled"), ("completed", "Completed"))


@dataclass(frozen=True)
class Bar:
    series: str
    x: float
    width: float
    value: int


@dataclass(frozen=True)
class ChartRow:
    label: str
    y: float
    bars: list[Bar]
    total: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_width: int
    rows: list[ChartRow]


def stacked_chart(
    items: Sequence[tuple[str, Mapping[str, int]]], *, width: int = 640, label_width: int = 200, row_height: int = 28
) -> Chart:
    """Horizontal stacked bars (open, filled, completed) scaled to the largest total, as SVG geometry."""
    totals = [sum(values.get(key, 0) for key, _ in SERIES) for _, values in items]
    biggest = max(totals, default=0) or 1
    room = width - label_width - 40  # space for the total written after the bar
    rows = []
    for i, ((label, values), total) in enumerate(zip(items, totals, strict=True)):
        x = float(label_width)
        bars = []
        for key, _ in SERIES:
            value = values.get(key, 0)
            w = room * value / biggest
            if value:
                bars.append(Bar(series=key, x=round(x, 2), width=round(max(w, 1.0), 2), value=value))
            x += w
        rows.append(ChartRow(label=label, y=float(i * row_height + 4), bars=bars, total=total))
    return Chart(width=width, height=max(len(items), 1) * row_height + 8, label_width=label_width, rows=rows)
