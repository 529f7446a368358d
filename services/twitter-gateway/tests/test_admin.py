"""The admin's X settings and status: who may see and change them, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from lx_devstack.testing import register_and_sign_in

from .conftest import PROBLEM, XWorld

pytestmark = pytest.mark.integration


def _settings(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hashtags": ["LabourExchange"],
        "poll_interval_s": 60,
        "monthly_read_budget": 10000,
        "monthly_post_budget": 1500,
        "posting_enabled": True,
    }
    body.update(over)
    return body


def test_an_admin_reads_settings_and_status(x: XWorld, admin_auth: dict[str, str]) -> None:
    r = x.gateway.get("/api/v1/admin/x", headers=admin_auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"settings", "status"}
    assert {"hashtags", "poll_interval_s", "monthly_read_budget", "monthly_post_budget", "posting_enabled"} <= set(
        body["settings"]
    )
    assert {
        "last_poll_at",
        "since_id",
        "reads_used",
        "posts_used",
        "rate_limit_remaining",
        "rate_limit_reset",
        "x_configured",
    } <= set(body["status"])


def test_an_admin_changes_settings_and_a_hash_is_dropped(x: XWorld, admin_auth: dict[str, str]) -> None:
    before = x.gateway.get("/api/v1/admin/x", headers=admin_auth).json()["settings"]
    try:
        r = x.gateway.put(
            "/api/v1/admin/x",
            headers=admin_auth,
            json=_settings(hashtags=["#LabourExchange", "labourexchange", "#Volunteers"], poll_interval_s=900),
        )
        assert r.status_code == 200, r.text
        assert r.json()["settings"]["hashtags"] == ["LabourExchange", "Volunteers"]
        assert r.json()["settings"]["poll_interval_s"] == 900
        assert x.gateway.get("/api/v1/admin/x", headers=admin_auth).json()["settings"]["hashtags"] == [
            "LabourExchange",
            "Volunteers",
        ]
    finally:
        restore = {k: before[k] for k in _settings()}
        assert x.gateway.put("/api/v1/admin/x", headers=admin_auth, json=restore).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hashtags": []}, "hashtags"),
        ({"hashtags": [f"t{i}" for i in range(11)]}, "hashtags"),
        ({"hashtags": ["ok", "not ok"]}, "hashtags.1"),
        ({"hashtags": ["x" * 101]}, "hashtags.0"),
        ({"poll_interval_s": 14}, "poll_interval_s"),
        ({"poll_interval_s": 3601}, "poll_interval_s"),
        ({"monthly_read_budget": -1}, "monthly_read_budget"),
        ({"monthly_post_budget": -5}, "monthly_post_budget"),
        ({"posting_enabled": "yes"}, "posting_enabled"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_settings_are_refused_field_by_field(
    x: XWorld, admin_auth: dict[str, str], change: dict[str, Any], field: str
) -> None:
    r = x.gateway.put("/api/v1/admin/x", headers=admin_auth, json=_settings(**change))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert field in [e["field"] for e in r.json()["errors"]]


def test_missing_fields_and_broken_json_are_refused(x: XWorld, admin_auth: dict[str, str]) -> None:
    r = x.gateway.put("/api/v1/admin/x", headers=admin_auth, json={"hashtags": ["a"]})
    assert r.status_code == 422
    broken = x.gateway.put(
        "/api/v1/admin/x", headers={**admin_auth, "content-type": "application/json"}, content=b"{not json"
    )
    assert broken.status_code == 422


def test_only_admins_see_or_change_x_settings(x: XWorld) -> None:
    someone = register_and_sign_in(x.gateway, name="Not An Admin")
    assert x.gateway.get("/api/v1/admin/x", headers=someone.auth).status_code == 403
    assert x.gateway.put("/api/v1/admin/x", headers=someone.auth, json=_settings()).status_code == 403
    assert x.gateway.get("/api/v1/admin/x").status_code == 401
    assert x.gateway.put("/api/v1/admin/x", json=_settings()).status_code == 401
