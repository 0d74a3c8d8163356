"""What the rules read of a post beyond its signals: the triage context (the brand,
the thresholds, what is known of the author) and the rule facts built from the post,
its signals and that context, one post at a time or a batch column by column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from rules.engine import AUTHOR_LISTS, Facts, FactsBatch
from rules.intents import bit_mask
from rules.signals import SignalColumns, Signals
from watcher.core.post import Author, Post
from watcher.core.settings import BrandConfig, TriageConfig


@dataclass(frozen=True)
class TriageContext:
    brand: BrandConfig
    thresholds: TriageConfig = field(default_factory=TriageConfig)
    author_recent_posts: int = 0
    author_open_items: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def post_facts(post: Post, sig: Signals, ctx: TriageContext) -> Facts:
    """One post's rule facts (what PostFacts gives for a batch, row by row)."""
    accounts = BrandAccounts.of(ctx.brand)
    on_lists = _author_bits(accounts, post.author)
    return Facts(
        text=post.text,
        norm=sig.hashed.norm,
        lang=sig.lang,
        platform=post.platform,
        source=post.source,
        kind=str(post.kind),
        sentiment=sig.sentiment.value,
        intents=frozenset(sig.intents),
        followers=post.author.followers,
        verified=post.author.verified,
        engagement=post.metrics.engagement,
        repeat=ctx.author_recent_posts,
        open_items=ctx.author_open_items,
        tokens=sig.hashed.words,
        author_lists=frozenset(name for name in AUTHOR_LISTS if on_lists & _LIST_BIT[name]),
        mentions_competitor=_mentions_competitor(accounts, on_lists, post.text),
        sarcasm=sig.sarcasm is not None,
        rating=post.review.rating if post.review else 0,
        rating_drop=post.review.rating_drop if post.review else 0,
    )


class PostFacts(FactsBatch):
    """A batch's rule facts (the same as `post_facts` gives one post) built column by
    column straight from the posts, their signals and contexts, each on first use: no
    Facts object per post."""

    def __init__(
        self,
        posts: Sequence[Post],
        signals: Sequence[Signals],
        contexts: Sequence[TriageContext],
        columns: SignalColumns,
    ) -> None:
        super().__init__(size=len(posts))
        self.posts = posts
        self.signals = signals
        self.contexts = contexts
        self._columns.update(intents=columns.intent_bits, sentiment=columns.sentiment)
        self._sarcasm = columns.sarcasm

    def build(self, name: str) -> Any:
        posts, signals, n = self.posts, self.signals, self.size
        if name == "text":
            return [p.text for p in posts]
        if name == "norm":
            return [s.hashed.norm for s in signals]
        if name == "tokens":
            return [s.hashed.words for s in signals]
        if name == "lang":
            return np.asarray([s.lang.casefold() for s in signals], dtype=object)
        if name in ("platform", "source", "kind"):
            return np.asarray([str(getattr(p, name)).casefold() for p in posts], dtype=object)
        if name in ("author_lists", "mentions_competitor"):
            bits, mentions = self._author_columns()
            self._columns["author_lists"], self._columns["mentions_competitor"] = bits, mentions
            return bits if name == "author_lists" else mentions
        if name == "sarcasm":
            return self._sarcasm.astype(np.float64)
        if name == "followers":
            return np.array([p.author.followers for p in posts], dtype=np.float64).reshape(n)
        if name == "verified":
            return np.array([p.author.verified for p in posts], dtype=np.float64).reshape(n)
        if name == "engagement":
            return np.array([p.metrics.engagement for p in posts], dtype=np.float64).reshape(n)
        if name == "repeat":
            return np.array([c.author_recent_posts for c in self.contexts], dtype=np.float64).reshape(n)
        if name == "open_items":
            return np.array([c.author_open_items for c in self.contexts], dtype=np.float64).reshape(n)
        if name in ("rating", "rating_drop"):
            return np.array([getattr(p.review, name) if p.review else 0 for p in posts], dtype=np.float64).reshape(n)
        raise KeyError(f"no rule fact named {name!r}")

    def _author_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """The author's lists (bit mask over AUTHOR_LISTS) and whether the post names a competitor."""
        bits = [0] * self.size
        mentions = [0.0] * self.size
        # the contexts hold their brands for the whole batch, so their ids stay theirs
        brands = {id(c.brand): c.brand for c in self.contexts}
        accounts_of = {key: BrandAccounts.of(brand) for key, brand in brands.items()}
        if not any(accounts.lists or accounts.rivals for accounts in accounts_of.values()):
            return np.zeros(self.size, dtype=np.int64), np.zeros(self.size)
        for i, (post, ctx) in enumerate(zip(self.posts, self.contexts, strict=True)):
            accounts = accounts_of[id(ctx.brand)]
            if accounts.lists or accounts.rivals:
                bits[i] = on_lists = _author_bits(accounts, post.author)
                mentions[i] = float(_mentions_competitor(accounts, on_lists, post.text))
        return np.asarray(bits, dtype=np.int64), np.asarray(mentions, dtype=np.float64)


@dataclass(frozen=True)
class BrandAccounts:
    """The brand's account lists, case-folded once per batch rather than for every post."""

    lists: tuple[tuple[str, frozenset[str]], ...]
    rivals: tuple[str, ...]

    @classmethod
    def of(cls, brand: BrandConfig) -> BrandAccounts:
        def folded(accounts: Sequence[str]) -> frozenset[str]:
            return frozenset(a.lstrip("@").casefold() for a in accounts)

        lists = (
            ("vip", folded(brand.vip_accounts)),
            ("staff", folded(brand.staff_accounts)),
            ("competitor", folded(brand.competitors)),
        )
        return cls(
            lists=tuple((name, members) for name, members in lists if members),
            rivals=tuple(c.lstrip("@").casefold() for c in brand.competitors),
        )


_LIST_BIT = {name: bit_mask((name,), AUTHOR_LISTS) for name in AUTHOR_LISTS}


def _author_bits(accounts: BrandAccounts, author: Author) -> int:
    """The brand's lists (vip, staff, competitor) the author is on, by id or handle, as a
    bit mask over AUTHOR_LISTS."""
    bits = 0
    if accounts.lists:
        user_id = author.id.casefold()
        handle = author.handle.lstrip("@").casefold()
        for name, members in accounts.lists:
            if (user_id and user_id in members) or (handle and handle in members):
                bits |= _LIST_BIT[name]
    return bits


def _mentions_competitor(accounts: BrandAccounts, author_bits: int, text: str) -> bool:
    """Whether a post not written by a competitor names one as a word."""
    if not accounts.rivals or author_bits & _LIST_BIT["competitor"]:
        return False
    folded = text.casefold()
    return any(_word_in(r, folded) for r in accounts.rivals if r in folded)  # `in` first: most posts name none


def _word_in(word: str, text: str) -> bool:
    start = text.find(word)
    while start >= 0:
        before = text[start - 1] if start else " "
        end = start + len(word)
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = text.find(word, start + 1)
    return False
