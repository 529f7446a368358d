"""The 650 Westminster constituencies (2024 boundaries), loaded once from the packaged CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Constituency:
    code: str
    name: str
    nation: str
    region: str
    lat: float
    lon: float


@cache
def all_constituencies() -> tuple[Constituency, ...]:
    """Every constituency, in alphabetical order of name."""
    text = resources.files("lx_contracts").joinpath("data/constituencies-2024.csv").read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return tuple(
        Constituency(
            code=r["code"],
            name=r["name"],
            nation=r["nation"],
            region=r["region"],
            lat=float(r["lat"]),
            lon=float(r["lon"]),
        )
        for r in rows
    )


@cache
def _by_code() -> dict[str, Constituency]:
    return {c.code: c for c in all_constituencies()}


def by_code(code: str) -> Constituency | None:
    return _by_code().get(code)


def is_valid_code(code: str) -> bool:
    return code in _by_code()
