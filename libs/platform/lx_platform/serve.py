"""Run a service's ASGI app factory under uvicorn with the project's settings."""

from __future__ import annotations

from typing import Any, Protocol

import uvicorn


class Listens(Protocol):
    host: str
    port: int


def serve(factory: str, settings: Listens, **options: Any) -> None:
    """Serve `module:create_app` on the configured address; logs go through our JSON logging. `options` are
    passed to uvicorn as well."""
    uvicorn.run(
        factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        **options,
    )
