"""Development secrets, generated on first use under the data folder (never in the repository)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DEFAULT_ADMIN_EMAIL = "admin@labour-exchange.local"


def ensure_signing_key(keys_dir: Path) -> Path:
    """An Ed25519 signing key for identity; a new file in the folder is a key rotation."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    existing = sorted(keys_dir.glob("*.pem"))
    if existing:
        return existing[-1]
    kid = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = keys_dir / f"{kid}.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    return path


def bootstrap_admin(secrets_dir: Path, email: str | None, password: str | None) -> tuple[str, str]:
    """The first admin's credentials: from the environment, else generated once and kept."""
    if email and password:
        return email, password
    path = secrets_dir / "bootstrap-admin.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return saved["email"], saved["password"]
    secrets_dir.mkdir(parents=True, exist_ok=True)
    creds = {"email": email or DEFAULT_ADMIN_EMAIL, "password": password or secrets.token_urlsafe(15)}
    path.write_text(json.dumps(creds))
    path.chmod(0o600)
    return creds["email"], creds["password"]


def ensure_secret(path: Path, make: Callable[[], str]) -> str:
    """A secret kept in one file readable only by its owner, made on first use and reused after."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def new_token_key() -> str:
    """One `kid:base64url-32-bytes` entry for TWITTER_TOKEN_KEYS (AES-256-GCM key for X tokens at rest)."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"dev{datetime.now(UTC):%Y%m%d}:{key}"


def twitter_secrets(secrets_dir: Path) -> tuple[str, str]:
    """(token keys of the twitter gateway, the key it presents to identity's internal X sign-in)."""
    token_keys = ensure_secret(secrets_dir / "twitter-token-keys", new_token_key)
    sign_in_key = ensure_secret(secrets_dir / "x-sign-in-key", lambda: secrets.token_urlsafe(32))
    return token_keys, sign_in_key
