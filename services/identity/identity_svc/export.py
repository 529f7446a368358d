"""Gathering a person's export: every other service's section, fetched with the person's own token.

Each source is asked `GET {base}/internal/v1/me/export` (docs/internal-api.md) at the same time; the
export is all of them or nothing, never a silently partial file. The access log is gathered the same way
from `GET {base}/internal/v1/me/access-log`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

EXPORT_PATH = "/internal/v1/me/export"


class SectionsUnavailable(Exception):
    """Some sources did not give their section; `names` says which, in the configured order."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


async def _section(
    client: httpx.AsyncClient,
    name: str,
    url: str,
    headers: dict[str, str],
    params: Mapping[str, str] | None,
    timeout_s: float,
) -> tuple[str, dict[str, Any] | None]:
    try:
        # The whole answer within the timeout, not each read: a source trickling bytes fails too.
        async with asyncio.timeout(timeout_s):
            answer = await client.get(url, headers=headers, params=params)
    except TimeoutError:
        log.warning("export source timed out", extra={"source": name})
        return name, None
    except httpx.HTTPError as exc:
        log.warning("export source unreachable", extra={"source": name, "error": type(exc).__name__})
        return name, None
    if answer.status_code != 200:
        log.warning("export source refused", extra={"source": name, "status": answer.status_code})
        return name, None
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        log.warning("export source answered something other than a JSON object", extra={"source": name})
        return name, None
    return name, body


async def gather_sections(
    sources: Mapping[str, str],
    *,
    authorization: str,
    request_id: str | None = None,
    timeout_s: float = 10.0,
    client: httpx.AsyncClient | None = None,
    path: str = EXPORT_PATH,
    params: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every source's answer to `GET {base}{path}` (with that source's query `params`, if any), keyed by
    source name in the configured order; SectionsUnavailable naming each source that failed to answer 200
    with a JSON object within the timeout."""
    headers = {"Authorization": authorization, "Accept": "application/json"}
    if request_id:
        headers["X-Request-ID"] = request_id
    own = client is None
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False)
    try:
        results = dict(
            await asyncio.gather(
                *(
                    _section(http, name, url.rstrip("/") + path, headers, (params or {}).get(name), timeout_s)
                    for name, url in sources.items()
                )
            )
        )
    finally:
        if own:
            await http.aclose()
    failed = [name for name in sources if results.get(name) is None]
    if failed:
        raise SectionsUnavailable(failed)
    return {name: section for name, section in results.items() if section is not None}
