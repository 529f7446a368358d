"""Erasure bookkeeping rules and the export aggregator, without a database. The aggregator talks to
real HTTP servers on loopback (small stand-ins that answer what a source might answer)."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
import uuid
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from identity_svc.domain import ERASURE_SERVICES, Erasure, confirm_erasure
from identity_svc.export import SectionsUnavailable, gather_sections
from lx_contracts.identity import subject_hash
from lx_devstack.testkit import serving

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def test_the_subject_hash_is_sha256_of_the_id_and_does_not_contain_it() -> None:
    user_id = uuid.uuid4()
    digest = subject_hash(user_id)
    assert digest == hashlib.sha256(str(user_id).encode()).hexdigest()
    assert str(user_id) not in digest and user_id.hex not in digest
    assert subject_hash(uuid.uuid4()) != digest


def test_an_erasure_completes_only_when_every_service_has_confirmed() -> None:
    erasure = Erasure(requested_at=T0, services=ERASURE_SERVICES, confirmed=(), completed_at=None)
    assert erasure.status == "in_progress" and erasure.pending == list(ERASURE_SERVICES)
    for i, service in enumerate(reversed(ERASURE_SERVICES)):
        at = datetime(2026, 11, 27, 13, i + 1, tzinfo=UTC)
        erasure = confirm_erasure(erasure, service, at)
        if i < len(ERASURE_SERVICES) - 1:
            assert erasure.status == "in_progress" and erasure.completed_at is None
            assert service not in erasure.pending
    assert erasure.status == "completed" and erasure.pending == []
    assert erasure.completed_at == datetime(2026, 11, 27, 13, 4, tzinfo=UTC)
    # Kept in the configured order whatever order they arrived in.
    assert erasure.confirmed == ERASURE_SERVICES


def test_repeated_and_unknown_confirmations_change_nothing() -> None:
    erasure = Erasure(requested_at=T0, services=ERASURE_SERVICES, confirmed=("skills",), completed_at=None)
    assert confirm_erasure(erasure, "skills", T0) is erasure
    assert confirm_erasure(erasure, "payroll", T0) is erasure
    done = Erasure(requested_at=T0, services=("skills",), confirmed=("skills",), completed_at=T0)
    assert confirm_erasure(done, "skills", datetime.now(UTC)).completed_at == T0


# -- the export aggregator against real local servers ------------------------------------------------


def closed_port() -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}"


def source_app(seen: list[dict[str, str]]) -> FastAPI:
    """Answers by the first path segment: /good, /broken (500), /text (not JSON), /list, /slow."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/{kind}/internal/v1/me/export")
    async def export(kind: str, request: Request) -> Response:
        seen.append({"kind": kind, **{k: v for k, v in request.headers.items() if k.startswith(("auth", "x-req"))}})
        if kind == "broken":
            return JSONResponse({"title": "boom"}, status_code=500)
        if kind == "text":
            return PlainTextResponse("not json")
        if kind == "list":
            return JSONResponse([1, 2])
        if kind == "slow":
            await asyncio.sleep(3)  # the source being slow, not the test waiting
        return JSONResponse({"kind": kind, "items": [1]})

    return app


async def test_every_section_is_gathered_with_the_persons_own_token() -> None:
    seen: list[dict[str, str]] = []
    async with serving(source_app(seen)) as url:
        sections = await gather_sections(
            {"skills": f"{url}/good", "requests": f"{url}/good/"},
            authorization="Bearer the-persons-token",
            request_id="rid-123",
        )
    assert sections == {"skills": {"kind": "good", "items": [1]}, "requests": {"kind": "good", "items": [1]}}
    assert list(sections) == ["skills", "requests"]
    assert len(seen) == 2
    assert all(s["authorization"] == "Bearer the-persons-token" and s["x-request-id"] == "rid-123" for s in seen)


async def test_any_source_failing_fails_the_export_and_is_named() -> None:
    seen: list[dict[str, str]] = []
    async with serving(source_app(seen)) as url:
        sources = {
            "skills": f"{url}/good",
            "requests": f"{url}/broken",
            "matcher": closed_port(),
            "twitter": f"{url}/text",
            "extra": f"{url}/list",
            "late": f"{url}/slow",
        }
        started = time.monotonic()
        with pytest.raises(SectionsUnavailable) as err:
            await gather_sections(sources, authorization="Bearer t", timeout_s=1.0)
        took = time.monotonic() - started
    assert err.value.names == ["requests", "matcher", "twitter", "extra", "late"]
    # In parallel, and the slow one is cut off at the timeout.
    assert took < 2.5, took
