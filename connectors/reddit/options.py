"""A Reddit source table read and checked: every problem named with its key, secrets
only from the environment variables the table names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.reddit.mapping import MODES, Stream, build_streams
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions

DEFAULT_USER_AGENT = "python:social-care-watcher:0.1 (self-hosted)"
SUBREDDIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")


@dataclass(frozen=True)
class Access:
    """What `make_reddit` needs: where Reddit is, how long to wait, and the credentials."""

    client_id: str
    client_secret: str
    user_agent: str
    oauth_url: str
    reddit_url: str
    username: str
    password: str
    refresh_token: str
    timeout: float

    @property
    def logged_in(self) -> bool:
        """The brand account is logged in (replies and the inbox need it)."""
        return bool(self.refresh_token or (self.username and self.password))


@dataclass(frozen=True)
class Settings:
    """The connector's own options (its keyword arguments besides praw and the meter)."""

    streams: tuple[Stream, ...]
    brand_account: str | None
    can_reply: bool
    page_size: int
    max_pages: int
    min_remaining: int
    backfill_hours: int
    parent_context: bool
    author_karma: bool
    lookback_minutes: float
    request_timeout: float


def read_source(cfg: SourceConfig, env: Mapping[str, str]) -> tuple[Access, Settings]:
    """Raises ConfigError listing every problem of the table."""
    opts = SourceOptions(cfg, env)
    mode = opts.choice("mode", MODES, "subreddit")
    subreddits = tuple(
        s.strip().removeprefix("r/").removeprefix("/r/") for s in opts.get("subreddits", tuple[str, ...], ())
    )
    terms = opts.get("terms", tuple[str, ...], ())
    query = opts.get("query", str, "")
    include_submissions = opts.get("include_submissions", bool, True)
    include_comments = opts.get("include_comments", bool, mode == "subreddit")
    include_mentions = opts.get("include_mentions", bool, True)
    include_replies = opts.get("include_replies", bool, True)
    oauth_url = opts.get("oauth_url", str, "https://oauth.reddit.com")
    reddit_url = opts.get("reddit_url", str, "https://www.reddit.com")
    user_agent = opts.get("user_agent", str, DEFAULT_USER_AGENT)
    timeout = opts.get("timeout_seconds", float, 16.0)
    page_size = opts.get("page_size", int, 100)
    max_pages = opts.get("max_pages", int, 5)
    min_remaining = opts.get("min_remaining", int, 10)
    parent_context = opts.get("parent_context", bool, True)
    author_karma = opts.get("author_karma", bool, True)
    lookback = opts.get("lookback_minutes", float, 10.0)
    brand_account = opts.get("brand_account", str, "")
    access = Access(
        client_id=opts.secret("client_id_env", "REDDIT_CLIENT_ID"),
        client_secret=opts.secret("client_secret_env", "REDDIT_CLIENT_SECRET"),
        user_agent=user_agent,
        oauth_url=oauth_url,
        reddit_url=reddit_url,
        refresh_token=opts.secret("refresh_token_env", "REDDIT_REFRESH_TOKEN", required=False),
        username=opts.secret("username_env", "REDDIT_USERNAME", required=False),
        password=opts.secret("password_env", "REDDIT_PASSWORD", required=False),
        timeout=timeout,
    )
    problems = _check_options(
        cfg,
        mode=mode,
        subreddits=subreddits,
        terms=terms,
        query=query,
        include_comments=include_comments,
        urls={"oauth_url": oauth_url, "reddit_url": reddit_url},
        logged_in=access.logged_in,
        password_missing=bool(access.username and not access.password and not access.refresh_token),
        user_agent=user_agent,
        limits={"page_size": (page_size, 1, 100), "max_pages": (max_pages, 1, 100),
                "min_remaining": (min_remaining, 0, 1000), "timeout_seconds": (timeout, 0.1, 300),
                "lookback_minutes": (lookback, 0, 24 * 60)},
    )  # fmt: skip
    opts.problems.extend(problems)
    opts.finish()  # one ConfigError listing every problem of the table
    streams = build_streams(
        mode=mode,
        subreddits=subreddits,
        terms=terms,
        query=query,
        include_submissions=include_submissions,
        include_comments=include_comments,
        include_mentions=include_mentions,
        include_replies=include_replies,
    )
    settings = Settings(
        streams=streams,
        brand_account=brand_account or access.username or None,
        can_reply=access.logged_in,
        page_size=page_size,
        max_pages=max_pages,
        min_remaining=min_remaining,
        backfill_hours=cfg.backfill_hours,
        parent_context=parent_context,
        author_karma=author_karma,
        lookback_minutes=lookback,
        request_timeout=timeout,
    )
    return access, settings


def _check_options(
    cfg: SourceConfig,
    *,
    mode: str,
    subreddits: tuple[str, ...],
    terms: tuple[str, ...],
    query: str,
    include_comments: bool,
    urls: Mapping[str, str],
    logged_in: bool,
    password_missing: bool,
    limits: Mapping[str, tuple[float, float, float]],
    user_agent: str,
) -> list[ConfigProblem]:
    """Problems no single key shows: options that do not fit the mode or each other."""
    where = f"sources.{cfg.name}"
    problems = []
    if len(user_agent.strip()) < 7:
        problems.append(
            ConfigProblem(
                cfg.file,
                f"{where}.user_agent",
                'too short; describe the app, like "python:lumo-care:1.0 (by /u/LumoSupport)"',
            )
        )
    for name, (number, low, high) in limits.items():
        if number is not None and not low <= number <= high:
            problems.append(ConfigProblem(cfg.file, f"{where}.{name}", f"must be between {low:g} and {high:g}"))
    if mode == "inbox" and not logged_in:
        problems.append(
            ConfigProblem(
                cfg.file,
                f"{where}.mode",
                "inbox mode reads the brand account's mentions and replies: export the account's "
                "username and password (username_env/password_env) or a refresh token (refresh_token_env)",
            )
        )
    if password_missing:
        problems.append(
            ConfigProblem(
                cfg.file,
                f"{where}.password_env",
                "the username is set but the password variable is empty; export both or neither",
            )
        )
    for key, value in urls.items():
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            problems.append(
                ConfigProblem(cfg.file, f"{where}.{key}", "must be an https:// URL (plain http only for 127.0.0.1)")
            )

    for sub in subreddits:
        if not SUBREDDIT_NAME.match(sub):
            problems.append(
                ConfigProblem(cfg.file, f"{where}.subreddits", f'{sub!r} is not a subreddit name like "LumoBank"')
            )
    if mode == "subreddit" and not subreddits:
        problems.append(
            ConfigProblem(cfg.file, f"{where}.subreddits", 'subreddit mode needs at least one, like ["LumoBank"]')
        )
    if mode == "search" and not (terms or query):
        problems.append(
            ConfigProblem(cfg.file, f"{where}.terms", 'search mode needs terms like ["Lumo", "Lumo Bank"] or a query')
        )
    if mode == "search" and include_comments and not subreddits:
        problems.append(
            ConfigProblem(
                cfg.file,
                f"{where}.include_comments",
                "Reddit search does not cover comments; list subreddits whose comments to scan for the terms",
            )
        )
    if mode == "search" and include_comments and not terms:
        problems.append(
            ConfigProblem(cfg.file, f"{where}.terms", "scanning comments needs terms to match, not only a query")
        )
    return problems
