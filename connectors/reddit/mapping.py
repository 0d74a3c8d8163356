"""Reddit payloads -> Post, and the per-stream cursor: pure functions and values.

Everything here works on Reddit's own JSON (t3 submissions, t1 comments and
inbox items) as dicts, so it is table-testable without a server and `raw` stays
serializable for the store.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from watcher.core.post import Author, Metrics, Post, PostKind, normalized_text, parse_timestamp

PLATFORM = "reddit"
WEB_URL = "https://www.reddit.com"  # links shown to people always go to the real site
GONE_TEXTS = ("[deleted]", "[removed]")
MODES = ("subreddit", "search", "inbox")


# --- pure mapping -------------------------------------------------------------


def clean_text(text: Any) -> str:
    """Reddit's placeholders for deleted or removed words become an empty string."""
    value = str(text or "").strip()
    return "" if value in GONE_TEXTS else value


def _author(data: Mapping[str, Any], karma: Mapping[str, int] | None) -> Author:
    """A deleted account gets an id unique to the post, so deleted strangers are
    never merged into one 'author' with a shared history."""
    name = str(data.get("author") or "[deleted]")
    if name == "[deleted]" or not data.get("author_fullname"):
        return Author(id=f"deleted:{data.get('name', '')}", handle="[deleted]")
    fullname = str(data["author_fullname"])
    return Author(
        id=fullname,
        handle=name,
        display_name=name,
        followers=int((karma or {}).get(fullname, 0)),
        verified=False,
    )


def is_own(data: Mapping[str, Any], brand_account: str | None) -> bool:
    author = str(data.get("author") or "")
    return bool(brand_account) and author.casefold() == str(brand_account).removeprefix("u/").casefold()


def permalink_url(data: Mapping[str, Any]) -> str:
    """The public link: `permalink` when Reddit sent it, else the inbox `context`
    without its query, else one built from the link and comment ids."""
    path = str(data.get("permalink") or "")
    if not path and data.get("context"):
        path = str(data["context"]).split("?", 1)[0]
    if not path and data.get("link_id") and data.get("id"):
        path = f"/r/{data.get('subreddit', '')}/comments/{str(data['link_id'])[3:]}/_/{data['id']}/"
    if path.startswith("http"):
        return path
    return f"{WEB_URL}{path}" if path else ""


def _raw(data: Mapping[str, Any], keys: Iterable[str], **extra: Any) -> dict[str, Any]:
    kept = {k: data[k] for k in keys if k in data}
    kept.update({k: v for k, v in extra.items() if v is not None})
    return kept


SUBMISSION_RAW_KEYS = (
    "name", "id", "subreddit", "author", "author_fullname", "title", "selftext", "url", "permalink",
    "created_utc", "score", "num_comments", "num_crossposts", "locked", "archived", "is_self", "over_18",
    "removed_by_category", "link_flair_text", "distinguished", "crosspost_parent",
)  # fmt: skip
COMMENT_RAW_KEYS = (
    "name", "id", "subreddit", "author", "author_fullname", "body", "permalink", "context", "link_id",
    "parent_id", "link_title", "created_utc", "score", "locked", "archived", "distinguished", "type", "subject",
)  # fmt: skip


def submission_to_post(
    data: Mapping[str, Any],
    *,
    source: str = "",
    kind: PostKind = PostKind.POST,
    brand_account: str | None = None,
    karma: Mapping[str, int] | None = None,
) -> Post:
    """A t3 payload -> Post: title and body as the text, subreddit in `raw`. Pure."""
    title = clean_text(data.get("title"))
    body = clean_text(data.get("selftext"))
    if not data.get("is_self", True) and data.get("url") and not body:
        body = str(data["url"])
    text = "\n\n".join(part for part in (title, body) if part)
    author_karma = (karma or {}).get(str(data.get("author_fullname") or ""))
    return Post(
        platform=PLATFORM,
        native_id=str(data["name"]),
        kind=kind,
        text=text,
        created_at=parse_timestamp(float(data["created_utc"])),
        author=_author(data, karma),
        url=permalink_url(data),
        conversation_id=str(data["name"]),
        metrics=Metrics(
            likes=max(0, int(data.get("score") or 0)),
            reposts=int(data.get("num_crossposts") or 0),
            replies=int(data.get("num_comments") or 0),
        ),
        is_own=is_own(data, brand_account),
        is_repost=bool(data.get("crosspost_parent")),
        source=source,
        raw=_raw(data, SUBMISSION_RAW_KEYS, kind="t3", author_karma=author_karma),
    )


def comment_to_post(
    data: Mapping[str, Any],
    *,
    source: str = "",
    kind: PostKind = PostKind.COMMENT,
    brand_account: str | None = None,
    parent_text: str | None = None,
    karma: Mapping[str, int] | None = None,
) -> Post:
    """A t1 payload (subreddit comment or inbox item) -> Post. The parent's text
    is the caller's (fetched in one batch); without it, a top-level comment falls
    back to its submission's title, which every comment payload carries. Pure."""
    link_title = clean_text(data.get("link_title"))
    parent_id = str(data.get("parent_id") or "") or None
    if parent_text is None and parent_id and parent_id.startswith("t3_") and link_title:
        parent_text = link_title
    author_karma = (karma or {}).get(str(data.get("author_fullname") or ""))
    return Post(
        platform=PLATFORM,
        native_id=str(data["name"]),
        kind=kind,
        text=clean_text(data.get("body")),
        created_at=parse_timestamp(float(data["created_utc"])),
        author=_author(data, karma),
        url=permalink_url(data),
        parent_id=parent_id,
        conversation_id=str(data.get("link_id") or "") or None,
        parent_text=parent_text or None,
        metrics=Metrics(likes=max(0, int(data.get("score") or 0))),
        is_own=is_own(data, brand_account),
        source=source,
        raw=_raw(data, COMMENT_RAW_KEYS, kind="t1", author_karma=author_karma),
    )


def is_gone(data: Mapping[str, Any]) -> bool:
    """Deleted or removed content: nothing left to read or answer."""
    if "body" in data:
        return str(data.get("body") or "").strip() in GONE_TEXTS
    if data.get("removed_by_category"):
        return True
    return str(data.get("selftext") or "").strip() in GONE_TEXTS and not clean_text(data.get("title"))


def matches_terms(text: str, terms: Iterable[str]) -> bool:
    """Whole-word match of any term, ignoring case, accents and punctuation."""
    words = f" {normalized_text(text)} "
    return any(f" {n} " in words for n in map(_normalized_term, terms) if n)


@functools.lru_cache(maxsize=1024)
def _normalized_term(term: str) -> str:
    """A source's few terms, normalized once rather than for every item of every fetch."""
    return normalized_text(term)


def search_query(terms: Iterable[str]) -> str:
    """Reddit search syntax for 'any of these terms': quoted phrases joined by OR."""
    return " OR ".join(f'"{t}"' for t in terms)


def same_text(a: str, b: str) -> bool:
    """Reddit may trim or re-flow markdown whitespace; compare words, not bytes."""
    return " ".join(a.split()) == " ".join(b.split())


# --- cursor -------------------------------------------------------------------


MAX_SEEN = 1000  # fullnames a boundary remembers; older ones fall below its floor


@dataclass(frozen=True)
class Boundary:
    """What a listing walk has returned: every item created before `floor`, and every
    fullname in `seen` (those created since, with their times). With a look-back,
    items that show up late with an older creation time (search indexing, posts
    approved out of the spam filter) are still picked up; items sharing a second are
    never skipped; nothing is returned twice."""

    created: float  # the newest creation time returned
    seen: Mapping[str, float] = field(default_factory=dict)
    lookback: float = 0.0

    @property
    def floor(self) -> float:
        return self.created - self.lookback

    def covers(self, data: Mapping[str, Any]) -> bool:
        return self.below(data) or data["name"] in self.seen

    def below(self, data: Mapping[str, Any]) -> bool:
        """Older than the floor: a newest-first walk can stop here."""
        return float(data["created_utc"]) < self.floor

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "seen": dict(self.seen), "lookback": self.lookback}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Boundary:
        return cls(float(value["created"]), dict(value.get("seen", {})), float(value.get("lookback", 0.0)))


def advance(previous: Boundary | None, items: Iterable[Mapping[str, Any]], *, lookback: float) -> Boundary | None:
    """The boundary after returning `items`: the newest time moves up, `seen` keeps
    the names inside the look-back window (at most MAX_SEEN, the newest)."""
    seen = dict(previous.seen) if previous else {}
    seen.update({str(d["name"]): float(d["created_utc"]) for d in items})
    if not seen:
        return previous
    newest = max([*seen.values(), previous.created if previous else float("-inf")])
    kept = sorted(((t, n) for n, t in seen.items() if t >= newest - lookback), reverse=True)[:MAX_SEEN]
    floor = kept[-1][0] if len(kept) == MAX_SEEN else newest - lookback
    return Boundary(newest, {n: t for t, n in kept}, newest - floor)


@dataclass(frozen=True)
class Passed:
    """How far down an unfinished walk has gone: every item created after `created`,
    and those created at `created` named in `names`, was walked. A walk that has to
    start again from the top (its resume point vanished) skips these, so nothing is
    returned twice even when it is older than the look-back `seen` remembers."""

    created: float
    names: frozenset[str] = frozenset()

    def covers(self, data: Mapping[str, Any]) -> bool:
        created = float(data["created_utc"])
        return created > self.created or (created == self.created and data["name"] in self.names)

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "names": sorted(self.names)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Passed:
        return cls(float(value["created"]), frozenset(value.get("names", ())))


def passing(passed: Passed | None, data: Mapping[str, Any]) -> Passed:
    """The mark after walking `data` (a listing is walked newest first)."""
    created, name = float(data["created_utc"]), str(data["name"])
    if passed is None or created < passed.created:
        return Passed(created, frozenset({name}))
    if created == passed.created:
        return Passed(created, passed.names | {name})
    return passed


MAX_REPORTED = 100  # malformed items a stream remembers having reported


@dataclass(frozen=True)
class StreamState:
    """`top`: what has been returned. `gap`: an unfinished walk, resuming after
    fullname `gap_after` down to `gap_floor` (the top before the walk began), having
    walked down to `gap_passed`; `gap_rewalked` once it has started again from the
    newest item (its resume point vanished), so it never does so twice, with
    `gap_stood`, how far down it had got then (None for a cursor from before marks
    were kept): while `gap_passed` still equals it, the walk again has listed nothing
    older. `reported`: malformed items already named in a problem line, so one bad
    item is reported once, not at every poll."""

    top: Boundary | None = None
    gap_after: str | None = None
    gap_floor: Boundary | None = None
    gap_passed: Passed | None = None
    gap_rewalked: bool = False
    gap_stood: Passed | None = None
    reported: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.top is not None:
            out["top"] = self.top.to_json()
        if self.gap_after is not None and self.gap_floor is not None:
            out["gap"] = {"after": self.gap_after, "floor": self.gap_floor.to_json()}
            if self.gap_passed is not None:
                out["gap"]["passed"] = self.gap_passed.to_json()
            if self.gap_rewalked:
                out["gap"]["rewalked"] = {"stood": self.gap_stood.to_json()} if self.gap_stood else {}
        if self.reported:
            out["reported"] = list(self.reported[-MAX_REPORTED:])
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> StreamState:
        if not value:
            return cls()
        gap = value.get("gap")
        rewalked = gap.get("rewalked") if gap else None  # {} or {"stood": mark} once walked again
        return cls(
            top=Boundary.from_json(value["top"]) if value.get("top") else None,
            gap_after=gap["after"] if gap else None,
            gap_floor=Boundary.from_json(gap["floor"]) if gap else None,
            gap_passed=Passed.from_json(gap["passed"]) if gap and gap.get("passed") else None,
            gap_rewalked=rewalked is not None,
            gap_stood=Passed.from_json(rewalked["stood"]) if rewalked and rewalked.get("stood") else None,
            reported=tuple(value.get("reported", ())),
        )


# --- streams --------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """One listing a source reads. `terms` filters what it keeps (empty: keep all)."""

    key: str
    path: str
    kind: PostKind
    params: Mapping[str, str] = field(default_factory=dict)
    terms: tuple[str, ...] = ()
    subreddit: str = ""


def build_streams(
    *,
    mode: str,
    subreddits: tuple[str, ...] = (),
    terms: tuple[str, ...] = (),
    query: str = "",
    include_submissions: bool = True,
    include_comments: bool = True,
    include_mentions: bool = True,
    include_replies: bool = True,
) -> tuple[Stream, ...]:
    """The listings a source's options ask for. One stream per subreddit, so a banned
    or private one is named in the error instead of silently dropped by `a+b`."""
    streams: list[Stream] = []
    if mode == "subreddit":
        for sub in subreddits:
            if include_submissions:
                streams.append(Stream(f"new:{sub.lower()}", f"r/{sub}/new", PostKind.POST, terms=terms, subreddit=sub))
            if include_comments:
                streams.append(
                    Stream(f"comments:{sub.lower()}", f"r/{sub}/comments", PostKind.COMMENT, terms=terms, subreddit=sub)
                )
    elif mode == "search":
        q = query or search_query(terms)
        params = {"q": q, "sort": "new", "type": "link", "syntax": "lucene"}
        if include_submissions:
            if subreddits:
                for sub in subreddits:
                    streams.append(
                        Stream(
                            f"search:{sub.lower()}",
                            f"r/{sub}/search",
                            PostKind.MENTION,
                            {**params, "restrict_sr": "on"},
                            subreddit=sub,
                        )
                    )
            else:
                streams.append(Stream("search:all", "search", PostKind.MENTION, params))
        if include_comments:
            # Reddit search does not cover comments: scan the listed subreddits' comments for the terms
            for sub in subreddits:
                streams.append(
                    Stream(f"comments:{sub.lower()}", f"r/{sub}/comments", PostKind.MENTION, terms=terms, subreddit=sub)
                )
    elif mode == "inbox":
        # replies first: a reply that also names the brand is kept once, as a reply
        if include_replies:
            streams.append(Stream("comment_replies", "message/comments", PostKind.REPLY))
            streams.append(Stream("post_replies", "message/selfreply", PostKind.REPLY))
        if include_mentions:
            streams.append(Stream("mentions", "message/mentions", PostKind.MENTION))
    return tuple(streams)


def malformed(data: Mapping[str, Any], kind: str) -> str:
    """What is wrong with a listing item that cannot be read at all (no fullname, or no
    usable creation time), or "" when it is fine. Such an item is skipped and named."""
    name = data.get("name")
    if not _is_fullname(name, kind):
        return f"its name is {_short(name)}, not a Reddit fullname like {kind}_abc123"
    created = data.get("created_utc")
    if isinstance(created, bool) or not isinstance(created, int | float) or not math.isfinite(created):
        return f"its created_utc is {_short(created)}, not a time in epoch seconds"
    try:
        parse_timestamp(created)
    except (OverflowError, OSError, ValueError):
        return f"its created_utc {_short(created)} is not a possible time"
    return ""


def item_label(data: Mapping[str, Any], kind: str) -> str:
    """The item's fullname for a problem line, from its id when the name is unusable."""
    name, item_id = data.get("name"), data.get("id")
    if _is_fullname(name, kind):
        return str(name)
    if isinstance(item_id, str) and _is_fullname(f"{kind}_{item_id}", kind):
        return f"{kind}_{item_id}"
    return ""


def _is_fullname(name: Any, kind: str) -> bool:
    """`t3_` plus a short base-36 id, as Reddit names things."""
    if not isinstance(name, str) or not name.startswith(f"{kind}_"):
        return False
    item_id = name[len(kind) + 1 :]
    return 0 < len(item_id) <= 20 and item_id.isascii() and item_id.isalnum()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def wanted(stream: Stream, data: Mapping[str, Any]) -> bool:
    """Keep an item unless it is gone, or the stream filters by terms and it has none."""
    if is_gone(data):
        return False
    if stream.terms:
        text = " ".join(str(data.get(k) or "") for k in ("title", "selftext", "body"))
        return matches_terms(text, stream.terms)
    return True
