"""Seal X tokens at rest with AES-256-GCM under named, rotatable keys.

The setting lists keys as ``kid:base64url-32-bytes`` separated by commas. The first key seals; every
listed key opens, so a new key goes first and the old one stays listed until every stored token has
been resealed (``is_current`` tells which ones still need it). A sealed value reads
``v1.<kid>.<base64url(nonce || ciphertext+tag)>``; the caller's context (for example the owner's id
and the token kind) is bound as associated data, so a value copied onto another row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class TokenBoxError(Exception):
    """A setting that does not describe usable keys, or a sealed value that does not open."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def generate_key(kid: str | None = None) -> str:
    """Return a fresh ``kid:base64url`` key entry for the token-keys setting."""
    kid = kid or "k" + secrets.token_hex(4)
    if not _KID.fullmatch(kid):
        raise TokenBoxError("a key id is 1-32 letters, digits, '-' or '_'")
    return f"{kid}:{_b64encode(AESGCM.generate_key(bit_length=KEY_BYTES * 8))}"


class TokenBox:
    """Seal and open short secrets; the first key seals, every key opens."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise TokenBoxError("at least one token key is needed")
        seen: set[str] = set()
        for kid, key in keys:
            if not _KID.fullmatch(kid):
                raise TokenBoxError("a key id is 1-32 letters, digits, '-' or '_'")
            if kid in seen:
                raise TokenBoxError(f"key id {kid!r} is listed twice")
            if len(key) != KEY_BYTES:
                raise TokenBoxError(f"key {kid!r} must be {KEY_BYTES} bytes, not {len(key)}")
            seen.add(kid)
        self._current = keys[0][0]
        self._aead = {kid: AESGCM(key) for kid, key in keys}

    @classmethod
    def from_setting(cls, value: str) -> TokenBox:
        """Read ``kid:base64url[,kid:base64url...]``; errors name the key id, never the key."""
        entries = [part.strip() for part in (value or "").split(",")]
        if not any(entries):
            raise TokenBoxError("the token keys setting is empty")
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(entries, start=1):
            if not entry:
                raise TokenBoxError(f"token key entry {position} is empty")
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            if not sep or not kid or not encoded.strip():
                raise TokenBoxError(f"token key entry {position} is not 'kid:base64url'")
            try:
                key = _b64decode(encoded.strip())
            except (ValueError, binascii.Error):
                raise TokenBoxError(f"key {kid!r} is not valid base64url") from None
            keys.append((kid, key))
        return cls(keys)

    @property
    def current_kid(self) -> str:
        return self._current

    def seal(self, plaintext: str, *, context: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead[self._current].encrypt(nonce, plaintext.encode("utf-8"), context)
        return f"{VERSION}.{self._current}.{_b64encode(nonce + ciphertext)}"

    def open(self, sealed: str, *, context: bytes) -> str:
        kid, body = self._split(sealed)
        aead = self._aead.get(kid)
        if aead is None:
            raise TokenBoxError(f"no configured key has id {kid!r}")
        try:
            raw = _b64decode(body)
        except (ValueError, binascii.Error):
            raise TokenBoxError("sealed value is not valid base64url") from None
        if len(raw) < NONCE_BYTES + 16:
            raise TokenBoxError("sealed value is too short")
        try:
            plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context)
        except InvalidTag:
            raise TokenBoxError("sealed value does not open with its key and context") from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenBoxError("sealed value is not text") from None

    def is_current(self, sealed: str) -> bool:
        """Whether the value was sealed with the key that seals now (else reseal it)."""
        try:
            kid, _ = self._split(sealed)
        except TokenBoxError:
            return False
        return kid == self._current

    @staticmethod
    def _split(sealed: str) -> tuple[str, str]:
        parts = sealed.split(".") if isinstance(sealed, str) else []
        if len(parts) != 3 or parts[0] != VERSION or not parts[1] or not parts[2]:
            raise TokenBoxError("sealed value is not in the v1.<kid>.<data> form")
        return parts[1], parts[2]
