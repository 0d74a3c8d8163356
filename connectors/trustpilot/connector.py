"""Trustpilot: a business unit's service reviews, answered as a business user.

An idle poll is one request: the private reviews listing, newest created first, read
page by page down to the newest review the last poll read. Trustpilot lists by
creation only, so a customer's edit (new stars or text, a newer `updatedAt`) is seen on
the pages a poll reads anyway, and comes back as a new post with its earlier rating.
A reply replaces the brand's earlier one (one per review).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, Self

import httpx

from connectors.base import BudgetRow, Connector, FetchResult, PostedReply, ReplyRejected, SourceMisconfigured
from connectors.reviews import ReviewState, own_answer, review_id_of
from connectors.shared import check_base_url, check_ranges, count_option, over_budget
from connectors.trustpilot.client import API_URL, TOKEN_URL, TrustpilotClient
from connectors.trustpilot.mapping import PLATFORM, ItemError, TrustpilotReview, parse_review, to_post
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions, shown_env_name
from watcher.core.cursor import Cursor
from watcher.core.post import Post, utc_now

PAGE_SIZE = 100  # Trustpilot's largest perPage
CALLS_PER_HOUR = 10_000  # Trustpilot's published ceiling per API key
CALLS_PER_YEAR = 200_000  # the API module's tier 1 allowance (a plan setting: api_calls_per_year)


class TrustpilotConnector(Connector):
    name: ClassVar[str] = PLATFORM

    def __init__(
        self,
        client: TrustpilotClient,
        *,
        business_unit_id: str,
        business_user_id: str,
        source: str,
        backfill_hours: int = 24,
        max_pages: int = 10,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self.business_unit_id = business_unit_id
        self.business_user_id = business_user_id
        self.source = source
        self.backfill = timedelta(hours=backfill_hours)
        self.max_pages = max_pages
        self.clock = clock
        client.clock = clock
        client.source = source
        timeout = client.http.timeout.read
        self.request_timeout: float | None = float(timeout) if timeout is not None else None

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        unit = opts.get("business_unit_id", str)
        user = opts.get("business_user_id", str)
        key_var = opts.get("api_key_env", str, "TRUSTPILOT_API_KEY")
        secret_var = opts.get("api_secret_env", str, "TRUSTPILOT_API_SECRET")
        api_key = opts.secret("api_key_env", "TRUSTPILOT_API_KEY")
        api_secret = opts.secret("api_secret_env", "TRUSTPILOT_API_SECRET")
        api_url = opts.get("api_url", str, API_URL).rstrip("/")
        token_url = opts.get("token_url", str, TOKEN_URL)
        timeout = opts.get("timeout_seconds", float, 20.0)
        max_pages = opts.get("max_pages", int, 10)
        per_year = opts.get("api_calls_per_year", int, CALLS_PER_YEAR)  # read by plan_budget
        for url_key, url in (("api_url", api_url), ("token_url", token_url)):
            check_base_url(opts, url_key, str(url))
        check_ranges(opts, {"max_pages": (max_pages, 1, 100), "timeout_seconds": (timeout, 0.1, 300)})
        if per_year is not None and per_year < 0:
            opts.problems.append(ConfigProblem(cfg.file, f"sources.{cfg.name}.api_calls_per_year",
                                               "must be 0 (unlimited) or more"))  # fmt: skip
        for key, value in (("business_unit_id", unit), ("business_user_id", user)):
            if value is not None and not str(value).isalnum():
                opts.problems.append(
                    ConfigProblem(cfg.file, f"sources.{cfg.name}.{key}", "must be Trustpilot's id (letters and digits)")
                )
        opts.finish()
        http = httpx.Client(base_url=api_url, timeout=timeout, follow_redirects=False)
        client = TrustpilotClient(http, api_key=api_key, api_secret=api_secret, token_url=str(token_url),
                                  source=cfg.name, key_hint=_key_hint(cfg.name, key_var, secret_var))  # fmt: skip
        return cls(client, business_unit_id=str(unit), business_user_id=str(user), source=cfg.name,
                   backfill_hours=cfg.backfill_hours, max_pages=max_pages)  # fmt: skip

    def close(self) -> None:
        self.client.http.close()

    # --- fetch ------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """Reviews written or edited since `cursor`, oldest change first."""
        state = ReviewState.from_cursor(cursor)
        now = self.clock()
        start = self.client.count
        problems: list[str] = []
        reviews = self._read(state, now, problems)
        reviews.sort(key=lambda r: (r.changed, r.review_id))
        posts = tuple(to_post(r, source=self.source, known=state.known.get(r.review_id)) for r in reviews)
        state.advance((r.review_id, r.rating, r.changed) for r in reviews)
        state.polled_at = now
        return FetchResult(posts=posts, cursor=state.to_cursor(), requests_made=self.client.count - start,
                           problems=tuple(problems))  # fmt: skip

    def _read(self, state: ReviewState, now: datetime, problems: list[str]) -> list[TrustpilotReview]:
        """New reviews and new versions of known ones, page by page down to the watermark
        (on a first run: `backfill_hours` back)."""
        floor = state.at or now - self.backfill
        url = f"/v1/private/business-units/{self.business_unit_id}/reviews"
        found: list[TrustpilotReview] = []
        for page in range(1, self.max_pages + 1):
            params = {"perPage": PAGE_SIZE, "page": page, "orderBy": "createdat.desc"}
            body = self.client.get(url, params, what="the business unit's reviews")
            below = False
            for raw in body.get("reviews") or ():
                try:
                    review = parse_review(raw)
                except ItemError as exc:
                    problems.append(f"{self.source}: skipped a review ({exc}); the rest was read")
                    continue
                below = below or review.created < floor
                known = state.known.get(review.review_id)
                if review.changed > known.changed if known else review.created >= floor:
                    found.append(review)
            links = body.get("links")
            more = isinstance(links, list) and any(isinstance(x, dict) and x.get("rel") == "next-page" for x in links)
            if below or not more:
                return found
        problems.append(
            f"{self.source}: more than {self.max_pages} pages of reviews are new; the oldest of them were not read "
            "(raise max_pages or poll more often)"
        )
        return found

    # --- reply ------------------------------------------------------------------------
    def reply(self, post: Post, text: str) -> PostedReply:
        """Reply as the business user (replacing the brand's earlier reply)."""
        if post.platform != self.name:
            raise ReplyRejected(f"post {post.key} is not a Trustpilot review", source=self.source)
        if not text.strip():
            raise ReplyRejected(f"the reply to {post.key} is empty", source=self.source)
        review_id = review_id_of(post.native_id)
        body = {"authorBusinessUserId": self.business_user_id, "message": text}
        self.client.post(f"/v1/private/reviews/{review_id}/reply", body, what=f"the reply to {post.key}")
        return PostedReply(platform=self.name, native_id=f"{review_id}:reply", url=post.url, posted_at=self.clock())

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The brand's reply on the review: with these words, or any written after this
        version of the review; None when there is none."""
        review_id = review_id_of(post.native_id)
        try:
            review = parse_review(self.client.get(f"/v1/private/reviews/{review_id}", what=f"review {review_id}"))
        except (SourceMisconfigured, ItemError):
            return None  # the review is gone, or unreadable
        return own_answer(post, review.answer, review.answered, text)

    # --- watcher check ----------------------------------------------------------------
    @classmethod
    def plan_budget(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[BudgetRow]:
        """Calls an hour per API key against Trustpilot's 10,000, and a year against the
        API module's allowance (an idle poll is one call)."""
        rows = []
        for key_var, group in _by_key(sources).items():
            hourly = sum(3600 / max(1, s.interval_seconds) for s in group if s.enabled)
            hourly += 60 / native_check_minutes if native_check_minutes else 0
            yearly = round(hourly * 24 * 365)
            allowance = min(count_option(s, "api_calls_per_year", CALLS_PER_YEAR) for s in group)
            ok = hourly <= CALLS_PER_HOUR and (allowance == 0 or yearly <= allowance)
            of_year = f"of {allowance:,} in the API module" if allowance else "(unlimited API module)"
            rows.append(
                BudgetRow(
                    text=f"Trustpilot {shown_env_name(key_var, 'api_key_env')}: about {round(hourly)} calls an hour of {CALLS_PER_HOUR:,} allowed, "
                    f"{yearly:,} a year {of_year}",
                    ok=ok,
                    sources=tuple(s.name for s in group),
                    fix="" if ok else "raise interval_seconds (or set api_calls_per_year to your plan's; 0: unlimited)",
                )
            )
        return rows

    @classmethod
    def budget_problems(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[ConfigProblem]:
        """More calls than Trustpilot's hourly ceiling or the plan's yearly allowance."""
        return over_budget(cls.plan_budget(sources, native_check_minutes=native_check_minutes), sources)


def _by_key(sources: Sequence[SourceConfig]) -> dict[str, list[SourceConfig]]:
    """Sources by the API key they use (Trustpilot counts calls per key)."""
    groups: dict[str, list[SourceConfig]] = {}
    for source in sources:
        groups.setdefault(str(source.options.get("api_key_env") or "TRUSTPILOT_API_KEY"), []).append(source)
    return groups


def _key_hint(name: str, key_var: str, secret_var: str) -> str:
    """The variables to check, named only when they look like names (a pasted key must not be shown)."""
    where = f"sources.{name}"
    return (
        f"{shown_env_name(key_var, f'{where}.api_key_env')} and {shown_env_name(secret_var, f'{where}.api_secret_env')}"
    )
