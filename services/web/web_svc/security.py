"""Pure helpers for the browser session: CSRF tokens, safe redirects, reading our own access token.

No I/O here, so the rules can be tested on their own (tests/test_security.py)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import urlsplit

SESSION_ID_BYTES = 32
_CSRF_CONTEXT = b"lx-web-csrf-v1:"


def new_session_id() -> str:
    """A random browser-session id: the thing CSRF tokens are bound to (it grants nothing by itself)."""
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def csrf_token(key: bytes, session_id: str) -> str:
    """The CSRF token for this browser session: HMAC-SHA256 of the session id under the server's key."""
    mac = hmac.new(key, _CSRF_CONTEXT + session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_ok(key: bytes, session_id: str | None, presented: str | None) -> bool:
    """True only for the token of this very session, compared in constant time."""
    if not session_id or not presented or len(presented) > 200:
        return False
    return hmac.compare_digest(csrf_token(key, session_id).encode(), presented.encode())


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go to after signing in; anything that could leave the site becomes `default`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


@dataclass(frozen=True)
class Claims:
    """What the pages read from their own access token to decide what to show; the API still checks it."""

    user_id: str | None
    roles: tuple[str, ...]
    organiser_of: tuple[str, ...]
    expires_at: int | None

    def seconds_left(self, now: float) -> float:
        return float("-inf") if self.expires_at is None else self.expires_at - now


NO_CLAIMS = Claims(user_id=None, roles=(), organiser_of=(), expires_at=None)


def read_claims(token: str | None) -> Claims:
    """Decode a JWT's payload without verifying it (the API verifies every token it is given)."""
    if not token or token.count(".") != 2 or len(token) > 8000:
        return NO_CLAIMS
    payload = token.split(".")[1]
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return NO_CLAIMS
    if not isinstance(data, dict):
        return NO_CLAIMS
    sub = data.get("sub")
    exp = data.get("exp")
    return Claims(
        user_id=sub if isinstance(sub, str) else None,
        roles=_strings(data.get("roles")),
        organiser_of=_strings(data.get("organiser_of") or data.get("constituencies")),
        expires_at=int(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None,
    )


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def needs_refresh(access_token: str | None, *, now: float, margin_s: float) -> bool:
    """True when there is no usable access token, or it expires within `margin_s` seconds."""
    return read_claims(access_token).seconds_left(now) < margin_s


MAX_PARTS = 50


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """A multipart/form-data body as (text fields, files by field name as (filename, bytes)).

    The first value of a name wins; anything that is not multipart/form-data gives nothing, so the CSRF
    check that follows refuses it."""
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if content_type.split(";")[0].strip().lower() != "multipart/form-data" or "boundary=" not in content_type:
        return fields, files
    try:
        header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    except UnicodeEncodeError:
        return fields, files
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart():
        return fields, files
    for number, part in enumerate(message.iter_parts()):
        if number >= MAX_PARTS:
            break
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files.setdefault(name, (filename, data))
        else:
            fields.setdefault(name, data.decode("utf-8", errors="replace"))
    return fields, files
