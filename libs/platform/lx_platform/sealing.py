"""Personal fields of events travel sealed with their person's own key, so erasure can reach the broker.

Kafka keeps every message for the topic's retention and cannot edit one in place, so an erased person's id
and name would outlive their erasure on the topics and in dead-letter copies. Instead each person has a
random 256-bit key in the key vault (`keyvault` schema, owned by identity, reached only through its
functions: `subject_key` gives or makes the key for an id, `key_of` finds a key by its id, and only identity
may `shred`). The payload fields a contract marks `sealed` are AES-256-GCM encrypted with the key of the
person they belong to, and an event about a person is keyed on the broker by the key's random id instead of
the person's id. When the erasure is complete identity destroys the key: what the topics retain is then
ciphertext nobody can open, and the key id links it to no one (ADR 15).

Sealed text: `lx1.` + base64url(key id (16 bytes) || nonce (12) || ciphertext and tag); the key id and the
field's name are the associated data, so a sealed value cannot be moved to another field or key unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel

PREFIX = "lx1."
_KID_BYTES = 16
_NONCE_BYTES = 12


class SubjectErased(Exception):
    """The person's key is gone (they were erased) or was never made and may no longer be."""

    def __init__(self, what: str) -> None:
        super().__init__(f"no key for {what}: the person was erased")


@dataclass(frozen=True)
class SubjectKey:
    user_id: uuid.UUID
    kid: uuid.UUID
    key: bytes

    def seal(self, field: str, value: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, value.encode(), self._aad(field))
        return PREFIX + base64.urlsafe_b64encode(self.kid.bytes + nonce + sealed).decode().rstrip("=")

    def open(self, field: str, sealed: str) -> str:
        raw = _decode(sealed)
        nonce, body = raw[_KID_BYTES : _KID_BYTES + _NONCE_BYTES], raw[_KID_BYTES + _NONCE_BYTES :]
        return AESGCM(self.key).decrypt(nonce, body, self._aad(field)).decode()

    def _aad(self, field: str) -> bytes:
        return self.kid.bytes + field.encode()


class SealedValueError(ValueError):
    """Text that looks sealed but is not a sealed value this key opens."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def kid_of(sealed: str) -> uuid.UUID:
    """The id of the key a sealed value was sealed with."""
    return uuid.UUID(bytes=_decode(sealed)[:_KID_BYTES])


def _decode(sealed: str) -> bytes:
    body = sealed[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SealedValueError("not a sealed value") from exc
    if len(raw) < _KID_BYTES + _NONCE_BYTES + 16:
        raise SealedValueError("not a sealed value")
    return raw


class Keyring:
    """This process's cache of subject keys, bounded in entries and in time (a destroyed key is forgotten here
    within `ttl_s` even if nothing tells this process)."""

    def __init__(self, *, max_entries: int = 20_000, ttl_s: float = 300.0) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._by_user: OrderedDict[uuid.UUID, tuple[float, SubjectKey]] = OrderedDict()
        self._by_kid: dict[uuid.UUID, SubjectKey] = {}

    async def for_person(self, conn: asyncpg.Connection, user_id: uuid.UUID) -> SubjectKey | None:
        """The person's key, made now if they have none; None once they have been erased."""
        cached = self._cached(user_id)
        if cached is not None:
            return cached
        row = await conn.fetchrow("SELECT kid, key FROM keyvault.subject_key($1, $2)", user_id, os.urandom(32))
        if row is None:
            return None
        return self._remember(SubjectKey(user_id, row["kid"], bytes(row["key"])))

    async def by_kid(self, conn: asyncpg.Connection, kid: uuid.UUID) -> SubjectKey | None:
        cached = self._by_kid.get(kid)
        if cached is not None and self._cached(cached.user_id) is cached:
            return cached
        row = await conn.fetchrow("SELECT user_id, key FROM keyvault.key_of($1)", kid)
        if row is None:
            return None
        return self._remember(SubjectKey(row["user_id"], kid, bytes(row["key"])))

    def forget(self, user_id: uuid.UUID) -> None:
        entry = self._by_user.pop(user_id, None)
        if entry is not None:
            self._by_kid.pop(entry[1].kid, None)

    def clear(self) -> None:
        self._by_user.clear()
        self._by_kid.clear()

    def _cached(self, user_id: uuid.UUID) -> SubjectKey | None:
        entry = self._by_user.get(user_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self.forget(user_id)
            return None
        self._by_user.move_to_end(user_id)
        return entry[1]

    def _remember(self, key: SubjectKey) -> SubjectKey:
        self.forget(key.user_id)
        self._by_user[key.user_id] = (time.monotonic() + self.ttl_s, key)
        self._by_kid[key.kid] = key
        while len(self._by_user) > self.max_entries:
            _, (_, oldest) = self._by_user.popitem(last=False)
            self._by_kid.pop(oldest.kid, None)
        return key


# One per process: every service's outbox and consumers share it.
KEYRING = Keyring()


@dataclass(frozen=True)
class Sealed:
    data: dict[str, Any]
    subject: str


async def seal(conn: asyncpg.Connection, payload: BaseModel, *, subject: str) -> Sealed:
    """The payload as JSON with its personal fields sealed; a subject that is one of those people's id becomes
    their key's id. Raises SubjectErased when a person it names has been erased."""
    plain = payload.model_dump(mode="json")
    data = dict(plain)
    fields: dict[str, str] = getattr(type(payload), "sealed", {})
    for field, owner_field in fields.items():
        value, owner = plain.get(field), plain.get(owner_field)
        if value is None or owner is None:
            continue
        if not isinstance(value, str):
            raise TypeError(f"sealed field {field} must be text, not {type(value).__name__}")
        user_id = uuid.UUID(str(owner))
        key = await KEYRING.for_person(conn, user_id)
        if key is None:
            raise SubjectErased(f"field {field}")
        if subject == str(user_id):
            subject = str(key.kid)
        data[field] = key.seal(field, value)
    return Sealed(data, subject)


@dataclass(frozen=True)
class Opened:
    data: dict[str, Any]
    subject: str
    unreadable: tuple[str, ...]


async def open_sealed(conn: asyncpg.Connection, data: dict[str, Any], *, subject: str) -> Opened:
    """The payload with every sealed top-level field opened; fields whose key is gone are listed as unreadable
    (and left out). Plain values pass through, so events written before sealing still read."""
    opened = dict(data)
    unreadable = []
    for field, value in data.items():
        if not is_sealed(value):
            continue
        try:
            kid = kid_of(value)
            key = await KEYRING.by_kid(conn, kid)
            if key is None:
                raise SubjectErased(f"field {field}")
            opened[field] = key.open(field, value)
        except (SubjectErased, SealedValueError, InvalidTag):
            del opened[field]
            unreadable.append(field)
            continue
        if subject == str(kid):
            subject = str(key.user_id)
    return Opened(opened, subject, tuple(unreadable))
