"""The watcher's core: the types every layer shares. Imports nothing else of the project."""

from watcher.core.config import (
    ConfigError,
    ConfigProblem,
    SourceConfig,
    SourceOptions,
    build_dataclass,
    env_missing,
    read_toml,
    unknown_key,
)
from watcher.core.cursor import Cursor
from watcher.core.post import Author, Metrics, Post, PostKind, parse_timestamp, utc_now
from watcher.core.settings import BrandConfig, TriageConfig
from watcher.core.vocab import MARKET_LANGUAGES, OPEN_STATES, PRIORITIES, PRIORITY_RANK, Priority, QueueState

__all__ = [
    "MARKET_LANGUAGES",
    "OPEN_STATES",
    "PRIORITIES",
    "PRIORITY_RANK",
    "Author",
    "BrandConfig",
    "ConfigError",
    "ConfigProblem",
    "Cursor",
    "Metrics",
    "Post",
    "PostKind",
    "Priority",
    "QueueState",
    "SourceConfig",
    "SourceOptions",
    "TriageConfig",
    "build_dataclass",
    "env_missing",
    "parse_timestamp",
    "read_toml",
    "unknown_key",
    "utc_now",
]
