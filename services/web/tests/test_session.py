"""The session plumbing in process, without the API: CSRF on every form post, cookie flags, headers."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from web_svc.app import CONTENT_SECURITY_POLICY, create_app
from web_svc.security import csrf_token
from web_svc.settings import WebSettings

pytestmark = pytest.mark.unit

KEY = "s" * 40
# Nothing listens here: these tests must never reach the API.
SETTINGS = WebSettings(api_base_url="http://127.0.0.1:9", session_key=SecretStr(KEY), api_timeout_s=1)
POST_PAGES = [
    "/signup",
    "/login",
    "/logout",
    "/me",
    "/requests/new",
    "/requests/5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c12/offers",
    "/requests/5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c12/offers/5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c13/accept",
    "/requests/5b0c6a3e-8a7e-4b52-9d0a-2f1f8a6b9c12/invitations",
]


@pytest.fixture
async def web() -> httpx.AsyncClient:
    app = create_app(SETTINGS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.mark.parametrize("path", POST_PAGES)
async def test_form_post_without_csrf_token_is_refused(web: httpx.AsyncClient, path: str) -> None:
    web.cookies.set("lx_sid", "a-session-id")
    r = await web.post(path, data={"email": "a@example.org", "password": "x" * 20})
    assert r.status_code == 403
    assert "This form has expired" in r.text
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_form_post_with_another_sessions_token_is_refused(web: httpx.AsyncClient) -> None:
    web.cookies.set("lx_sid", "my-session")
    r = await web.post("/logout", data={"csrf_token": csrf_token(KEY.encode(), "someone-else")})
    assert r.status_code == 403


async def test_form_post_without_any_session_is_refused(web: httpx.AsyncClient) -> None:
    r = await web.post("/logout", data={"csrf_token": csrf_token(KEY.encode(), "")})
    assert r.status_code == 403


async def test_sign_out_with_the_sessions_token_clears_the_token_cookies(web: httpx.AsyncClient) -> None:
    web.cookies.set("lx_sid", "my-session")
    r = await web.post("/logout", data={"csrf_token": csrf_token(KEY.encode(), "my-session")})
    assert r.status_code == 303 and r.headers["location"] == "/?notice=signed-out"
    cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith("lx_at=") and "Max-Age=0" in c for c in cookies)
    assert any(c.startswith("lx_rt=") and "Max-Age=0" in c for c in cookies)
    new_sid = [c for c in cookies if c.startswith("lx_sid=")]
    assert new_sid and "my-session" not in new_sid[0]


async def test_htmx_header_carries_the_csrf_token(web: httpx.AsyncClient) -> None:
    web.cookies.set("lx_sid", "my-session")
    r = await web.post("/logout", headers={"X-CSRF-Token": csrf_token(KEY.encode(), "my-session")})
    assert r.status_code == 303


async def test_session_cookie_is_httponly_secure_and_samesite_lax(web: httpx.AsyncClient) -> None:
    r = await web.get("/logout")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("lx_sid=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag in cookie


async def test_every_page_carries_the_security_headers(web: httpx.AsyncClient) -> None:
    for path in ("/logout", "/no-such-page", "/static/app.css"):
        r = await web.get(path)
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"


async def test_pages_say_so_when_the_api_is_down(web: httpx.AsyncClient) -> None:
    r = await web.get("/requests")
    assert r.status_code == 503
    assert "not answering" in r.text and "Traceback" not in r.text


async def test_signed_out_person_asking_for_their_profile_is_sent_to_sign_in(web: httpx.AsyncClient) -> None:
    r = await web.get("/me/offers?x=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fme%2Foffers%3Fx%3D1"


async def test_unknown_request_id_is_a_404_page(web: httpx.AsyncClient) -> None:
    r = await web.get("/requests/not-an-id")
    assert r.status_code == 404 and "Page not found" in r.text
