"""Forged and stale tokens are refused at the gateway and at the owning service; admins manage roles."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lx_devstack.stack import Stack
from lx_devstack.testing import Person, register_and_sign_in

pytestmark = pytest.mark.e2e


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(person: Person, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "labour-exchange",
        "aud": "labour-exchange-api",
        "sub": person.id,
        "iat": now,
        "exp": now + 600,
        "jti": "x",
        "typ": "access",
        "roles": ["supporter", "admin"],
        "organiser_of": [],
    }
    claims.update(changes)
    return claims


def _real_header(person: Person) -> dict[str, str]:
    return json.loads(base64.urlsafe_b64decode(person.access_token.split(".")[0] + "=="))


def _forgeries(stack: Stack, person: Person) -> dict[str, str]:
    kid = _real_header(person)["kid"]
    jwks = httpx.get(f"{stack.gateway_url}/api/v1/auth/jwks.json").json()
    public_x = next(k["x"] for k in jwks["keys"] if k["kid"] == kid)
    none_token = ".".join(
        [
            _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode()),
            _b64(json.dumps(_claims(person)).encode()),
            "",
        ]
    )
    # HS256 keyed with the public key: the classic algorithm-confusion forgery.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(_claims(person)).encode())
    import hashlib
    import hmac

    signature = hmac.new(public_x.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    hs256 = f"{header}.{payload}.{_b64(signature)}"
    stranger = Ed25519PrivateKey.generate()
    return {
        "alg none": none_token,
        "HS256 with the public key": hs256,
        "signed by another key": jwt.encode(_claims(person), stranger, algorithm="EdDSA", headers={"kid": kid}),
        "garbage": "not.a.token",
    }


def _claims_from(token: str) -> dict[str, object]:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


@pytest.mark.parametrize("target", ["gateway", "identity"])
def test_forged_tokens_get_401(stack: Stack, person: Person, target: str) -> None:
    base = stack.gateway_url if target == "gateway" else stack.url_of("identity")
    for name, token in _forgeries(stack, person).items():
        r = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, f"{name} was accepted by {target}"
        assert r.headers["content-type"] == "application/problem+json"


def test_expired_and_foreign_audience_tokens_get_401(stack: Stack, gateway: httpx.Client, person: Person) -> None:
    # Sign with identity's real key (the stack keeps it in its data folder), so only the claim is wrong.
    from cryptography.hazmat.primitives import serialization

    key_file = sorted((stack.secrets_dir / "jwt").glob("*.pem"))[-1]
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    now = int(time.time())
    cases = {
        "expired": _claims(person, iat=now - 3600, exp=now - 1800),
        "wrong audience": _claims(person, aud="someone-else"),
        "wrong issuer": _claims(person, iss="evil"),
        "refresh-typed": _claims(person, typ="refresh"),
        "no subject": {k: v for k, v in _claims(person).items() if k != "sub"},
    }
    for name, claims in cases.items():
        token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": key_file.stem})
        for base in (stack.gateway_url, stack.url_of("identity")):
            r = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, f"{name} token accepted at {base}"
    # The control: the same key and claims, valid, are accepted.
    good = jwt.encode(_claims(person, roles=["supporter"]), key, algorithm="EdDSA", headers={"kid": key_file.stem})
    assert gateway.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_access_tokens_are_short_lived_and_carry_the_required_claims(person: Person) -> None:
    claims = _claims_from(person.access_token)
    assert {"iss", "aud", "sub", "exp", "iat", "jti", "roles"} <= set(claims)
    assert int(claims["exp"]) - int(claims["iat"]) <= 900  # type: ignore[call-overload]
    assert _real_header(person)["alg"] == "EdDSA"


def test_admin_grants_and_revokes_an_organiser_role(gateway: httpx.Client, admin: Person) -> None:
    organiser = register_and_sign_in(gateway)
    r = gateway.post(
        f"/api/v1/admin/users/{organiser.id}/roles",
        headers=admin.auth,
        json={"role": "organiser", "constituency_code": "E14001354"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["supporter", "organiser"] and r.json()["organiser_of"] == ["E14001354"]

    # A fresh token carries the new role.
    t = gateway.post("/api/v1/auth/token", json={"email": organiser.email, "password": organiser.password})
    assert _claims_from(t.json()["access_token"])["organiser_of"] == ["E14001354"]

    found = gateway.get("/api/v1/admin/users", params={"email": organiser.email[:14]}, headers=admin.auth)
    assert found.status_code == 200
    assert [u["id"] for u in found.json()["items"]] == [organiser.id]

    r = gateway.request(
        "DELETE",
        f"/api/v1/admin/users/{organiser.id}/roles",
        headers=admin.auth,
        json={"role": "organiser", "constituency_code": "E14001354"},
    )
    assert r.status_code == 200 and r.json()["roles"] == ["supporter"]


def test_role_changes_are_validated(gateway: httpx.Client, admin: Person, person: Person) -> None:
    url = f"/api/v1/admin/users/{person.id}/roles"
    assert gateway.post(url, headers=admin.auth, json={"role": "organiser"}).status_code == 422
    assert (
        gateway.post(url, headers=admin.auth, json={"role": "organiser", "constituency_code": "X99999999"}).status_code
        == 422
    )
    assert gateway.post(url, headers=admin.auth, json={"role": "emperor"}).status_code == 422
    missing = "/api/v1/admin/users/00000000-0000-4000-8000-000000000000/roles"
    assert gateway.post(missing, headers=admin.auth, json={"role": "admin"}).status_code == 404


def test_only_admins_reach_admin_endpoints(gateway: httpx.Client, person: Person) -> None:
    assert gateway.get("/api/v1/admin/users").status_code == 401
    assert gateway.get("/api/v1/admin/users", headers=person.auth).status_code == 403
    r = gateway.post(f"/api/v1/admin/users/{person.id}/roles", headers=person.auth, json={"role": "admin"})
    assert r.status_code == 403


def test_the_last_admin_cannot_be_revoked(gateway: httpx.Client, admin: Person) -> None:
    # No test leaves a second admin behind, so the bootstrap admin is the only one here.
    r = gateway.request("DELETE", f"/api/v1/admin/users/{admin.id}/roles", headers=admin.auth, json={"role": "admin"})
    assert r.status_code == 409
    second = register_and_sign_in(gateway)
    assert (
        gateway.post(f"/api/v1/admin/users/{second.id}/roles", headers=admin.auth, json={"role": "admin"}).status_code
        == 200
    )
    r = gateway.request("DELETE", f"/api/v1/admin/users/{second.id}/roles", headers=admin.auth, json={"role": "admin"})
    assert r.status_code == 200 and "admin" not in r.json()["roles"]


def test_admin_user_list_pages_with_a_cursor(gateway: httpx.Client, admin: Person) -> None:
    for _ in range(3):
        register_and_sign_in(gateway)
    first = gateway.get("/api/v1/admin/users", params={"limit": 2}, headers=admin.auth).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = gateway.get(
        "/api/v1/admin/users", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.auth
    ).json()
    assert not {u["id"] for u in first["items"]} & {u["id"] for u in second["items"]}
    bad = gateway.get("/api/v1/admin/users", params={"cursor": "%%%"}, headers=admin.auth)
    assert bad.status_code == 422
