"""Without X credentials the service still builds and answers: sign-in is 503, nothing talks to X."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from twitter_svc.app import build_deps, create_app
from twitter_svc.settings import TwitterSettings

pytestmark = pytest.mark.unit

PROBLEM = "application/problem+json"


def _bare() -> TwitterSettings:
    return TwitterSettings(x_client_id="", x_client_secret=None, x_bearer_token=None, token_keys=None)


def test_without_credentials_x_is_not_configured_and_nothing_is_built() -> None:
    settings = _bare()
    assert settings.x_configured is False
    deps = build_deps(settings)
    assert deps.x is None and deps.box is None
    assert "not configured" in deps.notes["x"]


def test_the_defaults_point_at_the_real_x_not_a_fake() -> None:
    settings = _bare()
    assert settings.x_api_base_url == "https://api.x.com"
    assert settings.x_authorize_url.startswith("https://x.com/")
    assert settings.posting_enabled is False


def test_sign_in_with_x_answers_503_when_x_is_not_configured() -> None:
    client = TestClient(create_app(_bare()))  # no lifespan: no database or broker needed for this
    for path in ("/api/v1/auth/x/authorize", "/api/v1/auth/x/callback?state=s&code=c"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith(PROBLEM)


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    settings = TwitterSettings(x_client_secret="s3cret-value", x_bearer_token="b3arer-value")
    assert "s3cret-value" not in repr(settings) and "b3arer-value" not in repr(settings)
