"""Composition root for identity: settings, keys, runtime, routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from identity_svc import handlers, metrics, service
from identity_svc.api import internal_router, router
from identity_svc.passwords import Passwords
from identity_svc.settings import IdentitySettings
from identity_svc.tokens import KeyRing
from lx_contracts import topics
from lx_platform.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    runtime = ServiceRuntime(
        name="identity",
        settings=settings,
        migrations_dir=MIGRATIONS,
        publishes=[
            topics.USER_REGISTERED,
            topics.USER_UPDATED,
            topics.ROLE_GRANTED,
            topics.ROLE_REVOKED,
            topics.USER_ERASED,
        ],
    )
    # Registered before start-up: the runtime subscribes whatever handlers exist when it starts.
    handlers.register(runtime.events)

    async def on_start(rt: ServiceRuntime) -> None:
        keys = KeyRing.load(settings.signing_keys_dir)
        # Identity verifies its own tokens with its own public keys, no HTTP round trip.
        rt.verifier.add_jwks(keys.jwks())
        passwords = Passwords(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        deps = service.Deps(
            db=rt.pool,
            passwords=passwords,
            tokens=service.TokenPolicy(
                keys=keys,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                access_ttl_s=settings.access_token_ttl_s,
                refresh_ttl_s=settings.refresh_token_ttl_s,
            ),
            throttle=service.ThrottlePolicy(
                limit=settings.login_failure_limit, window_s=settings.login_failure_window_s
            ),
            x_sign_in_key=(settings.x_sign_in_key.get_secret_value() or None) if settings.x_sign_in_key else None,
            export_sources=dict(settings.export_sources),
            export_timeout_s=settings.export_timeout_s,
            access_log_sources={
                name: url for name, url in settings.export_sources.items() if name in settings.access_log_sources
            },
        )
        app.state.deps = deps
        rt.every(600, "identity-housekeeping", lambda: service.housekeeping(db=rt.pool, throttle=deps.throttle))
        # Erasures not every service has confirmed, for the ErasureStuck alert.
        rt.every(30, "erasure-watch", lambda: metrics.observe_erasures(rt.pool))
        if settings.bootstrap_admin_email and settings.bootstrap_admin_password:
            await service.ensure_bootstrap_admin(
                db=rt.pool,
                passwords=passwords,
                email=settings.bootstrap_admin_email,
                password=settings.bootstrap_admin_password,
            )

    app = runtime.create_app(
        title="Labour Exchange identity",
        description="Accounts, tokens, roles and consents.",
        routers=[router, internal_router],
        on_start=on_start,
    )
    return app
