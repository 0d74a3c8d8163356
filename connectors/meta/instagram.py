"""Instagram professional account: comments and replies on the account's media, and
media of others that tag the account.

An idle poll asks two things: the account's newest media (with `comments_count`) and
the media that tag it; plus one lookup per 50 followed media that have dropped out of
the first page. A media's comments (with their replies nested) are read only when its
`comments_count` moved. Replies go out as the account (POST /{comment}/replies).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Self

from connectors.base import ConnectorError, ReplyRejected
from connectors.meta.client import GraphClient
from connectors.meta.connector import Listed, MetaConnector, Run
from connectors.meta.mapping import (
    INSTAGRAM,
    ItemError,
    Parent,
    as_list,
    created_of,
    ig_author,
    ig_comment_to_post,
    ig_media_to_post,
    is_own_ig,
    item_id,
)
from connectors.meta.options import graph_client, read_options
from connectors.meta.state import Mark, MetaState
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions
from watcher.core.post import Post, PostKind

MEDIA_FIELDS = "id,caption,timestamp,permalink,comments_count,username"
_COMMENT = "id,text,timestamp,username,from{id,username},hidden,like_count,parent_id"
COMMENT_FIELDS = f"{_COMMENT},replies{{{_COMMENT}}}"
TAG_FIELDS = "id,caption,timestamp,permalink,username,comments_count,like_count"
# Instagram API with Instagram Login; with Facebook Login they are instagram_basic,
# instagram_manage_comments and pages_read_engagement
PERMISSIONS = ("instagram_business_basic", "instagram_business_manage_comments")


class InstagramConnector(MetaConnector):
    name: ClassVar[str] = INSTAGRAM
    label: ClassVar[str] = "Instagram"
    max_reply_length: int = 2200
    read_permission: ClassVar[str] = "instagram_business_basic"
    write_permission: ClassVar[str] = "instagram_business_manage_comments"

    def __init__(
        self,
        client: GraphClient,
        *,
        account_id: str,
        username: str = "",
        page_id: str = "",
        include_tags: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(client, owner_id=account_id, **kwargs)
        self.username = username
        self.page_id = page_id  # only to resolve the account id in `check`
        self.include_tags = include_tags

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        account_id = opts.get("account_id", str)
        username = opts.get("username", str, "").lstrip("@")
        page_id = opts.get("page_id", str, "")
        values = read_options(opts, token_env="INSTAGRAM_TOKEN")
        tags = opts.get("include_tags", bool, True)
        if account_id is not None and not account_id.isdigit():
            opts.problems.append(
                ConfigProblem(
                    cfg.file,
                    f"sources.{cfg.name}.account_id",
                    'must be the Instagram account\'s numeric id, like "17841400000000000" (watcher check shows it '
                    "when page_id is set)",
                )
            )
        opts.finish()
        return cls(
            graph_client(values, platform=cls.label, source=cfg.name),
            account_id=str(account_id),
            username=username,
            page_id=page_id,
            include_tags=tags,
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
        params = {"fields": MEDIA_FIELDS, "limit": self.posts_limit}
        media = self.walk(
            f"{self.owner_id}/media",
            params,
            what="the account's media",
            stop_below=Mark(horizon),
            run=run,
            stamp="timestamp",
        )
        run.units += 1
        listing = []
        for raw in media:
            try:
                listing.append(self.listed(raw))
            except ItemError as exc:
                run.problems.append(f"{self.source}: the account's media: skipped {raw.get('id', '?')} ({exc})")
        self.follow(state, listing, run, now)
        if self.include_tags:
            self.stream(
                state,
                "tags",
                f"{self.owner_id}/tags",
                {"fields": TAG_FIELDS, "limit": 25},
                what="media that tag the account",
                run=run,
                now=now,
                stamp="timestamp",
                to_post=lambda raw: ig_media_to_post(
                    raw, account_id=self.owner_id, username=self.username, source=self.source
                ),
            )

    def listed(self, item: Mapping[str, Any]) -> Listed:
        native = item_id(item)
        count = item.get("comments_count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ItemError(f"comments_count {count!r} is not a count")
        parent = Parent(native, str(item.get("caption") or ""), str(item.get("permalink") or ""))
        return Listed(parent, created_of(item, "timestamp"), str(count), has_comments=count > 0)

    def lookup_fields(self) -> str:
        return MEDIA_FIELDS

    def read_comments(self, parent: Parent, mark: Mark, run: Run) -> tuple[list[Post], Mark]:
        """Every page of the media's comments (a new reply can sit under an old comment),
        replies flattened after their comment."""
        params = {"fields": COMMENT_FIELDS, "limit": 50}
        top = self.walk(
            f"{parent.id}/comments",
            params,
            what=f"comments on {parent.id}",
            stop_below=None,
            run=run,
            stamp="timestamp",
        )
        items: list[dict[str, Any]] = []
        for raw in top:
            items.append(raw)
            replies = raw.get("replies")
            nested = replies.get("data") if isinstance(replies, dict) else None
            for reply in nested if isinstance(nested, list) else []:
                if isinstance(reply, dict):
                    items.append({**reply, "parent_id": reply.get("parent_id") or raw["id"]})
        comments = {str(raw["id"]): raw for raw in items if raw.get("id")}
        shown = [raw for raw in items if raw.get("hidden") is not True]
        posts = self.take(
            shown,
            mark,
            run,
            lambda raw: ig_comment_to_post(
                raw,
                parent=parent,
                account_id=self.owner_id,
                username=self.username,
                source=self.source,
                comments=comments,
            ),
            what=f"comments on {parent.id}",
            stamp="timestamp",
        )
        return posts, mark.advanced(self.stamps(items, "timestamp"))

    # --- reply and moderation ------------------------------------------------------------
    def reply_path(self, target: str) -> str:
        return f"{target}/replies"

    def reply_url(self, post: Post, reply_id: str) -> str:
        return post.url

    def refuse_reply(self, post: Post) -> None:
        if post.kind not in (PostKind.COMMENT, PostKind.REPLY):
            raise ReplyRejected(
                f"{post.key} is a post that tags the account; Instagram lets the API answer only comments on the "
                f"account's own media: reply in the Instagram app ({post.url or 'open the post'})",
                source=self.source,
            )

    def own_replies_under(self, target: str) -> list[dict[str, Any]]:
        body = self.client.get(
            f"{target}/replies",
            {"fields": "id,text,timestamp,username,from{id,username}"},
            what=f"replies under {target}",
            needs=self.read_permission,
        )
        data = as_list(body.get("data"))
        own = [r for r in data if isinstance(r, dict) and is_own_ig(ig_author(r, ""), self.owner_id, self.username)]
        return sorted(own, key=lambda r: str(r.get("timestamp") or ""), reverse=True)

    def hide_field(self) -> str:
        return "hide"

    # --- watcher check ----------------------------------------------------------------
    def check(self) -> list[str]:
        """Problems with this source's token and ids, each saying what to do; [] when it
        can read the account. With page_id set, the account id is resolved from the Page."""
        problems: list[str] = []
        try:
            if self.page_id:
                page = self.client.get(
                    self.page_id,
                    {"fields": "instagram_business_account"},
                    what=f"Page {self.page_id}",
                    needs="pages_show_list",
                )
                linked = page.get("instagram_business_account")
                linked_id = str(linked.get("id")) if isinstance(linked, dict) and linked.get("id") else ""
                if not linked_id:
                    problems.append(f"{self.source}: Page {self.page_id} has no Instagram professional account linked")
                elif linked_id != self.owner_id:
                    problems.append(
                        f"{self.source}: Page {self.page_id} is linked to Instagram account {linked_id}, not "
                        f'{self.owner_id}; set account_id = "{linked_id}"'
                    )
            account = self.client.get(
                self.owner_id, {"fields": "id,username"}, what=f"account {self.owner_id}", needs=self.read_permission
            )
            name = str(account.get("username") or "")
            if self.username and name and name.casefold() != self.username.casefold():
                problems.append(
                    f"{self.source}: account {self.owner_id} is @{name}, not @{self.username}; fix username"
                )
            problems += self.token_problems(PERMISSIONS)
        except ConnectorError as exc:
            return [*problems, f"{self.source}: {exc.message}"]
        probes = [
            (f"{self.owner_id}/media", "the account's media", True),
            (f"{self.owner_id}/tags", "tags", self.include_tags),
        ]
        for path, what, wanted in probes:
            if not wanted:
                continue
            try:
                self.client.get(path, {"limit": 1}, what=what, needs=self.read_permission)
            except ConnectorError as exc:
                problems.append(f"{self.source}: {exc.message}")
        return problems


CONNECTOR = InstagramConnector
