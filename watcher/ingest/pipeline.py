"""Ingest: drop -> de-duplicate -> triage -> persist (posts + cursor, one transaction)
-> queue items and outbox rows for posts that need a reply.

A crash anywhere before COMMIT leaves the old cursor, so the next poll
re-fetches the same posts; after COMMIT the posts are known and are skipped.
Either way nothing is lost and nothing is queued or announced twice.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from connectors.base import AuthFailed, Connector, ConnectorError, FetchResult, RateLimited, SourceMisconfigured
from rules.triage import Triage, TriageContext, Triager
from watcher.config import Config
from watcher.core.config import SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import Post, normalized_text, post_key, utc_now
from watcher.core.vocab import OPEN_STATES
from watcher.queue.machine import Queue
from watcher.store import NewItem, NewPost, RecentPost, Store

log = logging.getLogger(__name__)

TriageFn = Callable[[Post, TriageContext], Triage]
# a whole batch at once: the triage engine vectorizes its models over the batch
TriageManyFn = Callable[[Sequence[Post], Sequence[TriageContext]], list[Triage]]


@dataclass
class IngestReport:
    source: str
    fetched: int = 0
    stored: int = 0
    already_known: int = 0
    collapsed: int = 0
    dropped_own: int = 0
    dropped_reposts: int = 0
    queued: int = 0
    answered_natively: int = 0
    queued_keys: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, other: IngestReport) -> None:
        for name in (
            "fetched",
            "stored",
            "already_known",
            "collapsed",
            "dropped_own",
            "dropped_reposts",
            "queued",
            "answered_natively",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.queued_keys.extend(other.queued_keys)
        self.problems.extend(other.problems)


@dataclass(frozen=True)
class OwnAccounts:
    """The brand's own account ids and handles per platform, folded once: every
    fetched post is checked against them."""

    ids: Mapping[str, frozenset[str]]
    handles: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, config: Config) -> OwnAccounts:
        own = config.brand.own_accounts
        return cls(
            ids={platform: frozenset(names) for platform, names in own.items()},
            handles={platform: frozenset(n.lstrip("@").casefold() for n in names) for platform, names in own.items()},
        )

    def owns(self, post: Post) -> bool:
        if post.is_own:
            return True
        ids = self.ids.get(post.platform)
        if not ids:
            return False
        return post.author.id in ids or post.author.handle.lstrip("@").casefold() in self.handles[post.platform]


@dataclass
class AuthorHistory:
    """The recent posts of a batch's authors, loaded once per batch and extended as
    the batch is processed, so de-duplication and "writes again" see both the store
    and the posts earlier in the same batch."""

    dedupe_window: timedelta
    repeat_window: timedelta
    by_author: dict[str, list[RecentPost]] = field(default_factory=dict)
    open_items: dict[str, int] = field(default_factory=dict)

    def original_of(self, post: Post, norm: str) -> str | None:
        """Key of the earlier post by the same author with the same words, if any."""
        recent = self.by_author.get(post.author_key)
        if not norm or not recent:  # most posts: the author's first in the window
            return None
        since = post.created_at - self.dedupe_window
        matches = [r for r in recent if r.norm_text == norm and r.duplicate_of is None and r.created_at >= since]
        return min(matches, key=lambda r: r.created_at).key if matches else None

    def recent_count(self, post: Post) -> int:
        recent = self.by_author.get(post.author_key)
        if not recent:
            return 0
        created = post.created_at
        since = created - self.repeat_window
        return sum(1 for r in recent if r.duplicate_of is None and since <= r.created_at < created)

    def add(self, post: Post, norm: str, duplicate_of: str | None) -> None:
        self.by_author.setdefault(post.author_key, []).append(
            RecentPost(post.author_key, post.key, post.created_at, norm, duplicate_of)
        )


def _one_by_one(triage_fn: TriageFn) -> TriageManyFn:
    return lambda posts, contexts: [triage_fn(p, c) for p, c in zip(posts, contexts, strict=True)]


class Pipeline:
    """Turns a connector's FetchResult into stored posts and queue items."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        triager: Triager | None = None,
        triage_fn: TriageFn | None = None,
        clock: Callable[[], datetime] = utc_now,
        before_commit: Callable[[IngestReport], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        # the service hands over its one Triager; a pipeline made alone (tests, tools) builds its own
        if triage_fn is not None:
            self.triage_many: TriageManyFn = _one_by_one(triage_fn)
        else:
            self.triage_many = (triager or Triager.from_config(config)).triage_many
        self.clock = clock
        self.before_commit = before_commit
        self.own = OwnAccounts.of(config)

    def ingest(self, source: str, result: FetchResult) -> IngestReport:
        now = self.clock()
        report = IngestReport(source=source, fetched=len(result.posts), problems=list(result.problems))
        for problem in result.problems:  # X and Reddit name their source in the line already
            log.warning("%s", problem if problem.startswith(f"{source}: ") else f"source {source}: {problem}")
        keep: list[Post] = []
        drop_own, drop_reposts = self.config.pipeline.drop_own_posts, self.config.pipeline.drop_reposts
        for post in result.posts:
            if drop_own and self.own.owns(post):
                report.dropped_own += 1
            elif drop_reposts and post.is_repost:
                report.dropped_reposts += 1
            else:
                keep.append(post if post.source else replace(post, source=source))
        known = self.store.existing_keys([p.key for p in keep])
        fresh: list[Post] = []
        for post in keep:
            if post.key in known:
                report.already_known += 1
            else:
                known.add(post.key)
                fresh.append(post)
        history = self._history_for(fresh)
        seen: list[tuple[Post, str, str | None]] = []
        to_triage: list[Post] = []
        contexts: list[TriageContext] = []
        # contexts differ only in the two counts: posts with the same counts share one (frozen)
        shared: dict[tuple[int, int], TriageContext] = {}
        brand, thresholds, open_items = self.config.brand, self.config.triage, history.open_items
        for post in fresh:
            norm = normalized_text(post.text)
            original = history.original_of(post, norm)
            if original is None:
                to_triage.append(post)
                counts = (history.recent_count(post), open_items.get(post.author_key, 0))
                context = shared.get(counts)
                if context is None:
                    context = shared[counts] = TriageContext(
                        brand=brand,
                        thresholds=thresholds,
                        author_recent_posts=counts[0],
                        author_open_items=counts[1],
                        now=now,
                    )
                contexts.append(context)
            seen.append((post, norm, original))
            history.add(post, norm, original)
        results = iter(self.triage_many(to_triage, contexts))
        planned: list[tuple[Post, str, Triage | None, str | None]] = [
            (post, norm, next(results) if original is None else None, original) for post, norm, original in seen
        ]
        with self.store.transaction():
            inserted = self.store.insert_posts(
                # the Triage itself is written (store.TriageColumns): copying its fields would only cost time
                [NewPost(post, t, original, norm) for post, norm, t, original in planned],
                fetched_at=now,
            )
            report.stored = len(inserted)
            report.already_known += len(planned) - len(inserted)
            items: list[NewItem] = []
            for post, _, triaged, original in planned:
                if post.key not in inserted:
                    continue
                if original is not None:
                    report.collapsed += 1
                    self.store.bump_repeat(original, post.key, now=now)
                elif triaged is not None and triaged.needs_reply and not triaged.suppress:
                    channel = triaged.channel or self.config.slack.channel
                    items.append(NewItem(post.key, triaged.priority, triaged.score, channel, not triaged.digest_only))
            created = self.store.create_queue_items(items, now=now, card_kind="card")
            report.queued += len(created)
            report.queued_keys.extend(created)
            report.answered_natively += self._close_answered_natively(result.posts)
            if result.cursor is not None:
                self.store.set_cursor(source, result.cursor, now=now)
            if self.before_commit is not None:
                self.before_commit(report)
        return report

    def _close_answered_natively(self, posts: tuple[Post, ...]) -> int:
        """The brand's own replies seen in a fetch close the items of the posts they
        answer: the team replied on the platform itself, not through the queue."""
        closed = 0
        queue = Queue(self.store, clock=self.clock)
        for post in posts:
            if not post.parent_id or not self.own.owns(post):
                continue
            item = self.store.item_for_post(post_key(post.platform, post.parent_id))
            if item is None or item["state"] not in OPEN_STATES or item["state"] == "sending":
                continue  # none, closed already, or our own send in flight (it records itself)
            actor = f"@{post.author.handle}" if post.author.handle else "brand"
            if queue.answered_elsewhere(item["id"], url=post.url, actor=actor).changed:
                closed += 1
        return closed

    def _history_for(self, posts: list[Post]) -> AuthorHistory:
        dedupe = timedelta(hours=self.config.pipeline.dedupe_window_hours)
        repeat = timedelta(days=self.config.triage.repeat_window_days)
        history = AuthorHistory(dedupe_window=dedupe, repeat_window=repeat)
        if not posts:
            return history
        authors = sorted({p.author_key for p in posts})
        since = min(p.created_at for p in posts) - max(dedupe, repeat)
        for row in self.store.recent_by_authors(authors, since=since):
            history.by_author.setdefault(row.author_key, []).append(row)
        history.open_items = self.store.open_items_by_author(authors)
        return history


@dataclass(frozen=True)
class PollOutcome:
    source: str
    status: str  # ok | skipped | rate_limited | failed | unhealthy
    report: IngestReport
    message: str = ""
    requests: int = 0
    next_attempt_at: datetime | None = None


class Poller:
    """One source's poll: honour a persisted back-off or rate-limit window, fetch
    pages until caught up, ingest each page in its own transaction, record health."""

    def __init__(
        self,
        source: SourceConfig,
        connector: Connector,
        pipeline: Pipeline,
        *,
        max_backoff_seconds: int = 3600,
        max_pages: int = 10,
        rng: random.Random | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.source = source
        self.should_stop = should_stop
        self.connector = connector
        self.pipeline = pipeline
        self.store = pipeline.store
        self.max_backoff = max_backoff_seconds
        self.max_pages = max_pages
        self.rng = rng or random.Random()

    def poll(self) -> PollOutcome:
        name = self.source.name
        now = self.pipeline.clock()
        state = self.store.source_state(name)
        total = IngestReport(source=name)
        if state["backoff_until"] is not None and state["backoff_until"] > now:
            return PollOutcome(name, "skipped", total, state["message"], 0, state["backoff_until"])
        requests = 0
        doing = "fetching"  # what an unexpected error interrupted, for its message
        try:
            for _ in range(self.max_pages):
                doing = "fetching"
                cursor: Cursor | None = self.store.get_cursor(name)
                result = self.connector.fetch(cursor)
                requests += result.requests_made
                doing = "storing"
                total.add(self.pipeline.ingest(name, result))
                if not result.has_more or self.should_stop():
                    break
        except RateLimited as exc:
            until = exc.until
            limits = {**state["rate_limits"], exc.endpoint or "default": until}
            self._record(
                state,
                healthy=True,
                message=f"rate limited until {until:%H:%M:%S} UTC",
                failures=0,
                backoff_until=until,
                rate_limits=limits,
                success=False,
            )
            return PollOutcome(name, "rate_limited", total, str(exc), requests, until)
        except (AuthFailed, SourceMisconfigured) as exc:
            failures = state["failures"] + 1
            retry_at = self.pipeline.clock() + timedelta(seconds=self.max_backoff)
            self._record(
                state,
                healthy=False,
                message=exc.message,
                failures=failures,
                backoff_until=retry_at,
                rate_limits=state["rate_limits"],
                success=False,
            )
            log.error("source %s is unhealthy: %s", name, exc.message)
            return PollOutcome(name, "unhealthy", total, exc.message, requests, retry_at)
        except ConnectorError as exc:
            outcome = self._failed(state, total, requests, exc.message)
            log.warning("source %s failed (%s); retrying at %s", name, exc.message, outcome.next_attempt_at)
            return outcome
        except Exception as exc:  # a bug, a payload nobody foresaw, a locked database: back off, the others go on
            detail = (str(exc).splitlines() or [""])[0][:200]
            where = (
                f"fetching with the {self.source.kind} connector (a bug or a payload it does not expect: "
                "please report it)"
                if doing == "fetching"
                else "storing what was fetched"
            )
            outcome = self._failed(
                state,
                total,
                requests,
                f"unexpected {type(exc).__name__} ({detail}) while {where}; the log has the traceback",
            )
            log.exception("source %s failed unexpectedly; retrying at %s", name, outcome.next_attempt_at)
            return outcome
        self._record(state, healthy=True, message="", failures=0, backoff_until=None, rate_limits={}, success=True)
        return PollOutcome(name, "ok", total, "", requests)

    def _failed(self, state: dict[str, Any], total: IngestReport, requests: int, message: str) -> PollOutcome:
        """A failed poll: counted, and the source waits out an exponential back-off."""
        failures = state["failures"] + 1
        retry_at = self.pipeline.clock() + timedelta(seconds=self.backoff_seconds(failures))
        self._record(
            state,
            healthy=True,
            message=message,
            failures=failures,
            backoff_until=retry_at,
            rate_limits=state["rate_limits"],
            success=False,
        )
        return PollOutcome(self.source.name, "failed", total, message, requests, retry_at)

    def backoff_seconds(self, failures: int) -> float:
        """Exponential from the poll interval, capped, with +-20% jitter."""
        base = min(self.max_backoff, self.source.interval_seconds * (2 ** min(failures, 16)))
        return float(min(self.max_backoff, base * self.rng.uniform(0.8, 1.2)))

    def _record(
        self,
        state: dict[str, Any],
        *,
        healthy: bool,
        message: str,
        failures: int,
        backoff_until: datetime | None,
        rate_limits: dict[str, datetime],
        success: bool,
    ) -> None:
        now = self.pipeline.clock()
        self.store.save_source_state(
            self.source.name,
            healthy=healthy,
            message=message,
            failures=failures,
            backoff_until=backoff_until,
            rate_limits=rate_limits,
            last_success_at=now if success else state["last_success_at"],
        )
