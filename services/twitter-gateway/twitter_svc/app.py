"""Composition root for twitter-gateway: settings, the X client and token box, consumers, loops, routes.
Without X credentials it still starts: the loops idle (the admin status says so) and sign-in answers 503."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI

from lx_contracts import topics
from lx_platform import erasure
from lx_platform.runtime import ServiceRuntime
from twitter_svc import handlers, metrics
from twitter_svc import repository as repo
from twitter_svc.api import internal_router, router
from twitter_svc.crypto import TokenBox, TokenBoxError
from twitter_svc.domain import AdminSettings, normalise_hashtags
from twitter_svc.loops import Compliance, Ingestor, Sender
from twitter_svc.reseal import reseal
from twitter_svc.service import Deps
from twitter_svc.settings import TwitterSettings
from twitter_svc.xapi import XApi

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

PUBLISHES = [
    topics.ACCOUNT_LINKED,
    topics.ACCOUNT_UNLINKED,
    topics.TWEET_RECEIVED,
    topics.TWEET_DELETED,
    topics.TWITTER_ERASURE_COMPLETED,
]


def build_deps(settings: TwitterSettings) -> Deps:
    """The X client and token box from the settings, or None for each when they are not configured."""
    box: TokenBox | None = None
    if settings.secret("token_keys"):
        try:
            box = TokenBox.from_setting(settings.secret("token_keys"))
        except TokenBoxError as exc:
            # The message names key ids, never keys.
            raise SystemExit(f"TWITTER_TOKEN_KEYS is unusable: {exc}") from None
    x: XApi | None = None
    if settings.x_configured:
        x = XApi(
            base_url=settings.x_api_base_url,
            authorize_url=settings.x_authorize_url,
            client_id=settings.x_client_id,
            client_secret=settings.secret("x_client_secret"),
            bearer_token=settings.secret("x_bearer_token"),
            account_token=settings.secret("x_account_token"),
            max_attempts=settings.x_max_attempts,
            backoff_base_s=settings.x_backoff_base_s,
            backoff_cap_s=settings.x_backoff_cap_s,
        )
        metrics.watch_rate_limits(x.rate_states)
    deps = Deps(settings=settings, x=x, box=box)
    if x is None:
        deps.notes["x"] = (
            "X is not configured (client id, secret, bearer token, token keys): nothing is polled or sent."
        )
    return deps


def default_admin_settings(settings: TwitterSettings) -> AdminSettings:
    tags, errors = normalise_hashtags(settings.hashtags)
    if errors:
        raise SystemExit("TWITTER_HASHTAGS: " + "; ".join(e.message for e in errors))
    return AdminSettings(
        hashtags=tags,
        poll_interval_s=settings.poll_interval_s,
        monthly_read_budget=settings.monthly_read_budget,
        monthly_post_budget=settings.monthly_post_budget,
        posting_enabled=settings.posting_enabled,
    )


def create_app(settings: TwitterSettings | None = None) -> FastAPI:
    settings = settings or TwitterSettings()
    runtime = ServiceRuntime(name="twitter-gateway", settings=settings, migrations_dir=MIGRATIONS, publishes=PUBLISHES)
    deps = build_deps(settings)
    # Registered before start-up: the runtime subscribes whatever handlers exist when it starts.
    handlers.register(runtime.events, deps)
    defaults = default_admin_settings(settings)

    async def on_start(rt: ServiceRuntime) -> None:
        deps.pool = rt.pool
        async with rt.pool.acquire() as conn:
            await repo.ensure_settings(conn, defaults)
        tick = settings.loop_tick_s
        rt.every(tick, "x-ingestion", Ingestor(deps).tick)
        rt.every(tick, "x-sender", Sender(deps).tick)
        rt.every(tick, "x-compliance", Compliance(deps).tick)

        async def sweep() -> None:
            await erasure.sweep_purged(rt.pool)

        # Outbox rows that name an erased person go once published.
        rt.every(settings.erasure_sweep_interval_s, "erasure-outbox-sweep", sweep)

        async def move_to_current_key() -> None:
            await reseal(rt.pool, deps.box)

        # After a token-key rotation, stored tokens move to the new key (docs/operations.md, "Rotate keys").
        rt.every(settings.reseal_interval_s, "token-reseal", move_to_current_key)
        log.info("X loops started", extra={"x_configured": deps.x is not None})

    app = runtime.create_app(
        title="Labour Exchange twitter gateway",
        description="Everything that touches X: sign-in with X, reading mentions and hashtags into requests, "
        "replies and DMs, and removing tweets deleted on X.",
        routers=[router, internal_router],
        on_start=on_start,
    )
    app.state.deps = deps
    return app
