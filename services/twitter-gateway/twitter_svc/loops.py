"""The background loops that talk to X: ingestion (mentions and hashtag search), the sender (replies, DMs,
revocations queued in `outgoing`) and the compliance check (tweets deleted on X). Each runs on the
runtime's periodic tick, decides itself whether work is due, and never sleeps on X: a rate limit is
recorded and honoured by skipping until its reset."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from lx_contracts import topics, twitter
from lx_platform.outbox import enqueue
from twitter_svc import metrics
from twitter_svc import repository as repo
from twitter_svc.domain import backoff, id_after, month_of, search_query, tweet_url
from twitter_svc.parsing import SkillTerm, TweetParser, clean_text
from twitter_svc.service import SERVICE, Deps, open_revoke
from twitter_svc.xapi import Page, Tweet, XAuthError, XError, XRateLimited, XUser

log = logging.getLogger(__name__)


def _sanitise(raw: str) -> str:
    """Cleaned tweet text that Postgres and JSON accept whatever X sent (NULs, lone surrogates)."""
    try:
        text = clean_text(raw if isinstance(raw, str) else str(raw))
    except Exception:  # a parser bug must not stop ingestion: keep a plain, safe rendering instead
        log.exception("clean_text failed; storing a plain rendering")
        text = "".join(ch for ch in str(raw) if ch.isprintable() or ch in " \n")[:1000]
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _failure(kind: str, op: str, exc: BaseException) -> None:
    metrics.X_FAILURES.labels(kind).inc()
    metrics.X_CALLS.labels(op, kind).inc()
    # The exception's class and kind only: messages from HTTP libraries can carry URLs with tokens.
    log.warning("call to X failed", extra={"op": op, "kind": kind, "error": type(exc).__name__})


def _kind(exc: XError) -> str:
    return str(getattr(exc, "kind", None) or type(exc).__name__)


class Ingestor:
    """Polls mentions of the campaign account and the hashtag search into `tweets`, publishing new ones."""

    def __init__(self, deps: Deps, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.deps = deps
        self._clock = clock
        self._next_poll = 0.0
        self._blocked_until: dict[str, datetime] = {}
        self._parser: TweetParser | None = None
        self._parser_version: tuple[int, datetime | None] | None = None
        self._campaign_tried_at = -1e9

    async def tick(self) -> None:
        deps = self.deps
        if deps.x is None:
            deps.notes["ingestion"] = "X is not configured: not polling."
            return
        value, _ = await repo.load_settings(deps.db)
        now_m = self._clock()
        if now_m < self._next_poll:
            return
        interval = deps.settings.poll_interval_override_s or value.poll_interval_s
        self._next_poll = now_m + interval
        await self.poll_once(hashtags=value.hashtags, read_budget=value.monthly_read_budget)

    async def poll_once(self, *, hashtags: list[str], read_budget: int) -> None:
        deps = self.deps
        assert deps.x is not None
        now = datetime.now(UTC)
        reads, _ = await repo.usage(deps.db, month_of(now))
        metrics.READS_USED.set(reads)
        metrics.READ_BUDGET.set(read_budget)
        if reads >= read_budget:
            deps.notes["ingestion"] = (
                f"Monthly read budget used ({reads} of {read_budget}): polling paused until next month."
            )
            return
        deps.notes.pop("ingestion", None)
        parser = await self._current_parser()
        campaign = await self._campaign()
        left = read_budget - reads
        for stream in ("mentions", "search"):
            if stream == "mentions" and campaign is None:
                continue
            if stream == "search" and not hashtags:
                continue
            blocked = self._blocked_until.get(stream)
            if blocked is not None and datetime.now(UTC) < blocked:
                continue
            self._blocked_until.pop(stream, None)
            left -= await self._poll_stream(
                stream, campaign=campaign, query=search_query(hashtags), parser=parser, budget_left=left
            )
            if left <= 0:
                break

    async def _campaign(self) -> XUser | None:
        deps = self.deps
        if deps.campaign is not None or deps.x is None:
            return deps.campaign
        if not deps.settings.secret("x_account_token"):
            deps.notes["mentions"] = "No campaign account token: mentions are not read, only the hashtag search."
            return None
        if self._clock() - self._campaign_tried_at < 60:
            return None
        self._campaign_tried_at = self._clock()
        try:
            deps.campaign = await deps.x.account()
            metrics.X_CALLS.labels("account", "ok").inc()
            deps.notes.pop("mentions", None)
        except XRateLimited as exc:
            _failure("rate_limited", "account", exc)
        except XError as exc:
            _failure(_kind(exc), "account", exc)
            deps.notes["mentions"] = "Could not resolve the campaign account; mentions wait (see the logs)."
        return deps.campaign

    async def _current_parser(self) -> TweetParser:
        async with self.deps.db.acquire() as conn:
            version = await repo.skills_version(conn)
            if self._parser is None or version != self._parser_version:
                rows = await repo.skills(conn)
                self._parser = TweetParser(SkillTerm(r["slug"], r["name"], tuple(r["synonyms"])) for r in rows)
                self._parser_version = version
        return self._parser

    async def _fetch(
        self,
        stream: str,
        *,
        campaign: XUser | None,
        query: str,
        since_id: str | None,
        token: str | None,
        max_results: int,
    ) -> Page:
        x = self.deps.x
        assert x is not None
        if stream == "mentions":
            assert campaign is not None
            return await x.mentions(
                campaign.id, since_id=since_id, pagination_token=token, max_results=max(5, max_results)
            )
        return await x.search_recent(query, since_id=since_id, next_token=token, max_results=max(10, max_results))

    async def _poll_stream(
        self, stream: str, *, campaign: XUser | None, query: str, parser: TweetParser, budget_left: int
    ) -> int:
        """Read new tweets of one stream (bounded pages), store them oldest first; the reads it used."""
        deps = self.deps
        async with deps.db.acquire() as conn:
            since = await repo.since_id(conn, stream)
        pages: list[Page] = []
        token: str | None = None
        used = 0
        try:
            for _ in range(deps.settings.max_pages_per_poll):
                page = await self._fetch(
                    stream,
                    campaign=campaign,
                    query=query,
                    since_id=since,
                    token=token,
                    max_results=min(deps.settings.page_size, max(1, budget_left - used)),
                )
                metrics.X_CALLS.labels(stream, "ok").inc()
                pages.append(page)
                used += len(page.tweets)
                token = page.next_token
                if not token or used >= budget_left:
                    break
        except XRateLimited as exc:
            _failure("rate_limited", stream, exc)
            self._blocked_until[stream] = exc.reset_at
            deps.notes[stream] = f"Rate limited by X until {exc.reset_at.isoformat()}."
            await self._count_only(used)
            return used
        except XError as exc:
            _failure(_kind(exc), stream, exc)
            deps.notes[stream] = f"Last poll failed ({_kind(exc)}); trying again next interval."
            await self._count_only(used)
            return used
        deps.notes.pop(stream, None)
        if token:
            # More pages than one poll may read: the oldest of this backlog are not read (see README).
            log.warning(
                "X backlog deeper than one poll reads; the oldest tweets of it are skipped",
                extra={"stream": stream, "pages": len(pages)},
            )
            metrics.TWEETS_IGNORED.labels("backlog").inc()
        for page in reversed(pages):
            await self._store_page(stream, page, parser=parser, campaign=campaign)
        async with deps.db.acquire() as conn:
            await repo.mark_polled(conn, stream=stream, at=datetime.now(UTC))
        return used

    async def _count_only(self, reads: int) -> None:
        if reads:
            async with self.deps.db.acquire() as conn:
                await repo.count_usage(conn, month_of(datetime.now(UTC)), reads=reads)

    async def _store_page(self, stream: str, page: Page, *, parser: TweetParser, campaign: XUser | None) -> None:
        """One transaction: new tweets stored and published, the read counted, the cursor advanced."""
        now = datetime.now(UTC)
        tweets = sorted(page.tweets, key=lambda t: (len(t.id), t.id))
        newest: str | None = page.newest_id
        for t in tweets:
            newest = id_after(newest, t.id)
        async with self.deps.db.acquire() as conn, conn.transaction():
            authors = await repo.linked_users(conn, sorted({t.author_id for t in tweets if t.author_id}))
            for t in tweets:
                await self._store_tweet(
                    conn, stream, t, parser=parser, campaign=campaign, user_id=authors.get(t.author_id), now=now
                )
            current = await repo.since_id(conn, stream)
            await repo.advance_cursor(conn, stream=stream, since_id=id_after(current, newest))
            await repo.count_usage(conn, month_of(now), reads=len(page.tweets))

    async def _store_tweet(
        self,
        conn: asyncpg.Connection,
        stream: str,
        t: Tweet,
        *,
        parser: TweetParser,
        campaign: XUser | None,
        user_id: uuid.UUID | None,
        now: datetime,
    ) -> None:
        if t.is_retweet:
            metrics.TWEETS_IGNORED.labels("retweet").inc()
            return
        if campaign is not None and t.author_id == campaign.id:
            metrics.TWEETS_IGNORED.labels("own").inc()
            return
        text = _sanitise(t.text)
        try:
            parsed = parser.parse(text)
            intent, skills, code = parsed.intent, list(parsed.skills), parsed.constituency_code
        except Exception:  # the parser is pure; a bug in it must not stop ingestion
            log.exception("parsing a tweet failed; stored without skills", extra={"tweet_id": t.id})
            intent, skills, code = "other", [], None
        posted_at = t.created_at if t.created_at.tzinfo else t.created_at.replace(tzinfo=UTC)
        inserted = await repo.insert_tweet(
            conn,
            tweet_id=t.id,
            text=text,
            author_user_id=user_id,
            intent=intent,
            skills=skills,
            constituency_code=code,
            posted_at=posted_at,
            received_at=now,
        )
        if not inserted:
            metrics.TWEETS_IGNORED.labels("duplicate").inc()
            return
        await enqueue(
            conn,
            topic=topics.TWEET_RECEIVED.name,
            service=SERVICE,
            subject=t.id,
            data=twitter.TweetReceived(
                tweet_id=t.id,
                url=tweet_url(t.id),
                text=text,
                user_id=user_id,
                intent=intent,
                skills=skills,
                constituency_code=code,
                posted_at=posted_at,
                received_at=now,
            ),
        )
        metrics.TWEETS_INGESTED.labels(stream).inc()


class Sender:
    """Sends due rows of `outgoing`: replies and DMs as the campaign account, revocations of people's tokens."""

    LEASE = timedelta(minutes=5)

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def tick(self) -> None:
        deps = self.deps
        if deps.x is None:
            return
        value, _ = await repo.load_settings(deps.db)
        metrics.POST_BUDGET.set(value.monthly_post_budget)
        async with deps.db.acquire() as conn, conn.transaction():
            rows = await repo.due_outgoing(conn, limit=deps.settings.sender_batch)
            # A lease: another replica (or a crash) leaves them alone for a while.
            await conn.execute(
                "UPDATE outgoing SET next_attempt_at = now() + $2::interval WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
                self.LEASE,
            )
        for row in rows:
            await self._send(row, posting_enabled=value.posting_enabled, post_budget=value.monthly_post_budget)
        metrics.OUTGOING_BACKLOG.set(await repo.outgoing_backlog(deps.db))

    async def _send(self, row: asyncpg.Record, *, posting_enabled: bool, post_budget: int) -> None:
        deps = self.deps
        assert deps.x is not None
        kind: str = row["kind"]
        payload: dict[str, Any] = row["payload"] if isinstance(row["payload"], dict) else _json(row["payload"])
        now = datetime.now(UTC)
        month = month_of(now)
        async with deps.db.acquire() as conn:
            if kind in ("reply", "dm"):
                if not posting_enabled:
                    await repo.retry_outgoing(
                        conn,
                        row["id"],
                        at=now + timedelta(minutes=1),
                        error="posting is switched off",
                        count_attempt=False,
                    )
                    return
                _, posts = await repo.usage(conn, month)
                metrics.POSTS_USED.set(posts)
                if posts >= post_budget:
                    deps.notes["sender"] = f"Monthly post budget used ({posts} of {post_budget}): replies and DMs wait."
                    await repo.retry_outgoing(
                        conn,
                        row["id"],
                        at=now + timedelta(minutes=1),
                        error="monthly post budget used",
                        count_attempt=False,
                    )
                    return
                deps.notes.pop("sender", None)
        try:
            result = await self._call(kind, row, payload)
        except XRateLimited as exc:
            _failure("rate_limited", kind, exc)
            async with deps.db.acquire() as conn:
                await repo.retry_outgoing(
                    conn,
                    row["id"],
                    at=max(exc.reset_at, now + timedelta(seconds=1)),
                    error="rate limited by X",
                    count_attempt=False,
                )
            return
        except XAuthError as exc:
            _failure("auth", kind, exc)
            if kind == "revoke":  # the token no longer works at X: that is what revoking wanted
                async with deps.db.acquire() as conn:
                    await repo.close_outgoing(conn, row["id"], outcome="sent", error="token already invalid")
                return
            await self._failed(row, f"X refused the campaign token ({_kind(exc)})")
            return
        except XError as exc:
            _failure(_kind(exc), kind, exc)
            await self._failed(row, f"X call failed ({_kind(exc)})")
            return
        except Exception as exc:  # never let one row stop the others
            log.exception("sending to X failed", extra={"kind": kind, "outgoing_id": row["id"]})
            await self._failed(row, f"unexpected error ({type(exc).__name__})")
            return
        async with deps.db.acquire() as conn, conn.transaction():
            if result is None:
                await repo.close_outgoing(conn, row["id"], outcome="cancelled", error="no longer wanted")
                metrics.OUTGOING_CANCELLED.labels(kind).inc()
                return
            await repo.close_outgoing(conn, row["id"], outcome="sent")
            if kind in ("reply", "dm"):
                await repo.count_usage(conn, month, posts=1)
            if kind == "reply":
                await repo.set_replied(conn, tweet_id=payload["in_reply_to"], reply_id=result)
        metrics.X_CALLS.labels(kind, "ok").inc()
        metrics.OUTGOING_SENT.labels(kind).inc()

    async def _call(self, kind: str, row: asyncpg.Record, payload: dict[str, Any]) -> str | None:
        """Send one row; None when it is no longer wanted (looked up now, so unlink or erasure cancels it)."""
        deps = self.deps
        assert deps.x is not None
        if kind == "revoke":
            assert deps.box is not None
            for token in open_revoke(deps.box, dedupe_key=row["dedupe_key"], sealed=row["sealed"] or ""):
                await deps.x.revoke(token)
            return "revoked"
        if kind == "reply":
            async with deps.db.acquire() as conn:
                tweet = await conn.fetchrow(
                    "SELECT text, replied_tweet_id FROM tweets WHERE tweet_id = $1", payload["in_reply_to"]
                )
            if tweet is None or tweet["text"] is None or tweet["replied_tweet_id"] is not None:
                return None  # deleted on X, or its author erased, or answered already
            return await deps.x.reply(in_reply_to=payload["in_reply_to"], text=payload["text"])
        user_id = uuid.UUID(payload["user_id"])
        async with deps.db.acquire() as conn:
            linked = await repo.account_of(conn, user_id)
            allowed = linked is not None and await repo.contact_by_x(conn, user_id)
        if linked is None or not allowed:
            return None  # unlinked, erased or consent withdrawn since it was queued
        return await deps.x.send_dm(participant_id=linked.x_user_id, text=payload["text"])

    async def _failed(self, row: asyncpg.Record, error: str) -> None:
        s = self.deps.settings
        attempts = row["attempts"] + 1
        async with self.deps.db.acquire() as conn:
            if attempts >= s.sender_max_attempts:
                await repo.close_outgoing(conn, row["id"], outcome="failed", error=error)
                metrics.OUTGOING_FAILED.labels(row["kind"]).inc()
                log.error("gave up sending to X", extra={"kind": row["kind"], "outgoing_id": row["id"]})
                return
            wait = backoff(attempts, base_s=s.sender_backoff_base_s, cap_s=s.sender_backoff_cap_s)
            await repo.retry_outgoing(conn, row["id"], at=datetime.now(UTC) + wait, error=error)


def _json(value: Any) -> dict[str, Any]:
    import json

    loaded = json.loads(value) if isinstance(value, str | bytes) else dict(value or {})
    return loaded if isinstance(loaded, dict) else {}


class Compliance:
    """Looks stored tweets up on X; a deleted one loses its text everywhere (tweet-deleted event)."""

    def __init__(self, deps: Deps, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.deps = deps
        self._clock = clock
        self._next = 0.0
        self._blocked_until: datetime | None = None

    async def tick(self) -> None:
        deps = self.deps
        if deps.x is None:
            return
        if self._clock() < self._next:
            return
        self._next = self._clock() + deps.settings.deletion_check_interval_s
        if self._blocked_until is not None and datetime.now(UTC) < self._blocked_until:
            return
        await self.check_once()

    async def check_once(self) -> int:
        deps = self.deps
        assert deps.x is not None
        scrubbed_total = 0
        for _ in range(deps.settings.deletion_check_max_lookups):
            async with deps.db.acquire() as conn:
                ids = await repo.tweets_to_check(
                    conn, limit=100, recheck_after_s=deps.settings.deletion_recheck_after_s
                )
            if not ids:
                break
            try:
                found, missing = await deps.x.lookup_tweets(ids)
                metrics.X_CALLS.labels("lookup", "ok").inc()
            except XRateLimited as exc:
                _failure("rate_limited", "lookup", exc)
                self._blocked_until = exc.reset_at
                deps.notes["compliance"] = f"Rate limited by X until {exc.reset_at.isoformat()}."
                break
            except XError as exc:
                _failure(_kind(exc), "lookup", exc)
                deps.notes["compliance"] = f"Last deletion check failed ({_kind(exc)})."
                break
            deps.notes.pop("compliance", None)
            now = datetime.now(UTC)
            async with deps.db.acquire() as conn, conn.transaction():
                scrubbed = await repo.scrub_tweets(conn, sorted(set(missing) & set(ids)), now)
                for tweet_id in scrubbed:
                    await publish_deleted(conn, tweet_id, now)
                await repo.mark_checked(conn, ids, now)
                await repo.count_usage(conn, month_of(now), reads=len(found))
            metrics.TWEETS_DELETED.labels("deleted_on_x").inc(len(scrubbed))
            scrubbed_total += len(scrubbed)
            if len(ids) < 100:
                break
        return scrubbed_total


async def publish_deleted(conn: asyncpg.Connection, tweet_id: str, at: datetime) -> None:
    await enqueue(
        conn,
        topic=topics.TWEET_DELETED.name,
        service=SERVICE,
        subject=tweet_id,
        data=twitter.TweetDeleted(tweet_id=tweet_id, at=at),
    )


Job = Callable[[], Awaitable[None]]
