"""Google Play: an app's reviews, answered as the developer.

An idle poll is one request (`reviews.list`, newest change first, down to the
watermark). Play lists only reviews whose text changed in the last 7 days: a poll
more than a week after the last one says so in a problem line, and `watcher check`
refuses an interval that could leave such a gap. A customer's edit comes back as a
new post with its earlier rating. A reply replaces the developer's earlier answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self

from connectors.base import (
    BudgetRow,
    Connector,
    FetchResult,
    PostedReply,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
)
from connectors.google_play.client import PLAY_URL, TOKEN_URL, PlayClient, make_client
from connectors.google_play.mapping import PLATFORM, ItemError, PlayReview, parse_review, play_time, to_post
from connectors.reviews import ReviewState, own_answer, review_id_of
from connectors.shared import over_budget
from watcher.core.config import ConfigError, ConfigProblem, SourceConfig, SourceOptions, shown_env_name
from watcher.core.cursor import Cursor
from watcher.core.post import Post, utc_now

WINDOW = timedelta(days=7)  # Play lists reviews changed in the last week only
# the longest interval (with jitter) check accepts: a day of the week is kept for retries
LONGEST_INTERVAL = WINDOW - timedelta(days=1)
READS_PER_HOUR = 200  # Play's Reply to Reviews quota per app
PAGE_SIZE = 100
MAX_REPLY = 350


class GooglePlayConnector(Connector):
    name: ClassVar[str] = PLATFORM
    max_reply_length: int | None = MAX_REPLY

    def __init__(
        self,
        client: PlayClient,
        *,
        package: str,
        source: str,
        backfill_hours: int = 24,
        max_pages: int = 20,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self.package = package
        self.source = source
        self.backfill = timedelta(hours=backfill_hours)
        self.max_pages = max_pages
        self.clock = clock
        client.clock = clock
        client.source = source
        timeout = client.http.timeout
        self.request_timeout: float | None = float(timeout) if timeout else None

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        package = opts.get("package_name", str)
        key_var = opts.get("key_file_env", str, "GOOGLE_PLAY_KEY_FILE")
        api_url = opts.get("api_url", str, PLAY_URL)
        token_url = opts.get("token_url", str, TOKEN_URL)
        timeout = opts.get("timeout_seconds", float, 20.0)
        max_pages = opts.get("max_pages", int, 20)
        where = f"sources.{cfg.name}"
        key = _read_key(env.get(key_var or "", ""), key_var or "", cfg, opts.problems)
        for url_key, url in (("api_url", api_url), ("token_url", token_url)):
            if url and not str(url).startswith(("https://", "http://127.0.0.1", "http://localhost")):
                opts.problems.append(ConfigProblem(cfg.file, f"{where}.{url_key}", "must be an https:// URL"))
        if max_pages is not None and not 1 <= max_pages <= 100:
            opts.problems.append(ConfigProblem(cfg.file, f"{where}.max_pages", "must be between 1 and 100"))
        if package is not None and not str(package).strip():
            opts.problems.append(ConfigProblem(cfg.file, f"{where}.package_name", "must be the app's package name"))
        opts.finish()
        assert key is not None and package is not None
        hint = shown_env_name(key_var or "", f"{where}.key_file_env")
        try:
            client = make_client(
                key, base_url=api_url, token_url=token_url, timeout=timeout, source=cfg.name, key_hint=hint
            )
        except ValueError:  # google.auth's MalformedError too: a bad PEM; the key is not shown
            problem = ConfigProblem(
                cfg.file, f"{where}.key_file_env", "not a usable service account key: download it again"
            )
            raise ConfigError([problem]) from None
        return cls(client, package=package, source=cfg.name, backfill_hours=cfg.backfill_hours, max_pages=max_pages)

    def close(self) -> None:
        """Close the HTTP connections (at shutdown)."""
        for connection in self.client.http.connections.values():
            connection.close()

    # --- fetch ------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """Reviews written or edited since `cursor`, oldest first."""
        state = ReviewState.from_cursor(cursor)
        now = self.clock()
        start = self.client.count
        problems: list[str] = []
        gap = state.gap(now, WINDOW)
        if gap is not None:
            problems.append(
                f"{self.source}: the last poll was {_days(now - state.polled_at if state.polled_at else gap)} ago and "
                "Google Play lists only the last 7 days of reviews: reviews changed between "
                f"{state.polled_at:%Y-%m-%d %H:%M} and {now - WINDOW:%Y-%m-%d %H:%M} UTC cannot be read; look "
                "them up in Play Console"
            )
        if state.at is None:
            state.at = now - self.backfill  # a first run reads back `backfill_hours`
        reviews = self._read(state, problems)
        posts = []
        for review in sorted(reviews, key=lambda r: (r.changed, r.review_id)):
            posts.append(
                to_post(review, package=self.package, source=self.source, known=state.known.get(review.review_id))
            )
        state.advance((r.review_id, r.rating, r.changed) for r in reviews)
        state.polled_at = now
        return FetchResult(
            posts=tuple(posts),
            cursor=state.to_cursor(),
            requests_made=self.client.count - start,
            problems=tuple(problems),
        )

    def _read(self, state: ReviewState, problems: list[str]) -> list[PlayReview]:
        """The new review versions, following page tokens down to the watermark."""
        found: list[PlayReview] = []
        token: str | None = None
        for _ in range(self.max_pages):
            params: dict[str, Any] = {"packageName": self.package, "maxResults": PAGE_SIZE}
            if token:
                params["token"] = token
            body = self.client.execute(self.client.service.reviews().list(**params), what="the review list")
            below = False
            for raw in body.get("reviews") or ():
                try:
                    review = parse_review(raw)
                except ItemError as exc:
                    problems.append(f"{self.source}: skipped a review ({exc}); the rest was read")
                    continue
                below = below or state.is_below(review.changed)
                if state.is_new(review.changed, review.review_id):
                    found.append(review)
            paging = body.get("tokenPagination")
            token = paging.get("nextPageToken") if isinstance(paging, dict) else None
            if below or not token:
                return found
        problems.append(
            f"{self.source}: more than {self.max_pages} pages of reviews are new; the oldest of them were not read "
            "(raise max_pages or poll more often)"
        )
        return found

    # --- reply ------------------------------------------------------------------------
    def reply(self, post: Post, text: str) -> PostedReply:
        """Answer the review as the developer (replacing an earlier answer)."""
        if post.platform != self.name:
            raise ReplyRejected(f"post {post.key} is not a Google Play review", source=self.source)
        if not text.strip():
            raise ReplyRejected(f"the reply to {post.key} is empty", source=self.source)
        if len(text) > MAX_REPLY:
            raise ReplyRejected(
                f"the reply to {post.key} is {len(text)} characters; Google Play allows {MAX_REPLY}. "
                f"Cut {len(text) - MAX_REPLY}.",
                source=self.source,
            )
        review_id = review_id_of(post.native_id)
        request = self.client.service.reviews().reply(
            packageName=self.package, reviewId=review_id, body={"replyText": text}
        )
        body = self.client.execute(request, what=f"the reply to {post.key}", writing=True)
        result = body.get("result")
        if not isinstance(result, dict):
            raise ReplyOutcomeUnknown(
                f"Google Play accepted the reply to {post.key} but sent no result; it may have been posted",
                source=self.source,
            )
        try:
            posted = play_time(result.get("lastEdited"))
        except ItemError:
            posted = self.clock()
        return PostedReply(platform=self.name, native_id=f"{review_id}:reply", url=post.url, posted_at=posted)

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The developer's answer on the review: with these words, or any written after
        this version of the review; None when there is none."""
        review_id = review_id_of(post.native_id)
        request = self.client.service.reviews().get(packageName=self.package, reviewId=review_id)
        try:
            review = parse_review(self.client.execute(request, what=f"review {review_id}"))
        except SourceMisconfigured:
            return None  # the review is gone (deleted, or out of Play's reach)
        except ItemError:
            return None
        return own_answer(post, review.answer, review.answered, text)

    # --- watcher check ----------------------------------------------------------------
    @classmethod
    def plan_budget(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[BudgetRow]:
        """Review reads an hour per app against Play's 200 (an idle poll is one read)."""
        rows = []
        for package, group in _by_package(sources).items():
            reads = sum(3600 / max(1, s.interval_seconds) for s in group if s.enabled)
            checks = 60 / native_check_minutes if native_check_minutes else 0
            total = round(reads + checks)
            rows.append(
                BudgetRow(
                    text=f"Google Play {package}: about {total} review reads an hour of {READS_PER_HOUR} allowed "
                    "(more while catching up)",
                    ok=total <= READS_PER_HOUR,
                    sources=tuple(s.name for s in group),
                    fix="" if total <= READS_PER_HOUR else "raise interval_seconds",
                )
            )
        return rows

    @classmethod
    def budget_problems(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[ConfigProblem]:
        """An interval that could let a week pass between polls, or more reads than Play allows."""
        problems = []
        longest = int(LONGEST_INTERVAL.total_seconds())
        for source in sources:
            if source.enabled and source.interval_seconds + source.jitter_seconds > longest:
                problems.append(
                    ConfigProblem(
                        source.file,
                        f"sources.{source.name}.interval_seconds",
                        f"{source.interval_seconds}s (+{source.jitter_seconds}s jitter) could miss reviews: Google Play "
                        f"lists only the last 7 days; poll at least every {longest}s (6 days, a day kept for retries)",
                    )
                )
        return problems + over_budget(cls.plan_budget(sources, native_check_minutes=native_check_minutes), sources)


def _by_package(sources: Sequence[SourceConfig]) -> dict[str, list[SourceConfig]]:
    groups: dict[str, list[SourceConfig]] = {}
    for source in sources:
        groups.setdefault(str(source.options.get("package_name") or "?"), []).append(source)
    return groups


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:.1f} days"


def _read_key(path: str, var: str, cfg: SourceConfig, problems: list[ConfigProblem]) -> dict[str, Any] | None:
    """The service account's JSON key from the file the environment variable names."""
    where = f"sources.{cfg.name}.key_file_env"
    if not path:
        problems.append(
            ConfigProblem(
                cfg.file,
                where,
                f"{shown_env_name(var, where)} is not set: export the path of the service account's JSON key",
            )
        )
        return None
    try:
        key = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(ConfigProblem(cfg.file, where, f"cannot read the key file {path} ({exc.strerror})"))
        return None
    except ValueError:
        problems.append(ConfigProblem(cfg.file, where, f"the key file {path} is not JSON: download the key again"))
        return None
    if (
        not isinstance(key, dict)
        or key.get("type") != "service_account"
        or not all(isinstance(key.get(field), str) and key[field] for field in ("private_key", "client_email"))
    ):
        problems.append(
            ConfigProblem(
                cfg.file,
                where,
                f"{path} is not a service account key (type service_account, private_key, client_email)",
            )
        )
        return None
    return key
