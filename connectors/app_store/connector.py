"""App Store: an app's customer reviews, answered through customerReviewResponses.

An idle poll is one request (`customerReviews`, newest first, with the brand's
responses included, down to the watermark). A response goes to Apple's review before
it is live: until then the review's answer is marked pending publication. A new
response replaces the earlier one (one per review).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self

import httpx

from connectors.app_store.client import APP_STORE_URL, AppStoreClient, Signer
from connectors.app_store.mapping import PLATFORM, ItemError, StoreReview, parse_answer, parse_review, to_post
from connectors.base import Connector, FetchResult, PostedReply, ReplyOutcomeUnknown, ReplyRejected, SourceMisconfigured
from connectors.reviews import ReviewState, review_id_of
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions, shown_env_name
from watcher.core.cursor import Cursor
from watcher.core.post import Post, utc_now

PAGE_SIZE = 100
MAX_REPLY = 5970  # Apple's limit for a response body


class AppStoreConnector(Connector):
    name: ClassVar[str] = PLATFORM
    max_reply_length: int | None = MAX_REPLY

    def __init__(
        self,
        client: AppStoreClient,
        *,
        app_id: str,
        source: str,
        territories: tuple[str, ...] = (),
        backfill_hours: int = 24,
        max_pages: int = 10,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self.app_id = app_id
        self.source = source
        self.territories = territories
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
        where = f"sources.{cfg.name}"
        app_id = opts.get("app_id", str)
        territories = tuple(t.upper() for t in opts.get("territories", tuple[str, ...], ()))
        key_var = opts.get("key_file_env", str, "APP_STORE_KEY_FILE")
        key_id = opts.secret("key_id_env", "APP_STORE_KEY_ID")
        issuer = opts.secret("issuer_id_env", "APP_STORE_ISSUER_ID")
        api_url = opts.get("api_url", str, APP_STORE_URL).rstrip("/")
        timeout = opts.get("timeout_seconds", float, 20.0)
        max_pages = opts.get("max_pages", int, 10)
        private_key = ""
        key_path = env.get(key_var or "", "")
        if not key_path:
            opts.problems.append(
                ConfigProblem(
                    cfg.file,
                    f"{where}.key_file_env",
                    f"{shown_env_name(key_var or '', 'key_file_env')} is not set: export the path of the .p8 key",
                )
            )
        else:
            try:
                private_key = Path(key_path).read_text(encoding="utf-8")
            except OSError as exc:
                opts.problems.append(
                    ConfigProblem(cfg.file, f"{where}.key_file_env", f"cannot read {key_path} ({exc.strerror})")
                )
            if private_key and "BEGIN PRIVATE KEY" not in private_key:
                opts.problems.append(
                    ConfigProblem(cfg.file, f"{where}.key_file_env", f"{key_path} is not an App Store Connect .p8 key")
                )
        if app_id is not None and not str(app_id).isdigit():
            opts.problems.append(ConfigProblem(cfg.file, f"{where}.app_id", "must be the app's numeric Apple ID"))
        if any(len(t) != 3 or not t.isalpha() for t in territories):
            opts.problems.append(
                ConfigProblem(cfg.file, f"{where}.territories", 'must be three-letter codes, e.g. ["USA", "ITA"]')
            )
        if not str(api_url).startswith(("https://", "http://127.0.0.1", "http://localhost")):
            opts.problems.append(ConfigProblem(cfg.file, f"{where}.api_url", "must be an https:// URL"))
        opts.finish()
        http = httpx.Client(base_url=api_url, timeout=timeout, follow_redirects=False)
        client = AppStoreClient(http, Signer(key_id, issuer, private_key), source=cfg.name, key_hint=str(key_var))
        return cls(client, app_id=str(app_id), source=cfg.name, territories=territories,
                   backfill_hours=cfg.backfill_hours, max_pages=max_pages)  # fmt: skip

    def close(self) -> None:
        self.client.http.close()

    # --- fetch ------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """Reviews written since `cursor`, oldest first, with the brand's answers."""
        state = ReviewState.from_cursor(cursor)
        now = self.clock()
        start = self.client.count
        if state.at is None:
            state.at = now - self.backfill
        problems: list[str] = []
        reviews = self._read(state, problems)
        reviews.sort(key=lambda r: (r.created, r.review_id))
        posts = tuple(to_post(r, app_id=self.app_id, source=self.source) for r in reviews)
        state.advance((r.review_id, r.rating, r.created) for r in reviews)
        state.polled_at = now
        return FetchResult(posts=posts, cursor=state.to_cursor(), requests_made=self.client.count - start,
                           problems=tuple(problems))  # fmt: skip

    def _read(self, state: ReviewState, problems: list[str]) -> list[StoreReview]:
        url = f"/v1/apps/{self.app_id}/customerReviews"
        params: dict[str, Any] | None = {"sort": "-createdDate", "limit": PAGE_SIZE, "include": "response"}
        if self.territories and params is not None:
            params["filter[territory]"] = ",".join(self.territories)
        found: list[StoreReview] = []
        for _ in range(self.max_pages):
            body = self.client.get(url, params, what="the customer reviews")
            included = [parse_answer(item) for item in body.get("included") or ()]
            responses = {answer.id: answer for answer in included if answer is not None}
            below = False
            for raw in body.get("data") or ():
                try:
                    review = parse_review(raw, responses)
                except ItemError as exc:
                    problems.append(f"{self.source}: skipped a review ({exc}); the rest was read")
                    continue
                below = below or state.is_below(review.created)
                if state.is_new(review.created, review.review_id):
                    found.append(review)
            links = body.get("links")
            following = links.get("next") if isinstance(links, dict) else None
            if below or not following:
                return found
            if not str(following).startswith(str(self.client.http.base_url).rstrip("/")):
                problems.append(f"{self.source}: App Store Connect sent a next page on another host; not followed")
                return found
            url, params = str(following), None
        problems.append(
            f"{self.source}: more than {self.max_pages} pages of reviews are new; the oldest of them were not read "
            "(raise max_pages or poll more often)"
        )
        return found

    # --- reply ------------------------------------------------------------------------
    def reply(self, post: Post, text: str) -> PostedReply:
        """Respond to the review (replacing an earlier response); Apple publishes it after
        its own review, so it shows as pending publication until then."""
        if post.platform != self.name:
            raise ReplyRejected(f"post {post.key} is not an App Store review", source=self.source)
        if not text.strip() or len(text) > MAX_REPLY:
            raise ReplyRejected(
                f"the reply to {post.key} is {len(text)} characters; the App Store takes 1 to {MAX_REPLY}",
                source=self.source,
            )
        review_id = review_id_of(post.native_id)
        body = {"data": {"type": "customerReviewResponses", "attributes": {"responseBody": text},
                         "relationships": {"review": {"data": {"type": "customerReviews", "id": review_id}}}}}  # fmt: skip
        answer = parse_answer(self.client.post("/v1/customerReviewResponses", body, what=f"the reply to {post.key}")
                              .get("data"))  # fmt: skip
        if answer is None or not answer.id:
            raise ReplyOutcomeUnknown(
                f"App Store Connect accepted the reply to {post.key} but sent no response id; it may be posted",
                source=self.source,
            )
        return PostedReply(platform=self.name, native_id=answer.id, url=post.url,
                           posted_at=answer.modified or self.clock())  # fmt: skip

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The brand's response to the review (with these words, or any), pending or live."""
        review_id = review_id_of(post.native_id)
        try:
            body = self.client.get(f"/v1/customerReviews/{review_id}/response", what=f"the response to {post.key}")
        except SourceMisconfigured:
            return None  # no response (404), or the review is gone
        answer = parse_answer(body.get("data"))
        if answer is None or not answer.id:
            return None
        if text is not None and " ".join(answer.text.split()) != " ".join(text.split()):
            return None
        return PostedReply(platform=self.name, native_id=answer.id, url=post.url,
                           posted_at=answer.modified or self.clock())  # fmt: skip
