"""How every `watcher` command reports the errors we expect: one line per problem on
stderr, naming file/key (or database, or source), and an exit code a script can test
(2 for configuration and database problems, 1 for a failing source). Shared by the core
commands and the feature command groups (rules, train, digest, slack), so they all
behave the same way."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from rich.console import Console

from connectors.base import ConnectorError
from watcher.core.config import ConfigError, ConfigProblem

if TYPE_CHECKING:  # imported where used: `watcher --help` loads neither the config loader nor SQLite
    from watcher.config import Config
    from watcher.store import Store

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CONFIG = 2
EXIT_SOURCE = 1

err = Console(stderr=True)


def report_problems(problems: Sequence[ConfigProblem], *, kind: str = "config error", hint: str = "") -> NoReturn:
    """Print each problem (file, key, reason) and exit with EXIT_CONFIG."""
    for problem in problems:
        err.print(f"[red]{kind}:[/red] {problem}", highlight=False, soft_wrap=True)
    if hint:
        err.print(hint, highlight=False, soft_wrap=True)
    raise SystemExit(EXIT_CONFIG)


def fail(kind: str, message: str, *, code: int = EXIT_CONFIG) -> NoReturn:
    """One error line, e.g. `database error: <path>: ...`, then exit with `code`."""
    err.print(f"[red]{kind}:[/red] {message}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


def friendly_errors(func: F) -> F:
    """Turn the errors we expect into a clear message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            report_problems(exc.problems)
        except ConnectorError as exc:
            fail("source error", str(exc), code=EXIT_SOURCE)
        except Exception as exc:
            # a StoreError can only come from a command that has imported the store already
            from watcher.store import StoreError

            if isinstance(exc, StoreError):
                fail("database error", str(exc))
            raise

    return wrapper  # type: ignore[return-value]


def load_config_or_exit(path: str | Path, *, hint: str = "") -> Config:
    """The config at `path`, or every problem in it reported and exit code 2."""
    from watcher.config import load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        report_problems(exc.problems, hint=hint)


def open_store_or_exit(path: Path) -> Store:
    """The database at `path` (migrated to the current schema), or a clear error and exit code 2."""
    from watcher.store import Store, StoreError

    try:
        return Store(path)
    except StoreError as exc:
        fail("database error", str(exc))
