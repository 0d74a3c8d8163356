"""An X source table read and checked: every problem named with its key, secrets only
from the environment variables the table names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connectors.x.budget import X_API_BASE_URL, source_limits
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions, shown_env_name

MODES = ("mentions", "search", "conversations")


@dataclass(frozen=True)
class Access:
    """What `build_client` needs: where X is, how long to wait, and the credentials."""

    bearer_token: str
    api_base_url: str
    timeout: float
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


@dataclass(frozen=True)
class Settings:
    """The connector's own options (its keyword arguments besides the client and source)."""

    mode: str
    user_id: str
    username: str
    query: str
    exclude_retweets: bool
    exclude_own: bool
    max_results: int
    max_pages: int
    backfill_hours: int
    conversation_days: int
    max_query_length: int
    credentials_hint: str
    reply_credentials_hint: str


def read_source(cfg: SourceConfig, env: Mapping[str, str]) -> tuple[Access, Settings]:
    """Raises ConfigError listing every problem of the table."""
    opts = SourceOptions(cfg, env)
    mode = opts.choice("mode", MODES, "mentions")
    user_id = opts.get("user_id", str, "")
    username = opts.get("username", str, "").lstrip("@")
    query = opts.get("query", str, "")
    api_base_url = opts.get("api_base_url", str, X_API_BASE_URL)
    bearer = opts.secret("bearer_token_env", "X_BEARER_TOKEN")
    reply_keys = ("consumer_key_env", "consumer_secret_env", "access_token_env", "access_token_secret_env")
    defaults = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
    reply_values = [opts.secret(k, d, required=False) for k, d in zip(reply_keys, defaults, strict=True)]
    # as messages may show them: a secret pasted into a *_env key is never repeated
    reply_vars = [shown_env_name(str(cfg.options.get(k, d)), k) for k, d in zip(reply_keys, defaults, strict=True)]
    exclude_retweets = opts.get("exclude_retweets", bool, True)
    exclude_own = opts.get("exclude_own", bool, True)
    max_results = opts.get("max_results", int, 100)
    max_pages = opts.get("max_pages", int, 5)
    conversation_days = opts.get("conversation_days", int, 3)
    max_query_length = opts.get("max_query_length", int, 512)
    timeout = opts.get("timeout_seconds", float, 20.0)
    opts.get("tier", str, "basic")
    opts.get("rate_limits", dict, {})
    problems = opts.problems

    def problem(key: str, reason: str) -> None:
        problems.append(ConfigProblem(cfg.file, f"sources.{cfg.name}.{key}", reason))

    if mode in ("mentions", "conversations") and not user_id:
        problem("user_id", f"required for mode {mode!r}: the brand account's numeric X user id")
    if user_id and not user_id.isdigit():
        problem("user_id", f"{user_id!r} is not a numeric X user id (the username goes in username)")
    if mode == "search" and not query.strip():
        problem("query", 'required for mode "search": an X search query like "acme OR @acme"')
    if not 10 <= max_results <= 100:
        problem("max_results", "must be between 10 and 100")
    if not 1 <= conversation_days <= 7:
        problem("conversation_days", "must be between 1 and 7 (recent search covers 7 days)")
    if not 1 <= max_pages <= 100:
        problem("max_pages", "must be between 1 and 100")
    if not 0.1 <= timeout <= 300:
        problem("timeout_seconds", "must be between 0.1 and 300 (seconds to wait for X's answer)")
    if max_query_length < 256:
        problem("max_query_length", "must be at least 256 (X's smallest query limit is 512)")
    if not api_base_url.startswith(("https://", "http://")):
        problem("api_base_url", f"{api_base_url!r} is not an http(s) URL like {X_API_BASE_URL}")
    if any(reply_values) and not all(reply_values):
        missing = [var for var, value in zip(reply_vars, reply_values, strict=True) if not value]
        problem("access_token_env", f"replies need all four user-context variables; not set: {', '.join(missing)}")
    if all(reply_values) and not user_id:
        problem("user_id", "required to reply: it is how a retry finds a reply already posted")
    try:
        source_limits(cfg)
    except ValueError as exc:
        problem("rate_limits" if str(exc).startswith("rate_limits") else "tier", str(exc))
    opts.finish()  # raises ConfigError with every problem above
    bearer_var = shown_env_name(str(cfg.options.get("bearer_token_env", "X_BEARER_TOKEN")), "bearer_token_env")
    access = Access(bearer, api_base_url, timeout, *reply_values)
    settings = Settings(
        mode=mode,
        user_id=user_id,
        username=username,
        query=query,
        exclude_retweets=exclude_retweets,
        exclude_own=exclude_own,
        max_results=max_results,
        max_pages=max_pages,
        backfill_hours=cfg.backfill_hours,
        conversation_days=conversation_days,
        max_query_length=max_query_length,
        credentials_hint=f"environment variable {bearer_var} (bearer_token_env)",
        reply_credentials_hint="environment variables " + ", ".join(reply_vars),
    )
    return access, settings
