"""Ingest: drop -> de-duplicate -> triage -> persist (posts + cursor, one transaction)
-> queue items and outbox rows for posts that need a reply.

A crash anywhere before COMMIT leaves the old cursor, so the next poll
re-fetches the same posts; after COMMIT the posts are known and are skipped.
Either way nothing is lost and nothing is queued or announced twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from connectors.base import FetchResult
from rules.triage import Triage, TriageContext, Triager
from watcher.config import Config
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
        known = self.store.posts.existing_keys([p.key for p in keep])
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
            inserted = self.store.posts.insert_posts(
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
                    self.store.items.bump_repeat(original, post.key, now=now)
                elif triaged is not None and triaged.needs_reply and not triaged.suppress:
                    channel = triaged.channel or self.config.slack.channel
                    items.append(NewItem(post.key, triaged.priority, triaged.score, channel, not triaged.digest_only))
            created = self.store.items.create_queue_items(items, now=now, card_kind="card")
            report.queued += len(created)
            report.queued_keys.extend(created)
            report.answered_natively += self._close_answered_natively(result.posts)
            if result.cursor is not None:
                self.store.sources.set_cursor(source, result.cursor, now=now)
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
            item = self.store.items.item_for_post(post_key(post.platform, post.parent_id))
            if item is None or item.state not in OPEN_STATES or item.state == "sending":
                continue  # none, closed already, or our own send in flight (it records itself)
            actor = f"@{post.author.handle}" if post.author.handle else "brand"
            if queue.answered_elsewhere(item.id, url=post.url, actor=actor).changed:
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
        for row in self.store.posts.recent_by_authors(authors, since=since):
            history.by_author.setdefault(row.author_key, []).append(row)
        history.open_items = self.store.posts.open_items_by_author(authors)
        return history
