"""Under `make run` (and in tests) the stack starts the fake X and points the twitter gateway at it."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from lx_devstack.secrets_local import ensure_secret, twitter_secrets
from lx_devstack.stack import Stack
from lx_fakex import ACCOUNT_TOKEN, APP_BEARER_TOKEN, CLIENT_ID


@pytest.mark.unit
def test_x_secrets_are_made_once_and_readable_only_by_their_owner(tmp_path: Path) -> None:
    first = twitter_secrets(tmp_path / "secrets")
    assert twitter_secrets(tmp_path / "secrets") == first
    kid, _, key = first[0].partition(":")
    assert kid and len(key) == 43, "one kid:base64url entry of 32 bytes"
    for name in ("twitter-token-keys", "x-sign-in-key"):
        assert stat.S_IMODE((tmp_path / "secrets" / name).stat().st_mode) == 0o600
    assert ensure_secret(tmp_path / "secrets" / "x-sign-in-key", lambda: "other") == first[1]


@pytest.mark.integration
def test_the_fake_x_answers_with_the_dev_credentials(fake_x: str) -> None:
    with httpx.Client(base_url=fake_x, timeout=10.0) as x:
        assert x.get("/healthz").status_code == 200
        me = x.get("/2/users/me", headers={"Authorization": f"Bearer {ACCOUNT_TOKEN}"})
        assert me.status_code == 200 and me.json()["data"]["username"] == "LabourExchange"
        search = x.get(
            "/2/tweets/search/recent",
            params={"query": "#LabourExchange"},
            headers={"Authorization": f"Bearer {APP_BEARER_TOKEN}"},
        )
        assert search.status_code == 200 and "x-rate-limit-remaining" in search.headers


@pytest.mark.integration
def test_twitter_gateway_and_identity_are_given_the_fake_x_and_one_shared_sign_in_key(
    stack: Stack, fake_x: str
) -> None:
    twitter = stack.service_env(stack.spec("twitter-gateway"))
    assert twitter["TWITTER_X_API_BASE_URL"] == fake_x
    assert twitter["TWITTER_X_AUTHORIZE_URL"] == f"{fake_x}/i/oauth2/authorize"
    assert twitter["TWITTER_X_CLIENT_ID"] == CLIENT_ID
    assert twitter["TWITTER_X_BEARER_TOKEN"] == APP_BEARER_TOKEN
    assert twitter["TWITTER_X_ACCOUNT_TOKEN"] == ACCOUNT_TOKEN
    assert twitter["TWITTER_POSTING_ENABLED"] == "true"
    assert twitter["TWITTER_OAUTH_REDIRECT_URI"] == f"{stack.gateway_url}/api/v1/auth/x/callback"
    assert twitter["TWITTER_TOKEN_KEYS"]
    identity = stack.service_env(stack.spec("identity"))
    assert identity["IDENTITY_X_SIGN_IN_KEY"] == twitter["TWITTER_IDENTITY_INTERNAL_KEY"]
    assert "TWITTER_X_API_BASE_URL" not in stack.service_env(stack.spec("skills"))


@pytest.mark.integration
def test_web_and_the_gateway_share_one_proxy_key_and_the_gateway_knows_its_origin(stack: Stack) -> None:
    web = stack.service_env(stack.spec("web"))
    gateway = stack.service_env(stack.spec("gateway"))
    assert web["WEB_GATEWAY_PROXY_KEY"] and web["WEB_GATEWAY_PROXY_KEY"] == gateway["GATEWAY_PROXY_KEYS"]
    assert gateway["GATEWAY_PUBLIC_ORIGIN"] == stack.gateway_url == web["WEB_API_BASE_URL"]
    assert stat.S_IMODE((stack.secrets_dir / "gateway-proxy-key").stat().st_mode) == 0o600
