"""One browser request's view of its session: cookies in, API calls with the person's tokens, cookies out.

The access and refresh tokens live only in HttpOnly cookies; the browser never sees them in a page.
The access token is refreshed before it runs out, or when the API answers 401, and the new pair goes
back in the same response."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request, Response

from lx_platform.logging import request_id_var
from web_svc.apiclient import ApiClient, ApiResult, TokenPair
from web_svc.security import (
    Claims,
    csrf_ok,
    csrf_token,
    needs_refresh,
    new_session_id,
    parse_multipart,
    read_claims,
    safe_next,
)

SID_COOKIE = "lx_sid"
ACCESS_COOKIE = "lx_at"
REFRESH_COOKIE = "lx_rt"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
REFRESH_MAX_AGE_S = 30 * 24 * 3600
MAX_FIELDS = 2000


class CsrfRejected(Exception):
    """A state-changing request without this session's CSRF token."""


class SignInNeeded(Exception):
    """The page needs a signed-in person; send them to /login and back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass
class _CookieChange:
    value: str | None  # None: delete
    max_age: int | None


class Session:
    def __init__(self, request: Request, *, api: ApiClient, key: bytes, secure: bool, refresh_margin_s: int) -> None:
        self.request = request
        self.api = api
        self._key = key
        self._secure = secure
        self._margin = refresh_margin_s
        self._changes: dict[str, _CookieChange] = {}
        cookies = request.cookies
        self.sid = cookies.get(SID_COOKIE) or ""
        if not self.sid or len(self.sid) > 100:
            self.sid = new_session_id()
            self._set(SID_COOKIE, self.sid, REFRESH_MAX_AGE_S)
        self.access_token: str | None = cookies.get(ACCESS_COOKIE) or None
        self.refresh_token: str | None = cookies.get(REFRESH_COOKIE) or None

    # -- who is here --------------------------------------------------------------------------
    @property
    def signed_in(self) -> bool:
        return bool(self.access_token or self.refresh_token)

    @property
    def claims(self) -> Claims:
        return read_claims(self.access_token)

    @property
    def csrf(self) -> str:
        return csrf_token(self._key, self.sid)

    # -- forms ----------------------------------------------------------------------------------
    async def form(self) -> dict[str, str]:
        """The posted form fields (urlencoded), after checking the CSRF token; CsrfRejected otherwise."""
        body = await self.request.body()
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            pairs = []
        fields: dict[str, str] = {}
        for k, v in pairs:
            fields.setdefault(k, v)
        presented = fields.pop(CSRF_FIELD, None) or self.request.headers.get(CSRF_HEADER)
        if not csrf_ok(self._key, self.sid, presented):
            raise CsrfRejected
        return fields

    async def upload(self) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
        """A posted multipart/form-data form: (fields, files by field name), after checking the CSRF token."""
        body = await self.request.body()
        fields, files = parse_multipart(self.request.headers.get("content-type", ""), body)
        presented = fields.pop(CSRF_FIELD, None) or self.request.headers.get(CSRF_HEADER)
        if not csrf_ok(self._key, self.sid, presented):
            raise CsrfRejected
        return fields, files

    # -- tokens ---------------------------------------------------------------------------------
    def sign_in(self, pair: TokenPair) -> None:
        """Keep a new token pair, and start a new browser session id (so old CSRF tokens stop working)."""
        self._keep(pair)
        self.sid = new_session_id()
        self._set(SID_COOKIE, self.sid, REFRESH_MAX_AGE_S)

    def sign_out(self) -> None:
        self.access_token = self.refresh_token = None
        self._changes[ACCESS_COOKIE] = _CookieChange(None, None)
        self._changes[REFRESH_COOKIE] = _CookieChange(None, None)
        self.sid = new_session_id()
        self._set(SID_COOKIE, self.sid, REFRESH_MAX_AGE_S)

    def _keep(self, pair: TokenPair) -> None:
        self.access_token, self.refresh_token = pair.access_token, pair.refresh_token
        self._set(ACCESS_COOKIE, pair.access_token, max(pair.expires_in, 1))
        self._set(REFRESH_COOKIE, pair.refresh_token, REFRESH_MAX_AGE_S)

    async def _refresh(self) -> bool:
        if not self.refresh_token:
            return False
        pair = await self.api.refresh(self.refresh_token, headers=self.forward_headers())
        if pair is None:
            self.sign_out()
            return False
        self._keep(pair)
        return True

    async def token(self) -> str | None:
        """An access token good for at least the refresh margin, refreshing it if need be."""
        if self.refresh_token and needs_refresh(self.access_token, now=time.time(), margin_s=self._margin):
            await self._refresh()
        return self.access_token

    # -- calling the API ----------------------------------------------------------------------
    def forward_headers(self) -> dict[str, str]:
        headers = {"X-Forwarded-For": self.client_address()}
        if rid := request_id_var.get():
            headers["X-Request-ID"] = rid
        return headers

    def client_address(self) -> str:
        """The browser's address: the gateway's X-Forwarded-For (the gateway sets it, clients cannot)."""
        forwarded = self.request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded[:64]
        return self.request.client.host if self.request.client else "unknown"

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> ApiResult:
        """Call the API as this person (if signed in); on 401, refresh once and try again."""
        token = await self.token() if auth else None

        async def send(with_token: str | None) -> ApiResult:
            headers = self.forward_headers()
            if content_type:
                headers["Content-Type"] = content_type
            return await self.api.call(
                method, path, token=with_token, json=json, params=params, headers=headers, content=content
            )

        result = await send(token)
        if result.status == 401 and token and await self._refresh():
            result = await send(self.access_token)
        if result.status == 401 and token:
            self.sign_out()
        return result

    async def need(self, method: str, path: str, **kw: Any) -> ApiResult:
        """Like `call`, for pages that only make sense signed in: 401 sends the person to sign in."""
        if not self.signed_in:
            raise SignInNeeded(self.here())
        result = await self.call(method, path, **kw)
        if result.status == 401:
            raise SignInNeeded(self.here())
        return result

    def here(self) -> str:
        url = self.request.url
        return safe_next(url.path + (f"?{url.query}" if url.query else ""))

    # -- cookies out --------------------------------------------------------------------------
    def _set(self, name: str, value: str, max_age: int) -> None:
        self._changes[name] = _CookieChange(value, max_age)

    def apply(self, response: Response) -> None:
        for name, change in self._changes.items():
            if change.value is None:
                response.delete_cookie(name, path="/", secure=self._secure, httponly=True, samesite="lax")
            else:
                response.set_cookie(
                    name,
                    change.value,
                    max_age=change.max_age,
                    path="/",
                    secure=self._secure,
                    httponly=True,
                    samesite="lax",
                )


def login_url(next_path: str) -> str:
    return "/login?" + urlencode({"next": safe_next(next_path)})
