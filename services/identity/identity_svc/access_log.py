"""A person's access log merged from every service's part, newest first, one cursor for all. Plain Python.

Each service pages its own rows by (`at`, `id`) descending; across services equal times are ordered by the
service's name, so the merged order is total and a cursor (time, service, id) says exactly where each
service should go on from."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    at: datetime
    service: str
    id: int


@dataclass(frozen=True)
class Item:
    service: str
    id: int
    at: datetime
    body: dict[str, Any]


def encode_cursor(item: Item) -> str:
    raw = json.dumps([item.at.isoformat(), item.service, item.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(text: str) -> Cursor:
    try:
        at, service, id_ = json.loads(base64.urlsafe_b64decode(text.encode()))
        if not isinstance(service, str) or not isinstance(id_, int) or isinstance(id_, bool):
            raise BadCursor("shape")
        return Cursor(datetime.fromisoformat(at), service, id_)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadCursor(str(exc)) from exc


def page_params(service: str, cursor: Cursor | None, limit: int) -> dict[str, str]:
    """What one service is asked for: `limit` rows strictly after the cursor in the merged order."""
    params = {"limit": str(limit)}
    if cursor is None:
        return params
    params["before_at"] = cursor.at.isoformat()
    if service == cursor.service:
        params["before_id"] = str(cursor.id)
    elif service < cursor.service:
        params["before_id"] = "0"  # this service's rows at the cursor's time came earlier: none of them
    # a service named after the cursor's: every row at that time is still to come (no before_id)
    return params


def parse_items(service: str, body: Mapping[str, Any]) -> list[Item]:
    """One service's answer, `{"items": [...]}`; anything else raises ValueError."""
    items = body.get("items")
    if not isinstance(items, list):
        raise ValueError(f"{service}: no items")
    out = []
    for raw in items:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), int):
            raise ValueError(f"{service}: malformed item")
        out.append(Item(service, raw["id"], datetime.fromisoformat(str(raw["at"])), raw))
    return out


def merge(parts: Iterable[list[Item]], limit: int) -> tuple[list[Item], str | None]:
    """The first `limit` items of all parts in the merged order, and the cursor for the rest (None at the end).
    Each part must hold up to `limit + 1` items after the same cursor."""
    items = [i for part in parts for i in part]
    items.sort(key=lambda i: -i.id)
    items.sort(key=lambda i: i.service)
    items.sort(key=lambda i: i.at, reverse=True)  # stable: time first, then service, then id
    page = items[:limit]
    return page, encode_cursor(page[-1]) if len(items) > limit and page else None
