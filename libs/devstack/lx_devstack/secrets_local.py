"""Development secrets, generated on first use under the data folder (never in the repository)."""

from __future__ import annotations

import json
import secrets
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
