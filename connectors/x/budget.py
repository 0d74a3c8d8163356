"""X API request budget: what the configured polling will spend against what the tier allows.

X limits requests per endpoint in 15-minute (reads) or 24-hour (posting) windows,
per app for the bearer token and per user for user-context tokens. Every X source
spends one request per idle poll on its fetch endpoint, so the plan is simple
arithmetic over intervals; `watcher check` shows it so a day of polling never
runs into a 429. The numbers below are X's published limits when this was
written; the developer console is authoritative, and `rate_limits` in a source
overrides them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from watcher.core.config import ConfigProblem, SourceConfig

X_API_BASE_URL = "https://api.x.com"

DAY_SECONDS = 86_400
READ_WINDOW_SECONDS = 900
# what one native-reply check reads per source: the brand's timeline, up to 2 pages (a request each)
NATIVE_CHECK_ENDPOINT = "users_tweets"
NATIVE_CHECK_PAGES = 2


@dataclass(frozen=True)
class EndpointLimit:
    requests: int
    window_seconds: int

    @property
    def per_day(self) -> int:
        return self.requests * DAY_SECONDS // self.window_seconds


# endpoint key -> what it is on the wire, for messages
ENDPOINTS: dict[str, str] = {
    "users_mentions": "GET /2/users/:id/mentions",
    "search_recent": "GET /2/tweets/search/recent",
    "users_tweets": "GET /2/users/:id/tweets",
    "create_tweet": "POST /2/tweets",
}
MODE_ENDPOINT: dict[str, str] = {
    "mentions": "users_mentions",
    "search": "search_recent",
    "conversations": "search_recent",
}


def _limits(mentions: int, search: int, timeline: int, posts: tuple[int, int]) -> dict[str, EndpointLimit]:
    return {
        "users_mentions": EndpointLimit(mentions, READ_WINDOW_SECONDS),
        "search_recent": EndpointLimit(search, READ_WINDOW_SECONDS),
        "users_tweets": EndpointLimit(timeline, READ_WINDOW_SECONDS),
        "create_tweet": EndpointLimit(*posts),
    }


# reads with the app's bearer token (per app), posting with user context (per user)
TIERS: dict[str, dict[str, EndpointLimit]] = {
    "free": _limits(1, 1, 1, (17, DAY_SECONDS)),
    "basic": _limits(10, 60, 10, (100, DAY_SECONDS)),
    "pro": _limits(450, 450, 1500, (100, READ_WINDOW_SECONDS)),
    "pay_per_use": _limits(450, 450, 1500, (100, READ_WINDOW_SECONDS)),
}
DEFAULT_TIER = "basic"


@dataclass(frozen=True)
class BudgetLine:
    """One endpoint: the requests the configured sources plan against the allowance."""

    endpoint: str
    sources: tuple[str, ...]
    tier: str
    allowed_per_window: int
    window_seconds: int
    planned_per_window: int
    planned_per_day: int
    allowed_per_day: int
    min_interval_seconds: int
    # > 0: the line plans the Slack job's native-reply checks (run this often), not polling
    check_minutes: int = 0
    # native checks: sources of one app and brand account, whose items one timeline read checks
    shared: tuple[tuple[str, ...], ...] = ()
    # native checks: disabled sources, planned because their open items are still checked
    disabled: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.planned_per_window <= self.allowed_per_window

    def fix(self) -> str:
        """What to change when the line is over budget."""
        if not self.min_interval_seconds:
            return "no interval fits this tier; declare a higher tier or spread the sources over more apps"
        if self.check_minutes:
            return f"raise slack.native_reply_check_minutes to at least {self.min_interval_seconds // 60}"
        return f"raise interval_seconds to at least {self.min_interval_seconds}"

    def sharing(self) -> str:
        """Which sources' checks are one timeline read, and which are disabled ("" when none)."""
        notes = [f"{_and(group)} share one read (same app and user_id)" for group in self.shared]
        if self.disabled:
            notes.append(f"{_and(self.disabled)} disabled but still checked for open items")
        return "".join(f"; {note}" for note in notes)

    def describe(self) -> str:
        window = _window_text(self.window_seconds)
        if self.endpoint == "create_tweet":
            return f"x {ENDPOINTS[self.endpoint]} [{self.tier}]: replies sent on demand, {self.allowed_per_window} per {window}"
        spent = (
            f"{self.planned_per_window} of {self.allowed_per_window} requests per {window} "
            f"({self.planned_per_day}/day of {self.allowed_per_day}) by {', '.join(self.sources)}"
        )
        if self.check_minutes:
            spent += f" (native-reply checks every {self.check_minutes} min{self.sharing()})"
        verdict = "ok" if self.ok else f"OVER BUDGET: {self.fix()}"
        return f"x {ENDPOINTS[self.endpoint]} [{self.tier}]: {spent}; {verdict}"


def _and(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _window_text(seconds: int) -> str:
    return "24 h" if seconds == DAY_SECONDS else f"{seconds // 60} min"


def source_limits(cfg: SourceConfig, *, tier: str | None = None) -> tuple[str, dict[str, EndpointLimit]]:
    """The tier a source declares and its limits, with its `rate_limits` overrides
    (requests per window, keyed by endpoint). Unknown names raise ValueError."""
    name = tier or str(cfg.options.get("tier", DEFAULT_TIER))
    if name not in TIERS:
        raise ValueError(f"tier {name!r} is not one of {', '.join(TIERS)}")
    limits = dict(TIERS[name])
    overrides = cfg.options.get("rate_limits", {})
    if not isinstance(overrides, Mapping):
        raise ValueError("rate_limits must be a table like { search_recent = 60 }")
    for endpoint, value in overrides.items():
        if endpoint not in ENDPOINTS:
            raise ValueError(f"rate_limits.{endpoint} is not one of {', '.join(ENDPOINTS)}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"rate_limits.{endpoint} must be a positive whole number of requests per window")
        limits[endpoint] = EndpointLimit(value, limits[endpoint].window_seconds)
    return (f"{name}+overrides" if overrides else name), limits


def polls_per_window(interval_seconds: int, window_seconds: int) -> int:
    """Most polls one source can start inside any window of that length."""
    return max(1, math.ceil(window_seconds / max(1, interval_seconds)))


def shortest_interval(limit: EndpointLimit, per_run: int) -> int:
    """The shortest interval (seconds) at which runs spending `per_run` requests each
    stay within `limit` in any window (`polls_per_window` of it times per_run); 0 when
    even one run a window is too many: no interval fits (only a higher tier, or spreading
    the sources over more apps, helps)."""
    runs = limit.requests // max(1, per_run)
    return math.ceil(limit.window_seconds / runs) if runs else 0


def _rate(limit: EndpointLimit) -> float:
    """Requests a second: of several limits, the tightest has the lowest."""
    return limit.requests / limit.window_seconds


@dataclass(frozen=True)
class _Spender:
    """Sources that spend one endpoint of one app together: `per_run` requests every `every` seconds."""

    sources: tuple[SourceConfig, ...]
    tier: str
    limit: EndpointLimit
    every: int
    per_run: int


def plan_budget(
    sources: Iterable[SourceConfig], *, tier: str | None = None, native_check_minutes: int = 0
) -> list[BudgetLine]:
    """Per endpoint, the idle-poll requests of every enabled X source against the
    allowance of its tier (one request per poll; a backlog adds pages, which the
    connector stops taking when x-rate-limit-remaining reaches 0). `tier`
    overrides what the sources declare. X counts per app (bearer token), so sources
    on different apps (or hosts: `api_base_url`) are planned apart. With Slack's
    native-reply check on (every `native_check_minutes`), each brand account
    (user_id) of an app has its timeline read once a check, up to NATIVE_CHECK_PAGES
    requests, however many sources watch it; a disabled source counts there too,
    since its open items are still checked. Pure: reads only the configs."""
    by_endpoint: dict[tuple[str, str], list[_Spender]] = {}  # (app, endpoint) -> who spends it
    # (app, user_id) -> one native check per source of it, folded below into one read for them all
    scopes: dict[tuple[str, str], list[_Spender]] = {}
    tiers: list[tuple[str, dict[str, EndpointLimit]]] = []
    for cfg in sources:
        if cfg.kind != "x":
            continue
        try:
            tier_name, limits = source_limits(cfg, tier=tier)
        except ValueError:
            continue  # watcher check reports it (a problem if enabled, a warning if disabled); it never runs
        # an app's requests are counted per host, as the connector's rate windows are
        host, token_env = cfg.options.get("api_base_url", X_API_BASE_URL), cfg.options.get("bearer_token_env")
        app = f"{host}|{token_env or 'X_BEARER_TOKEN'}"
        if native_check_minutes and cfg.options.get("user_id"):
            check = _Spender(
                (cfg,), tier_name, limits[NATIVE_CHECK_ENDPOINT], native_check_minutes * 60, NATIVE_CHECK_PAGES
            )
            scopes.setdefault((app, str(cfg.options["user_id"])), []).append(check)
        if not cfg.enabled:
            continue
        tiers.append((tier_name, limits))
        endpoint = MODE_ENDPOINT.get(str(cfg.options.get("mode", "mentions")), "users_mentions")
        by_endpoint.setdefault((app, endpoint), []).append(
            _Spender((cfg,), tier_name, limits[endpoint], cfg.interval_seconds, 1)
        )
    for (app, _), per_source in scopes.items():
        shared = replace(
            per_source[0],
            sources=tuple(cfg for check in per_source for cfg in check.sources),
            limit=min((check.limit for check in per_source), key=_rate),
        )
        by_endpoint.setdefault((app, NATIVE_CHECK_ENDPOINT), []).append(shared)
    lines = []
    for (_, endpoint), users in by_endpoint.items():
        limit = min((u.limit for u in users), key=_rate)
        # the shortest equal interval for all of them that keeps every window within budget
        shortest = shortest_interval(limit, sum(u.per_run for u in users))
        checks = native_check_minutes if endpoint == NATIVE_CHECK_ENDPOINT else 0
        lines.append(
            BudgetLine(
                endpoint=endpoint,
                sources=tuple(cfg.name for u in users for cfg in u.sources),
                shared=tuple(tuple(cfg.name for cfg in u.sources) for u in users if len(u.sources) > 1),
                disabled=tuple(cfg.name for u in users for cfg in u.sources if not cfg.enabled),
                tier=users[0].tier,
                allowed_per_window=limit.requests,
                window_seconds=limit.window_seconds,
                planned_per_window=sum(u.per_run * polls_per_window(u.every, limit.window_seconds) for u in users),
                planned_per_day=sum(u.per_run * (DAY_SECONDS // u.every) for u in users),
                allowed_per_day=limit.per_day,
                min_interval_seconds=60 * math.ceil(shortest / 60) if checks else shortest,
                check_minutes=checks,
            )
        )
    if tiers:
        tier_name, limits = tiers[0]
        post = limits["create_tweet"]
        lines.append(
            BudgetLine(
                endpoint="create_tweet",
                sources=(),
                tier=tier_name,
                allowed_per_window=post.requests,
                window_seconds=post.window_seconds,
                planned_per_window=0,
                planned_per_day=0,
                allowed_per_day=post.per_day,
                min_interval_seconds=0,
            )
        )
    return sorted(lines, key=lambda line: list(ENDPOINTS).index(line.endpoint))


def budget_problems(
    sources: Iterable[SourceConfig], *, tier: str | None = None, native_check_minutes: int = 0
) -> list[ConfigProblem]:
    """Over-budget endpoints as config problems naming the sources to slow down."""
    sources = list(sources)
    files = {cfg.name: cfg.file for cfg in sources}
    problems = []
    for line in plan_budget(sources, tier=tier, native_check_minutes=native_check_minutes):
        if line.ok:
            continue
        spent = (
            f"{line.planned_per_window} requests per {_window_text(line.window_seconds)} to "
            f"{ENDPOINTS[line.endpoint]} but tier {line.tier} allows {line.allowed_per_window}"
        )
        if line.check_minutes:
            where = "slack.native_reply_check_minutes"
            spent += f" by the native-reply checks for {', '.join(line.sources)}{line.sharing()}"
        else:
            where = ", ".join(f"sources.{name}.interval_seconds" for name in line.sources)
        problems.append(ConfigProblem(files[line.sources[0]], where, f"{spent}; {line.fix()}"))
    return problems
