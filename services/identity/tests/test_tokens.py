"""Token issue and verification with real keys, no network."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from identity_svc.domain import Consents, RoleGrant, User
from identity_svc.tokens import KeyRing, hash_opaque_token, issue_access_token, new_opaque_token
from lx_platform.auth import InvalidToken, TokenVerifier

pytestmark = pytest.mark.unit


def _write_key(folder: Path, name: str) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / f"{name}.pem").write_bytes(pem)


def _user() -> User:
    return User(
        id=uuid.uuid4(),
        email="sam@example.org",
        display_name="Sam",
        consents=Consents(True, True, False),
        created_at=datetime.now(UTC),
        grants=(RoleGrant("organiser", "E14001354"),),
    )


def _verifier(keys: KeyRing) -> TokenVerifier:
    v = TokenVerifier(jwks_url="http://127.0.0.1:9/unused", issuer="iss", audience="aud")
    v.add_jwks(keys.jwks())
    return v


async def test_newest_key_signs_and_every_key_is_published(tmp_path: Path) -> None:
    _write_key(tmp_path, "2026-01-old")
    _write_key(tmp_path, "2026-06-new")
    keys = KeyRing.load(tmp_path)
    assert keys.active.kid == "2026-06-new"
    assert [k["kid"] for k in keys.jwks()["keys"]] == ["2026-01-old", "2026-06-new"]
    assert all("d" not in k for k in keys.jwks()["keys"]), "private parts are never published"

    user = _user()
    token = issue_access_token(keys, user, issuer="iss", audience="aud", ttl_s=900)
    principal = await _verifier(keys).verify(token)
    assert principal.user_id == user.id
    assert principal.roles == {"supporter", "organiser"}
    assert principal.organises("E14001354") and not principal.organises("E14000001")


async def test_tokens_signed_by_a_retired_key_still_verify_while_it_is_published(tmp_path: Path) -> None:
    _write_key(tmp_path, "a")
    old = KeyRing.load(tmp_path)
    token = issue_access_token(old, _user(), issuer="iss", audience="aud", ttl_s=900)
    _write_key(tmp_path, "b")
    rotated = KeyRing.load(tmp_path)
    assert rotated.active.kid == "b"
    assert (await _verifier(rotated).verify(token)).roles


async def test_expired_tokens_are_refused(tmp_path: Path) -> None:
    _write_key(tmp_path, "a")
    keys = KeyRing.load(tmp_path)
    token = issue_access_token(
        keys, _user(), issuer="iss", audience="aud", ttl_s=60, now=datetime.now(UTC) - timedelta(minutes=5)
    )
    with pytest.raises(InvalidToken):
        await _verifier(keys).verify(token)


async def test_wrong_audience_or_issuer_is_refused(tmp_path: Path) -> None:
    _write_key(tmp_path, "a")
    keys = KeyRing.load(tmp_path)
    for iss, aud in (("iss", "other"), ("other", "aud")):
        token = issue_access_token(keys, _user(), issuer=iss, audience=aud, ttl_s=60)
        with pytest.raises(InvalidToken):
            await _verifier(keys).verify(token)


def test_refresh_tokens_are_random_and_stored_only_as_hashes() -> None:
    a, b = new_opaque_token(), new_opaque_token()
    assert a != b and len(a) >= 40
    assert hash_opaque_token(a) == hash_opaque_token(a) != hash_opaque_token(b)
    assert a.encode() not in hash_opaque_token(a)


def test_an_empty_key_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no signing keys"):
        KeyRing.load(tmp_path)
