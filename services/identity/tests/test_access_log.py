"""Merging the access log's parts from every service: one order, one cursor, nothing lost or repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from identity_svc.access_log import BadCursor, Item, decode_cursor, encode_cursor, merge, page_params

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def _item(service: str, id_: int, seconds: int) -> Item:
    return Item(service, id_, T0 + timedelta(seconds=seconds), {"id": id_})


def _after(rows: list[Item], service: str, cursor_params: dict[str, str]) -> list[Item]:
    """What one service answers to page_params: its own rows after the cursor, newest first."""
    mine = sorted((r for r in rows if r.service == service), key=lambda r: (r.at, r.id), reverse=True)
    if "before_at" in cursor_params:
        at = datetime.fromisoformat(cursor_params["before_at"])
        before_id = int(cursor_params["before_id"]) if "before_id" in cursor_params else None
        mine = [r for r in mine if r.at < at or (r.at == at and (before_id is None or r.id < before_id))]
    return mine[: int(cursor_params["limit"])]


def test_walking_the_merged_pages_gives_every_row_once_newest_first_even_with_equal_times() -> None:
    rows = [
        _item("skills", 1, 0),
        _item("skills", 2, 5),
        _item("skills", 3, 5),
        _item("matcher", 7, 5),
        _item("matcher", 8, 9),
        _item("identity", 4, 5),
        _item("requests", 1, 1),
    ]
    services = ["skills", "matcher", "identity", "requests"]
    for limit in (1, 2, 3, 10):
        seen: list[Item] = []
        cursor = None
        for _ in range(20):
            parts = [_after(rows, s, page_params(s, cursor, limit + 1)) for s in services]
            page, text = merge(parts, limit)
            seen += page
            if text is None:
                break
            cursor = decode_cursor(text)
        assert sorted(seen, key=lambda i: (i.service, i.id)) == sorted(rows, key=lambda i: (i.service, i.id))
        assert [i.at for i in seen] == sorted((i.at for i in seen), reverse=True)
        assert len({(i.service, i.id) for i in seen}) == len(seen) == len(rows), limit


def test_the_last_page_has_no_cursor_and_an_empty_log_is_one_empty_page() -> None:
    assert merge([[], []], 20) == ([], None)
    page, cursor = merge([[_item("skills", 1, 0)]], 1)
    assert len(page) == 1 and cursor is None


@pytest.mark.parametrize("text", ["", "not-base64!", encode_cursor(_item("s", 1, 0))[:-4] + "AAAA", "W10="])
def test_a_cursor_not_made_here_is_refused(text: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(text)
