"""The keys a Facebook or Instagram source shares, and the one place a real client is built."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from connectors.meta.client import GRAPH_URL, GRAPH_VERSION, GraphClient
from watcher.core.config import ConfigProblem, SourceOptions, shown_env_name


@dataclass(frozen=True)
class MetaOptions:
    """The keys both connectors read, validated."""

    graph_url: str
    api_version: str
    token: str
    token_hint: str
    app_token: str
    window_days: int
    posts_limit: int
    max_pages: int
    timeout: float
    slow_down_percent: float


def read_options(opts: SourceOptions, *, token_env: str) -> MetaOptions:
    """Read the shared keys; range problems go into `opts.problems`."""
    cfg = opts.cfg
    values = MetaOptions(
        graph_url=opts.get("graph_url", str, GRAPH_URL).rstrip("/"),
        api_version=opts.get("api_version", str, GRAPH_VERSION),
        token=opts.secret("token_env", token_env),
        token_hint=shown_env_name(str(cfg.options.get("token_env") or token_env), f"sources.{cfg.name}.token_env"),
        app_token=opts.secret("app_token_env", "META_APP_TOKEN", required=False),
        window_days=opts.get("window_days", int, 14),
        posts_limit=opts.get("posts_limit", int, 25),
        max_pages=opts.get("max_pages", int, 5),
        timeout=opts.get("timeout_seconds", float, 20.0),
        slow_down_percent=opts.get("slow_down_percent", float, 90.0),
    )
    where = f"sources.{cfg.name}"
    limits = {
        "window_days": (values.window_days, 1, 90),
        "posts_limit": (values.posts_limit, 1, 100),
        "max_pages": (values.max_pages, 1, 50),
        "timeout_seconds": (values.timeout, 0.1, 300),
        "slow_down_percent": (values.slow_down_percent, 10, 100),
    }
    for key, (number, low, high) in limits.items():
        if number is not None and not low <= number <= high:
            opts.problems.append(ConfigProblem(cfg.file, f"{where}.{key}", f"must be between {low:g} and {high:g}"))
    if not values.graph_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        opts.problems.append(
            ConfigProblem(cfg.file, f"{where}.graph_url", "must be an https:// URL (plain http only for 127.0.0.1)")
        )
    if not values.api_version.startswith("v"):
        opts.problems.append(ConfigProblem(cfg.file, f"{where}.api_version", 'must look like "v23.0"'))
    return values


def graph_client(values: MetaOptions, *, platform: str, source: str) -> GraphClient:
    """The only place a real HTTP client is built (tests point graph_url at a fake)."""
    http = httpx.Client(base_url=values.graph_url, timeout=values.timeout, follow_redirects=False)
    return GraphClient(
        http,
        token=values.token,
        version=values.api_version,
        platform=platform,
        token_hint=values.token_hint,
        source=source,
        slow_down_at=values.slow_down_percent,
    )
