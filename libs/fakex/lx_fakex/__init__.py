"""A fake of the X API v2 for development and tests: never reachable from outside the machine."""

from __future__ import annotations

from lx_fakex.app import create_app
from lx_fakex.state import (
    ACCOUNT_ID,
    ACCOUNT_NAME,
    ACCOUNT_TOKEN,
    ACCOUNT_USERNAME,
    APP_BEARER_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeXState,
)

__all__ = [
    "ACCOUNT_ID",
    "ACCOUNT_NAME",
    "ACCOUNT_TOKEN",
    "ACCOUNT_USERNAME",
    "APP_BEARER_TOKEN",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "FakeXState",
    "create_app",
]
