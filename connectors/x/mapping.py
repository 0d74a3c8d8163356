"""X v2 payloads -> Posts, pure: a response page, its tweets and users, ids and the
rate-limit headers. Nothing here talks to X; tested table-driven."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import PostedReply
from connectors.x.text import comparable_reply_text
from watcher.core.post import Author, Metrics, Post, PostKind, parse_timestamp

WEB_URL = "https://x.com"
UNAVAILABLE_HANDLE = "unavailable"

# --- ids -------------------------------------------------------------------------

TWITTER_EPOCH_MS = 1_288_834_974_657


def snowflake_time(tweet_id: str | int) -> datetime:
    """When an X id was minted (ids embed milliseconds since X's epoch)."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


def snowflake_at(moment: datetime, sequence: int = 0) -> str:
    """The id X would mint at `moment`; used to bound ranges and by test fakes."""
    millis = int(moment.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((millis << 22) | (sequence & 0x3FFFFF))


class TweetError(ValueError):
    """A tweet payload that cannot become a Post; the message names the field."""


@dataclass(frozen=True)
class Page:
    """One response of a timeline or search endpoint, parsed."""

    tweets: tuple[Mapping[str, Any], ...]
    users: Mapping[str, Mapping[str, Any]]
    included_tweets: Mapping[str, Mapping[str, Any]]
    next_token: str | None
    newest_id: str | None
    oldest_id: str | None
    errors: tuple[Mapping[str, Any], ...] = ()
    remaining: int | None = None
    reset_at: datetime | None = None
    malformed: tuple[str, ...] = ()  # what is wrong with each item of `data` left out of `tweets`


def reset_at(headers: Mapping[str, str]) -> datetime | None:
    """When the endpoint's rate-limit window resets (x-rate-limit-reset), if X said."""
    reset = header_int(headers, "x-rate-limit-reset")
    return datetime.fromtimestamp(reset, UTC) if reset is not None else None


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _tweet_id(value: Any) -> str | None:
    """An X id as a string of digits, or None when `value` is not one (ids are
    compared as numbers, so anything else must not get past the page)."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text if text.isascii() and text.isdigit() else None


def _malformed(item: Any) -> str:
    """What is wrong with an item of `data` that is not a tweet with a valid id,
    naming what identifies it (X's payload is data, never a secret)."""
    if not isinstance(item, Mapping):
        return f"X sent an item that is not a tweet ({type(item).__name__}: {str(item)[:80]!r}); skipped"
    clues = ", ".join(f"{key}={item[key]!r}" for key in ("author_id", "created_at") if key in item)
    return f"X sent a tweet with an invalid id ({item.get('id')!r}{', ' if clues else ''}{clues}); skipped"


def parse_page(body: Mapping[str, Any], headers: Mapping[str, str]) -> Page:
    """A v2 response body (`data`, `includes`, `meta`, `errors`) and its rate headers.
    An item of `data` without a valid id is left out and described in `malformed`,
    so one bad item costs that item, never the page."""
    tweets: list[Mapping[str, Any]] = []
    malformed: list[str] = []
    for item in body.get("data") or []:
        if isinstance(item, Mapping) and _tweet_id(item.get("id")) is not None:
            tweets.append(item)
        else:
            malformed.append(_malformed(item))
    includes = body.get("includes") or {}
    users = {str(u["id"]): u for u in includes.get("users") or [] if isinstance(u, Mapping) and "id" in u}
    included = {str(t["id"]): t for t in includes.get("tweets") or [] if isinstance(t, Mapping) and "id" in t}
    meta = body.get("meta") or {}
    ids = [str(t["id"]) for t in tweets]
    return Page(
        tweets=tuple(tweets),
        users=users,
        included_tweets=included,
        next_token=meta.get("next_token") or None,
        newest_id=_tweet_id(meta.get("newest_id")) or max(ids, key=int, default=None),
        oldest_id=_tweet_id(meta.get("oldest_id")) or min(ids, key=int, default=None),
        errors=tuple(e for e in body.get("errors") or [] if isinstance(e, Mapping)),
        remaining=header_int(headers, "x-rate-limit-remaining"),
        reset_at=reset_at(headers),
        malformed=tuple(malformed),
    )


def _count(metrics: Any, name: str) -> int:
    if not isinstance(metrics, Mapping):
        return 0
    value = metrics.get(name)
    return value if isinstance(value, int) and value > 0 else 0


def referenced(tweet: Mapping[str, Any], kind: str) -> str | None:
    for ref in tweet.get("referenced_tweets") or []:
        if isinstance(ref, Mapping) and ref.get("type") == kind and ref.get("id"):
            return str(ref["id"])
    return None


def _lang(value: Any) -> str | None:
    # X marks undetermined and non-language posts with und, zxx and q* codes
    if not isinstance(value, str) or not value or value in ("und", "zxx") or value.startswith("q"):
        return None
    return value


def user_to_author(user_id: str, user: Mapping[str, Any] | None) -> Author:
    """An author from `includes.users`; a placeholder when X left the user out
    (deleted, suspended or protected accounts)."""
    if user is None:
        return Author(
            id=user_id or "unknown",
            handle=UNAVAILABLE_HANDLE,
            display_name="account unavailable (deleted, suspended or protected)",
        )
    verified = bool(user.get("verified")) or user.get("verified_type") in ("blue", "business", "government")
    return Author(
        id=user_id,
        handle=str(user.get("username") or UNAVAILABLE_HANDLE),
        display_name=str(user.get("name") or ""),
        followers=_count(user.get("public_metrics"), "followers_count"),
        verified=verified,
    )


def tweet_url(tweet_id: str, username: str = "") -> str:
    if username and username != UNAVAILABLE_HANDLE:
        return f"{WEB_URL}/{username}/status/{tweet_id}"
    return f"{WEB_URL}/i/web/status/{tweet_id}"


def tweet_to_post(
    tweet: Mapping[str, Any],
    users_by_id: Mapping[str, Mapping[str, Any]],
    tweets_by_id: Mapping[str, Mapping[str, Any]],
    *,
    source: str = "",
    brand_user_id: str = "",
) -> Post:
    """One v2 tweet with its response's `includes` -> Post. Pure; missing optional
    fields default, a missing author becomes a placeholder, never an exception;
    only a tweet without id or text raises TweetError."""
    tweet_id = str(tweet.get("id") or "")
    if not tweet_id.isdigit():
        raise TweetError(f"tweet without a valid id: {tweet_id!r}")
    if not isinstance(tweet.get("text"), str):
        raise TweetError(f"tweet {tweet_id} has no text")
    try:
        created = parse_timestamp(tweet["created_at"]) if tweet.get("created_at") else snowflake_time(tweet_id)
    except (TypeError, ValueError):
        created = snowflake_time(tweet_id)
    author_id = str(tweet.get("author_id") or "")
    user = users_by_id.get(author_id) if author_id else None
    author = user_to_author(author_id, user)
    parent_id = referenced(tweet, "replied_to")
    parent = tweets_by_id.get(parent_id) if parent_id else None
    is_own = bool(brand_user_id) and author_id == brand_user_id
    if is_own:
        kind = PostKind.POST
    elif parent_id:
        kind = PostKind.REPLY
    else:
        kind = PostKind.MENTION
    metrics = tweet.get("public_metrics")
    raw: dict[str, Any] = {"tweet": dict(tweet)}
    if user is not None:
        raw["author"] = dict(user)
    if parent is not None:
        raw["parent"] = dict(parent)
    return Post(
        platform="x",
        native_id=tweet_id,
        kind=kind,
        text=html.unescape(tweet["text"]),
        created_at=created,
        author=author,
        url=tweet_url(tweet_id, author.handle),
        lang=_lang(tweet.get("lang")),
        parent_id=parent_id,
        conversation_id=str(tweet["conversation_id"]) if tweet.get("conversation_id") else None,
        parent_text=html.unescape(str(parent["text"])) if parent is not None and parent.get("text") else None,
        metrics=Metrics(
            likes=_count(metrics, "like_count"),
            reposts=_count(metrics, "retweet_count") + _count(metrics, "quote_count"),
            replies=_count(metrics, "reply_count"),
        ),
        is_own=is_own,
        is_repost=referenced(tweet, "retweeted") is not None,
        source=source,
        raw=raw,
    )


def own_replies(
    page: Page, posts: Sequence[Post], text: str | None, *, user_id: str, username: str
) -> dict[str, PostedReply]:
    """post key -> the brand's (`user_id`) earliest reply to it on `page` (with this text, when given)."""
    wanted = comparable_reply_text(text) if text is not None else None
    by_id = {p.native_id: p for p in posts}
    found: dict[str, PostedReply] = {}
    for tweet in sorted(page.tweets, key=lambda t: int(t["id"])):  # parse_page checked the ids
        post = by_id.get(referenced(tweet, "replied_to") or "")
        if post is None or post.key in found:
            continue
        if str(tweet.get("author_id") or user_id) != user_id:
            continue
        if wanted is not None and comparable_reply_text(str(tweet.get("text", ""))) != wanted:
            continue
        reply_id = str(tweet["id"])
        posted = parse_timestamp(tweet["created_at"]) if tweet.get("created_at") else snowflake_time(reply_id)
        found[post.key] = PostedReply(
            platform="x", native_id=reply_id, url=tweet_url(reply_id, username), posted_at=posted
        )
    return found
