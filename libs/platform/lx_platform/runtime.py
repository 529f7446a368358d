"""The composition every service shares: pool, migrations, outbox relay, consumers, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import create_model

from lx_contracts.envelope import CloudEvent
from lx_contracts.topics import Topic
from lx_platform.auth import TokenVerifier
from lx_platform.consumer import EventConsumer
from lx_platform.db import UNAVAILABLE, create_pool, unavailable
from lx_platform.http import RequestContextMiddleware, install_error_handlers, problem, use_problem_json_in_openapi
from lx_platform.kafka import ServiceKafkaBroker, make_producer
from lx_platform.kafka_security import aiokafka_kwargs, faststream_security
from lx_platform.logging import configure_logging
from lx_platform.migrations import apply_migrations
from lx_platform.outbox import OutboxRelay
from lx_platform.settings import ServiceSettings
from lx_platform.verified_tokens import VerifiedTokens

log = logging.getLogger(__name__)

StartHook = Callable[["ServiceRuntime"], Awaitable[None]]


class ServiceRuntime:
    """Owns a service's connections and background work for the life of its process."""

    def __init__(
        self,
        *,
        name: str,
        settings: ServiceSettings,
        migrations_dir: Path,
        publishes: Sequence[Topic] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.migrations_dir = migrations_dir
        self.broker = ServiceKafkaBroker(
            settings.kafka_bootstrap_servers,
            client_id=name,
            acks="all",
            enable_idempotence=settings.kafka_idempotent_producer,
            logger=logging.getLogger("faststream"),
            log_level=logging.DEBUG,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            security=faststream_security(settings),
        )
        self.events = EventConsumer(broker=self.broker, group_id=name)
        # Declared so the AsyncAPI document shows what this service emits (the relay does the sending).
        for topic in publishes:
            self.broker.publisher(
                topic.name, schema=event_schema(topic), title=topic.name, description=topic.description
            )
        self.verifier = TokenVerifier(
            jwks_url=settings.jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        self._pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._broker_started = False
        self._consumers: asyncio.Task[None] | None = None
        self._periodic: list[tuple[str, float, Callable[[], Awaitable[None]]]] = []

    def every(self, seconds: float, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` every `seconds` while the service runs (housekeeping); failures are logged, not fatal."""
        if self._pool is not None:  # already running: start it now
            self._tasks.append(asyncio.create_task(self._run_periodic(name, seconds, job), name=name))
        else:
            self._periodic.append((name, seconds, job))

    async def _run_periodic(self, name: str, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while not self._stop.is_set():
            try:
                await job()
            except Exception:
                log.exception("periodic job failed", extra={"job": name})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    async def start(self) -> None:
        s = self.settings
        self._pool = await create_pool(
            s.database_url,
            schema=s.db_schema,
            application_name=self.name,
            min_size=s.db_pool_min,
            max_size=s.db_pool_max,
        )
        async with self._pool.acquire() as conn:
            await apply_migrations(conn, schema=s.db_schema, directory=self.migrations_dir)
        self.producer = make_producer(
            s.kafka_bootstrap_servers,
            client_id=f"{self.name}-relay",
            idempotent=s.kafka_idempotent_producer,
            security=aiokafka_kwargs(s),
        )
        await self.producer.start()
        relay = OutboxRelay(
            pool=self._pool,
            schema=s.db_schema,
            producer=self.producer,
            batch_size=s.outbox_batch_size,
            retention=timedelta(hours=s.outbox_retention_hours),
        )
        self._tasks.append(asyncio.create_task(relay.run(self._stop), name="outbox-relay"))
        for name, seconds, job in self._periodic:
            self._tasks.append(asyncio.create_task(self._run_periodic(name, seconds, job), name=name))
        self.events.subscribe(self._pool)
        if self.events.handlers:
            # Joining a consumer group takes seconds (5 s on the dev broker); HTTP need not wait for it.
            self._consumers = asyncio.create_task(self._start_consumers(), name="consumers")

    async def _start_consumers(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                await self.broker.start()
                self._broker_started = True
                log.info("consumers started", extra={"topics": sorted(self.events.handlers)})
                self.every(15, "consumer-lag", self.events.report_lag)
                return
            except Exception as exc:
                log.warning("consumers could not start; retrying", extra={"error": repr(exc)})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        self._stop.set()
        if self._consumers is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._consumers, timeout=15)
        if self._broker_started:
            await self.broker.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        if self.producer is not None:
            await self.producer.stop()
        await self.verifier.aclose()
        if self._pool is not None:
            await self._pool.close()

    async def ready(self) -> dict[str, str]:
        checks = {"postgres": "ok", "kafka": "ok"}
        try:
            await asyncio.wait_for(self.pool.fetchval("SELECT 1"), timeout=2)
        except Exception:
            checks["postgres"] = "unreachable"
        try:
            assert self.producer is not None
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout=2)
        except Exception:
            checks["kafka"] = "unreachable"
        return checks

    def asyncapi_document(self) -> dict[str, Any]:
        """The AsyncAPI 3.0 document of what this service publishes and consumes."""
        self.events.subscribe()
        spec = AsyncAPI(self.broker, title=f"Labour Exchange {self.name} events", version="1.0.0")
        document: dict[str, Any] = spec.to_specification().to_jsonable()
        return document

    def create_app(
        self,
        *,
        title: str,
        description: str,
        routers: Iterable[APIRouter] = (),
        on_start: StartHook | None = None,
    ) -> FastAPI:
        """The service's FastAPI app with health, metrics, problem+json and request ids wired in."""
        configure_logging(self.name, self.settings.log_level)

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            if on_start is not None:
                await on_start(self)
            log.info("service started", extra={"port": self.settings.port})
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
        app.state.runtime = self
        app.state.token_verifier = self.verifier
        app.state.verified_tokens = VerifiedTokens(self.verifier)
        app.add_middleware(RequestContextMiddleware, max_body_bytes=self.settings.max_body_bytes)
        install_error_handlers(app)
        install_database_unavailable_handler(app)
        use_problem_json_in_openapi(app)
        for router in routers:
            app.include_router(router)
        add_health_routes(app, self.ready)

        @app.get("/asyncapi.json", include_in_schema=False)
        async def asyncapi() -> dict[str, Any]:
            return self.asyncapi_document()

        return app


def install_database_unavailable_handler(app: FastAPI) -> None:
    """While Postgres is down or restarting, answer 503 problem+json with Retry-After, not a 500: the pool
    reconnects by itself once it is back, so trying again shortly is the right advice."""

    async def _unavailable(request: Request, exc: Exception) -> Response:
        if not unavailable(exc):  # an InterfaceError of another kind: a bug, as any other
            log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
            return problem(500, "Something went wrong on our side. It has been logged.")
        log.warning("database unavailable", extra={"path": request.url.path, "error": repr(exc)[:300]})
        return problem(503, "The database is not answering. Try again shortly.", headers={"Retry-After": "5"})

    for exc_class in (*UNAVAILABLE, asyncpg.InterfaceError):
        app.add_exception_handler(exc_class, _unavailable)


@functools.cache
def event_schema(topic: Topic) -> type[CloudEvent]:
    """The envelope with this topic's payload as `data`, for documentation."""
    name = "".join(part.capitalize() for part in topic.name.replace(".", "-").split("-")[1:-1]) + "Event"
    return create_model(name, __base__=CloudEvent, data=(topic.payload, ...))


def create_plain_app(
    *,
    name: str,
    log_level: str,
    max_body_bytes: int,
    lifespan: Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """An app for a service without a database or events (gateway, web): the same logs, errors,
    request ids, body limit, health and metrics as every other service, and no API docs of its own."""
    configure_logging(name, log_level)
    app = FastAPI(title=f"Labour Exchange {name}", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=max_body_bytes)
    install_error_handlers(app)
    add_health_routes(app, None)
    return app


def add_health_routes(app: FastAPI, ready: Callable[[], Awaitable[dict[str, str]]] | None) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        checks = await ready() if ready else {}
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        return problem(503, "Not ready: " + ", ".join(k for k, v in checks.items() if v != "ok"))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
