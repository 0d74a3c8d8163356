"""Small pieces the open-network connectors (Bluesky, Mastodon, YouTube, Hacker News)
share: range checks of numeric keys, the base-URL rule, the throttle kept in a cursor,
and a fetch made of units that a rate limit may stop half way."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import httpx

from connectors.base import (
    BudgetRow,
    ConnectorError,
    FetchResult,
    RateLimited,
    ReplyOutcomeUnknown,
    SourceUnavailable,
)
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions
from watcher.core.cursor import Cursor
from watcher.core.post import Post, parse_timestamp


def check_ranges(opts: SourceOptions, limits: Mapping[str, tuple[float | None, float, float]]) -> None:
    """key -> (value, low, high): a value outside its range is a problem naming the key."""
    for key, (number, low, high) in limits.items():
        if number is not None and not low <= number <= high:
            opts.problems.append(
                ConfigProblem(opts.cfg.file, f"sources.{opts.cfg.name}.{key}", f"must be between {low:g} and {high:g}")
            )


def count_option(cfg: SourceConfig, key: str, default: int) -> int:
    """A whole number >= 0 as written, else the default: budgets are planned before
    from_config has reported a bad value."""
    value = cfg.options.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def check_base_url(opts: SourceOptions, key: str, url: str) -> None:
    """A base URL must be https (plain http only for a fake or proxy on this machine)."""
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        opts.problems.append(
            ConfigProblem(
                opts.cfg.file,
                f"sources.{opts.cfg.name}.{key}",
                "must be an https:// URL (plain http only for 127.0.0.1)",
            )
        )


def blocked_until(state: Mapping[str, Any]) -> datetime | None:
    """The end of a throttle stored in a cursor's state, if any."""
    value = state.get("blocked_until")
    return parse_timestamp(str(value)) if value else None


def refuse_while_blocked(until: datetime | None, now: datetime, *, platform: str, source: str, endpoint: str) -> None:
    """No request before a stored throttle ends (it survives a restart in the cursor)."""
    if until is not None and now < until:
        raise RateLimited(
            f"{platform} asked us to wait; no request before {until:%H:%M:%S} UTC",
            until=until,
            endpoint=endpoint,
            source=source,
        )


def timed_out(platform: str, what: str, *, writing: bool, source: str) -> ConnectorError:
    """No answer in time: a read is retried later; a write may have been done, so the
    caller looks for it before sending again."""
    if writing:
        return ReplyOutcomeUnknown(
            f"{platform} did not answer in time while posting {what}; it may have been posted", source=source
        )
    return SourceUnavailable(f"{platform} did not answer in time for {what}; will retry", source=source)


def transport_error(exc: httpx.HTTPError, platform: str, what: str, *, writing: bool, source: str) -> ConnectorError:
    """An httpx request that got no answer: nothing was sent when the connection never
    opened; otherwise a write may have landed, so the caller looks before sending again."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return SourceUnavailable(f"cannot reach {platform} ({name}) for {what}; nothing was sent, will retry",
                                 source=source)  # fmt: skip
    if writing:
        return ReplyOutcomeUnknown(f"{platform} did not answer ({name}) while posting {what}; it may have been posted",
                                   source=source)  # fmt: skip
    return SourceUnavailable(f"{platform} did not answer for {what} ({name}); will retry", source=source)


def over_budget(rows: Iterable[BudgetRow], sources: Sequence[SourceConfig]) -> list[ConfigProblem]:
    """Each budget row over its limit as a problem naming the intervals to raise."""
    problems = []
    for row in rows:
        if not row.ok:
            first = next(s for s in sources if s.name == row.sources[0])
            where = ", ".join(f"sources.{name}.interval_seconds" for name in row.sources)
            problems.append(ConfigProblem(first.file, where, f"{row.text}; {row.fix}"))
    return problems


@dataclass
class Run:
    """What one fetch has read so far; a unit (one listing) counts once it is complete."""

    posts: list[Post] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    units: int = 0

    def read(self, units: Iterable[Callable[[Run], None]], *, source: str) -> None:
        """Run each unit in turn. A rate limit before any unit finished is raised (the poll
        stored nothing); after one, the poll keeps what it read and says when the rest follows."""
        try:
            for unit in units:
                unit(self)
                self.units += 1
        except RateLimited as exc:
            if self.units == 0:
                raise
            self.problems.append(
                f"{source}: {exc.message}; this poll stored what it had read, the rest follows after that time"
            )

    def result(self, cursor: Cursor, requests: int) -> FetchResult:
        """The fetch's result, posts oldest first."""
        self.posts.sort(key=lambda p: (p.created_at, len(p.native_id), p.native_id))
        return FetchResult(
            posts=tuple(self.posts), cursor=cursor, requests_made=requests, problems=tuple(self.problems)
        )


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(content: str) -> str:
    """HTML (a Mastodon status, a Hacker News comment) as the text a reader sees:
    paragraphs and line breaks kept, links as their text, entities decoded."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()
