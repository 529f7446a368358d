"""The platform's JSON depth scan: brackets counted outside strings only, across chunk boundaries."""

from __future__ import annotations

import json

import pytest

from lx_platform.http import JsonDepthScanner

pytestmark = pytest.mark.unit


def deepest(text: bytes, *, chunk: int | None = None, limit: int = 32) -> bool:
    scanner = JsonDepthScanner(limit)
    pieces = [text] if chunk is None else [text[i : i + chunk] for i in range(0, len(text), chunk)]
    return any(scanner.feed(piece) for piece in pieces)


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("chunk", [None, 1, 2, 7])
def test_nesting_up_to_the_limit_passes_and_one_more_level_is_refused(chunk: int | None) -> None:
    assert not deepest(nested(32), chunk=chunk)
    assert deepest(nested(33), chunk=chunk)
    assert deepest(b'{"a": ' * 33 + b"1" + b"}" * 33, chunk=chunk)


@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_brackets_inside_strings_do_not_count_even_after_escaped_quotes(chunk: int | None) -> None:
    body = json.dumps({"title": "[" * 100, "note": 'say \\"[[[[\\" ' + "{" * 100, "x": "\\" * 5}).encode()
    assert not deepest(body, chunk=chunk)
    # An escaped quote does not end the string, so the brackets after it are still text...
    assert not deepest(b'["\\"' + b"[" * 40 + b'"]', chunk=chunk)
    # ...and an escaped backslash does not escape the closing quote, so these brackets are structure.
    assert deepest(b'["\\\\"' + b"[" * 40 + b"]" * 40 + b"]", chunk=chunk)


def test_a_normal_request_body_passes() -> None:
    body = {
        "title": "Leafleting in Withington [urgent]",
        "description": 'Bring {boots} and a "can-do" attitude \\o/',
        "constituency_code": "E14001354",
        "skills": [{"slug": "leafleting", "min_level": 1, "people": 3}],
    }
    assert not deepest(json.dumps(body).encode(), chunk=5)


def test_the_scan_stops_at_the_chunk_that_crosses_the_limit() -> None:
    scanner = JsonDepthScanner(32)
    assert not scanner.feed(b"[" * 32)
    assert scanner.feed(b"[")  # the parser never needs to see what would follow


def test_a_megabyte_of_ordinary_json_passes() -> None:
    body = json.dumps({"items": [{"note": "x" * 200, "tags": ["a", "b"]} for _ in range(4500)]}).encode()
    assert len(body) > 1_000_000
    assert not deepest(body, chunk=65_536)
