"""Facebook Page: comments and replies on the Page's posts, visitor posts, posts that
tag the Page, and its ratings (recommendations) where the token can read them.

An idle poll asks three things: the Page feed (its newest posts with `updated_time`,
which moves when someone comments), posts that tag the Page, and ratings; plus one
lookup per 50 followed posts that have dropped out of the feed's first page. A post's
comments are read (`filter=stream`, newest first, down to its watermark) only when its
`updated_time` moved. Replies go out as the Page (a comment on the comment).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from connectors.base import AuthFailed, ConnectorError, ReplyRejected
from connectors.meta.client import GraphClient
from connectors.meta.connector import Listed, MetaConnector, Run
from connectors.meta.mapping import (
    FACEBOOK,
    ItemError,
    Parent,
    as_list,
    created_of,
    fb_author,
    fb_comment_to_post,
    fb_rating_to_post,
    fb_story_to_post,
    item_id,
    rating_id,
)
from connectors.meta.options import graph_client, read_options
from connectors.meta.state import Mark, MetaState
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions
from watcher.core.post import Post, PostKind

POST_FIELDS = "id,message,story,created_time,updated_time,permalink_url,from{id,name}"
COMMENT_FIELDS = (
    "id,message,created_time,from{id,name},parent{id},permalink_url,like_count,comment_count,is_hidden,attachment{type}"
)
STORY_FIELDS = "id,message,story,created_time,permalink_url,from{id,name}"
RATING_FIELDS = "created_time,recommendation_type,rating,review_text,reviewer{id,name},open_graph_story{id}"
OWN_REPLY_FIELDS = "id,message,created_time,from{id}"
RATINGS_RETRY = timedelta(days=1)  # a token that may not read ratings is asked again daily
PERMISSIONS = ("pages_read_engagement", "pages_read_user_engagement", "pages_manage_engagement", "pages_show_list")


class FacebookConnector(MetaConnector):
    name: ClassVar[str] = FACEBOOK
    label: ClassVar[str] = "Facebook"
    max_reply_length: int = 8000
    read_permission: ClassVar[str] = "pages_read_engagement"
    write_permission: ClassVar[str] = "pages_manage_engagement"

    def __init__(
        self,
        client: GraphClient,
        *,
        page_id: str,
        include_visitor_posts: bool = True,
        include_tagged: bool = True,
        include_ratings: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(client, owner_id=page_id, **kwargs)
        self.include_visitor_posts = include_visitor_posts
        self.include_tagged = include_tagged
        self.include_ratings = include_ratings

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        page_id = opts.get("page_id", str)
        values = read_options(opts, token_env="FACEBOOK_PAGE_TOKEN")
        visitor = opts.get("include_visitor_posts", bool, True)
        tagged = opts.get("include_tagged", bool, True)
        ratings = opts.get("include_ratings", bool, True)
        if page_id is not None and not page_id.isdigit():
            opts.problems.append(
                ConfigProblem(
                    cfg.file, f"sources.{cfg.name}.page_id", 'must be the Page\'s numeric id, like "1234567890"'
                )
            )
        opts.finish()
        return cls(
            graph_client(values, platform=cls.label, source=cfg.name),
            page_id=str(page_id),
            include_visitor_posts=visitor,
            include_tagged=tagged,
            include_ratings=ratings,
            source=cfg.name,
            window_days=values.window_days,
            posts_limit=values.posts_limit,
            max_pages=values.max_pages,
            backfill_hours=cfg.backfill_hours,
            app_token=values.app_token,
        )

    # --- fetch ------------------------------------------------------------------------
    def read(self, state: MetaState, run: Run, now: datetime) -> None:
        horizon = now - self.window
        feed = self._feed(horizon, run)
        run.units += 1
        if self.include_visitor_posts:
            visitors = [raw for raw in feed if fb_author(raw, str(raw.get("id"))).id != self.owner_id]
            mark = state.marks.get("visitor") or Mark(now - self.backfill)
            run.posts += self.take(visitors, mark, run, self._visitor_post, what="visitor posts", stamp="created_time")
            state.marks["visitor"] = mark.advanced(self.stamps(visitors, "created_time"))
        listing = []
        for raw in feed:
            try:
                listing.append(self.listed(raw))
            except ItemError as exc:
                run.problems.append(f"{self.source}: the Page feed: skipped {raw.get('id', '?')} ({exc})")
        self.follow(state, listing, run, now)
        if self.include_tagged:
            self.stream(
                state,
                "tagged",
                f"{self.owner_id}/tagged",
                {"fields": STORY_FIELDS, "limit": 25},
                what="posts that tag the Page",
                run=run,
                to_post=self._tagged_post,
                now=now,
            )
        if self.include_ratings:
            self._ratings(state, run, now)

    def _feed(self, horizon: datetime, run: Run) -> list[dict[str, Any]]:
        """The Page's newest posts (its own and visitors'), one page, more while they
        are within the window."""
        params = {"fields": POST_FIELDS, "limit": self.posts_limit}
        return self.walk(f"{self.owner_id}/feed", params, what="the Page feed", stop_below=Mark(horizon), run=run)

    def listed(self, item: Mapping[str, Any]) -> Listed:
        native = item_id(item)
        created = created_of(item)
        updated = created_of(item, "updated_time") if item.get("updated_time") else created
        text = str(item.get("message") or item.get("story") or "")
        url = str(item.get("permalink_url") or f"https://www.facebook.com/{native}")
        return Listed(Parent(native, text, url), created, updated.isoformat(), updated, has_comments=updated > created)

    def lookup_fields(self) -> str:
        return "id,message,story,created_time,updated_time,permalink_url"

    def read_comments(self, parent: Parent, mark: Mark, run: Run) -> tuple[list[Post], Mark]:
        params = {"filter": "stream", "order": "reverse_chronological", "fields": COMMENT_FIELDS, "limit": 100}
        items = self.walk(f"{parent.id}/comments", params, what=f"comments on {parent.id}", stop_below=mark, run=run)
        comments = {str(raw["id"]): raw for raw in items}
        shown = [raw for raw in items if raw.get("is_hidden") is not True]  # hidden by a moderator: handled
        posts = self.take(
            shown,
            mark,
            run,
            lambda raw: fb_comment_to_post(
                raw, parent=parent, page_id=self.owner_id, source=self.source, comments=comments
            ),
            what=f"comments on {parent.id}",
            stamp="created_time",
        )
        return posts, mark.advanced(self.stamps(items, "created_time"))

    def _visitor_post(self, raw: Mapping[str, Any]) -> Post:
        return fb_story_to_post(raw, kind=PostKind.POST, page_id=self.owner_id, source=self.source)

    def _tagged_post(self, raw: Mapping[str, Any]) -> Post:
        return fb_story_to_post(raw, kind=PostKind.MENTION, page_id=self.owner_id, source=self.source)

    def _ratings(self, state: MetaState, run: Run, now: datetime) -> None:
        """Ratings where the token may read them: a refusal is a problem line once a day,
        not an unhealthy source (the comments are what matters most)."""
        refused = state.refused.get("ratings")
        if refused is not None and now - refused < RATINGS_RETRY:
            return
        try:
            self.stream(
                state,
                "ratings",
                f"{self.owner_id}/ratings",
                {"fields": RATING_FIELDS, "limit": 25},
                what="the Page's ratings",
                run=run,
                now=now,
                to_post=lambda raw: fb_rating_to_post(raw, page_id=self.owner_id, source=self.source),
                ident=rating_id,
            )
        except AuthFailed as exc:
            state.refused["ratings"] = now
            run.problems.append(
                f"{self.source}: ratings are not read: {exc.message} (set include_ratings = false to stop asking; "
                "asked again in a day)"
            )
        else:
            state.refused.pop("ratings", None)

    # --- reply and moderation ------------------------------------------------------------
    def reply_path(self, target: str) -> str:
        return f"{target}/comments"

    def reply_url(self, post: Post, reply_id: str) -> str:
        return f"https://www.facebook.com/{reply_id}"

    def refuse_reply(self, post: Post) -> None:
        if post.kind == PostKind.REVIEW and post.native_id.startswith("rating-"):
            raise ReplyRejected(
                f"Facebook gave rating {post.key} no story to comment on; answer it on the Page", source=self.source
            )

    def own_replies_under(self, target: str) -> list[dict[str, Any]]:
        params = {"fields": OWN_REPLY_FIELDS, "filter": "toplevel", "order": "reverse_chronological", "limit": 100}
        body = self.client.get(f"{target}/comments", params, what=f"replies under {target}", needs=self.read_permission)
        data = as_list(body.get("data"))
        return [raw for raw in data if isinstance(raw, dict) and fb_author(raw, "").id == self.owner_id]

    def hide_field(self) -> str:
        return "is_hidden"

    # --- watcher check ----------------------------------------------------------------
    def check(self) -> list[str]:
        """Problems with this source's token and ids, each saying what to do; [] when it
        can read the Page. Asks /me, /debug_token (with an app token), the Page, and one
        item of each stream it reads."""
        problems: list[str] = []
        try:
            me = self.client.get("me", {"fields": "id,name"}, what="the token's owner", needs="pages_show_list")
            if str(me.get("id")) != self.owner_id:
                problems.append(
                    f"{self.source}: the token in {self.client.token_hint} belongs to {me.get('name') or me.get('id')}, "
                    f"not Page {self.owner_id}; use a Page access token of that Page"
                )
            problems += self.token_problems(PERMISSIONS)
            self.client.get(
                self.owner_id, {"fields": "id,name"}, what=f"Page {self.owner_id}", needs="pages_read_engagement"
            )
        except ConnectorError as exc:
            return [*problems, f"{self.source}: {exc.message}"]
        probes = [
            (f"{self.owner_id}/feed", "the Page feed", True),
            (f"{self.owner_id}/tagged", "tags", self.include_tagged),
            (f"{self.owner_id}/ratings", "ratings", self.include_ratings),
        ]
        for path, what, wanted in probes:
            if not wanted:
                continue
            try:
                self.client.get(path, {"limit": 1}, what=what, needs=self.read_permission)
            except ConnectorError as exc:
                problems.append(f"{self.source}: {exc.message}")
        return problems


CONNECTOR = FacebookConnector
