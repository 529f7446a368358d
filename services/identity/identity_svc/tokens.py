"""Signing keys (Ed25519, newest signs, all published) and access/refresh token issue."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from identity_svc.domain import User
from lx_platform.auth import ALGORITHM


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


class KeyRing:
    """Keys from a folder of PEM files; the file whose name sorts last is the active one."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("no signing keys: put an Ed25519 PKCS#8 PEM file in the keys folder")
        self.keys = keys

    @classmethod
    def load(cls, folder: Path) -> KeyRing:
        keys = []
        for path in sorted(folder.glob("*.pem")):
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path.name} is not an Ed25519 key")
            keys.append(SigningKey(kid=path.stem, private_key=key))
        return cls(keys)

    @property
    def active(self) -> SigningKey:
        return self.keys[-1]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [k.public_jwk() for k in self.keys]}


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def issue_access_token(
    keys: KeyRing, user: User, *, issuer: str, audience: str, ttl_s: int, now: datetime | None = None
) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user.id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "roles": user.roles,
        "organiser_of": user.organiser_of,
    }
    key = keys.active
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def new_opaque_token() -> str:
    """A random secret for refresh tokens and invitation codes; only its hash is stored."""
    return secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
