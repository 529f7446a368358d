"""HTTP conventions: RFC 9457 problem+json errors, request ids, body limits, route metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lx_platform.logging import request_id_var
from lx_platform.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger(__name__)
access_log = logging.getLogger("lx.access")
# Probes and scrapes would drown the access log.
_QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}

PROBLEM_JSON = "application/problem+json"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# FastAPI's own detail when a JSON body cannot be read at all (not UTF-8, for one).
_FASTAPI_UNPARSABLE = "There was an error parsing the body"

_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


class ProblemError(Exception):
    """Raise to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.title = title or _TITLES.get(status, "Error")
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_body(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    title = title or _TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": f"https://labour-exchange.example/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    if errors is not None:
        body["errors"] = errors
    if rid := request_id_var.get():
        body["request_id"] = rid
    return body


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, title=title, errors=errors),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            errors.append({"field": "body", "message": "The body is not valid JSON."})
            continue
        message = err.get("msg", "Invalid value")
        if err.get("type") == "extra_forbidden":
            message = "Unknown field."
        errors.append({"field": _field_name(tuple(err.get("loc", ()))) or "body", "message": message})
    return errors


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem(exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, "Some fields are missing or invalid.", errors=validation_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, _TooDeep):
            return _too_deep(exc.max_depth)
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 400 and detail == _FASTAPI_UNPARSABLE:
            # A body that is not UTF-8 (or otherwise unreadable as JSON) is invalid input like any
            # other malformed JSON: 422, as documented, not FastAPI's own 400.
            return problem(
                422,
                "Some fields are missing or invalid.",
                errors=[{"field": "body", "message": "The body is not valid JSON."}],
            )
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    async def _nul(request: Request, _: Exception) -> JSONResponse:
        # Postgres text cannot hold U+0000 (nor a JSON string escaping it), and every column is Postgres
        # text: whichever field carried it, the input is refused, not a 500.
        log.info("refused text Postgres cannot store", extra={"path": request.url.path})
        return problem(422, "Text may not contain the NUL character (U+0000).")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem(500, "Something went wrong on our side. It has been logged.")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    """Keep a well-formed incoming X-Request-ID; replace anything else."""
    if value and _REQUEST_ID_RE.match(value):
        return value
    return new_request_id()


# One token of interest to the depth scan: an escape pair (so an escaped quote never ends a string),
# a backslash ending a chunk (its pair starts the next one), a quote, or a bracket.
_JSON_TOKENS = re.compile(rb'\\.|\\\Z|["\[\]{}]', re.DOTALL)


class JsonDepthScanner:
    """How deeply a JSON text nests, fed in chunks as they arrive, without parsing it.

    Brackets inside strings do not count; nothing else is checked (the parser judges the rest). Only
    quotes, backslashes and brackets are looked at, by one regular expression, so a megabyte of text
    costs milliseconds, and a body nested deeper than `max_depth` is refused at its first chunk that
    crosses the line, before any parser (json's recursion, pydantic's) sees it."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self._skip_first = False  # the previous chunk ended with a backslash inside a string

    def feed(self, chunk: bytes) -> bool:
        """Scan the next chunk; True once the text has nested deeper than `max_depth`."""
        start = 0
        if self._skip_first and chunk:
            start, self._skip_first = 1, False
        depth, in_string = self.depth, self.in_string
        for match in _JSON_TOKENS.finditer(chunk, start):
            token = match.group()
            if token[0] == 0x5C:  # a backslash: only inside a string does it escape anything
                if in_string and len(token) == 1:
                    self._skip_first = True
                continue
            if token == b'"':
                in_string = not in_string
            elif in_string:
                continue
            elif token in (b"[", b"{"):
                depth += 1
                if depth > self.max_depth:
                    self.depth, self.in_string = depth, in_string
                    return True
            else:
                depth -= 1
        self.depth, self.in_string = depth, in_string
        return False


def _is_json(content_type: bytes | None) -> bool:
    """Whether a body may be read as JSON: FastAPI also parses a body sent without a content type."""
    if not content_type:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class RequestContextMiddleware:
    """Request id in, request id out and in every log line; per-route metrics; body size and JSON depth limits."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 1_000_000, max_json_depth: int = 32) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = accepted_request_id(headers.get(b"x-request-id", b"").decode("latin-1") or None)
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = list(message.get("headers") or [])
                raw = [(k, v) for k, v in raw if k.lower() != b"x-request-id"]
                raw.append((b"x-request-id", rid.encode()))
                message["headers"] = raw
            await send(message)

        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                await _send_problem(send_with_id, 413 if length.isdigit() else 400, self.max_body_bytes)
                return
            depth = JsonDepthScanner(self.max_json_depth) if _is_json(headers.get(b"content-type")) else None
            await self.app(scope, _limited(receive, self.max_body_bytes, depth), send_with_id)
        except _BodyTooLarge:
            await _send_problem(send_with_id, 413, self.max_body_bytes)
        except _TooDeep:
            await _send_problem(send_with_id, 422, self.max_body_bytes, max_depth=self.max_json_depth)
        finally:
            # A route template, never a raw path: ids would explode the label set.
            template = scope.get("route_template") or getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "GET")
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(method, template, str(status_holder["status"])).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            if template not in _QUIET_ROUTES:
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": template,
                        "status": status_holder["status"],
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


# HTTP exceptions, so that FastAPI, reading a body for a route, passes them on rather than turning
# them into its own 400; the error handlers below and the middleware answer them alike.
class _BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request bodies are limited to {limit:,} bytes.")
        self.limit = limit


class _TooDeep(StarletteHTTPException):
    def __init__(self, max_depth: int) -> None:
        super().__init__(422, "The JSON body is too deeply nested.")
        self.max_depth = max_depth


def _too_deep(max_depth: int) -> JSONResponse:
    message = f"The body nests arrays and objects more than {max_depth} levels deep."
    return problem(422, "The JSON body is too deeply nested.", errors=[{"field": "body", "message": message}])


def _limited(receive: Receive, limit: int, depth: JsonDepthScanner | None = None) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            seen += len(body)
            if seen > limit:
                raise _BodyTooLarge(limit)
            if depth is not None and depth.feed(body):
                raise _TooDeep(depth.max_depth)
        return message

    return wrapped


async def _send_problem(send: Send, status: int, limit: int, *, max_depth: int = 0) -> None:
    if status == 422:
        response = _too_deep(max_depth)
    else:
        response = problem(
            status,
            f"Request bodies are limited to {limit:,} bytes." if status == 413 else None,
        )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def use_problem_json_in_openapi(app: FastAPI) -> None:
    """Document error responses as the problem+json they really are, not FastAPI's default 422 shape."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Problem"] = PROBLEM_SCHEMA
        problem_content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                responses = operation.get("responses", {})
                for code, response in responses.items():
                    if code.startswith(("4", "5")):
                        response["content"] = problem_content
                if "422" in responses:
                    responses["422"]["description"] = "Invalid input: `errors` lists each field"
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
