"""Sealing X tokens at rest: round trips, bound context, tampering, key rotation and bad settings."""

from __future__ import annotations

import base64

import pytest

from twitter_svc.crypto import TokenBox, TokenBoxError, generate_key

pytestmark = pytest.mark.unit

CTX = b"user:7d1c/access"


def key(kid: str, fill: int) -> str:
    return f"{kid}:{base64.urlsafe_b64encode(bytes([fill]) * 32).rstrip(b'=').decode()}"


def test_sealed_token_opens_to_the_same_text() -> None:
    box = TokenBox.from_setting(generate_key("k1"))
    sealed = box.seal("tok-é-123", context=CTX)
    assert sealed.startswith("v1.k1.")
    assert "tok" not in sealed
    assert box.open(sealed, context=CTX) == "tok-é-123"


def test_sealing_twice_gives_different_values() -> None:
    box = TokenBox.from_setting(generate_key())
    assert box.seal("same", context=CTX) != box.seal("same", context=CTX)


def test_sealed_token_does_not_open_under_another_context() -> None:
    box = TokenBox.from_setting(generate_key("k1"))
    sealed = box.seal("secret", context=CTX)
    with pytest.raises(TokenBoxError):
        box.open(sealed, context=b"user:other/access")


def test_tampered_ciphertext_is_rejected() -> None:
    box = TokenBox.from_setting(generate_key("k1"))
    sealed = box.seal("secret", context=CTX)
    prefix, body = sealed.rsplit(".", 1)
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(TokenBoxError):
        box.open(f"{prefix}.{flipped}", context=CTX)
    for broken in ("", "v1.k1", "v2.k1.AAAA", "v1.k1.!!!!", "v1.k1.AAAA", "v1..AAAA", "plain-token"):
        with pytest.raises(TokenBoxError):
            box.open(broken, context=CTX)


def test_key_from_another_setting_does_not_open() -> None:
    sealed = TokenBox.from_setting(key("k1", 1)).seal("secret", context=CTX)
    with pytest.raises(TokenBoxError):
        TokenBox.from_setting(key("k1", 2)).open(sealed, context=CTX)


def test_token_sealed_with_old_key_opens_after_rotation_and_is_not_current() -> None:
    old = TokenBox.from_setting(key("k1", 1))
    sealed = old.seal("secret", context=CTX)
    assert old.is_current(sealed)

    rotated = TokenBox.from_setting(f"{key('k2', 2)}, {key('k1', 1)}")
    assert rotated.current_kid == "k2"
    assert rotated.open(sealed, context=CTX) == "secret"
    assert not rotated.is_current(sealed)

    resealed = rotated.seal(rotated.open(sealed, context=CTX), context=CTX)
    assert resealed.startswith("v1.k2.")
    assert rotated.is_current(resealed)
    assert not rotated.is_current("garbage")


def test_token_sealed_with_an_unknown_key_id_names_the_id() -> None:
    sealed = TokenBox.from_setting(key("gone", 1)).seal("secret", context=CTX)
    with pytest.raises(TokenBoxError, match="gone"):
        TokenBox.from_setting(key("k1", 1)).open(sealed, context=CTX)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("", "empty"),
        ("  ", "empty"),
        (",", "empty"),
        ("k1", "kid:base64url"),
        (":" + key("x", 1).split(":")[1], "kid:base64url"),
        ("k1:", "kid:base64url"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "32 bytes"),
        ("k1:" + base64.urlsafe_b64encode(b"x" * 33).decode(), "32 bytes"),
        ("k1:not*base64", "base64url"),
        (f"{key('k1', 1)},{key('k1', 2)}", "twice"),
        (f"{key('k1', 1)},,{key('k2', 2)}", "entry 2 is empty"),
        (key("bad.kid", 1), "key id"),
    ],
)
def test_malformed_setting_is_refused_with_a_clear_error(setting: str, message: str) -> None:
    with pytest.raises(TokenBoxError, match=message) as caught:
        TokenBox.from_setting(setting)
    secret_part = setting.partition(":")[2]
    if len(secret_part) > 8:
        assert secret_part not in str(caught.value)


def test_generated_keys_are_distinct_and_usable() -> None:
    a, b = generate_key("a"), generate_key("b")
    assert a.split(":")[1] != b.split(":")[1]
    box = TokenBox.from_setting(f"{a},{b}")
    assert box.open(box.seal("x", context=b""), context=b"") == "x"
