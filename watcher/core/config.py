"""Generic TOML -> frozen dataclass validation, with one clear message per problem.

A section is a dataclass: its fields are the allowed keys, their types the allowed
values and their defaults the defaults. `build_dataclass` checks a table against
one and collects every problem (file, key, what is wrong, what to do), so a user
fixes a file in one go. Secrets never live in a file: a key ending in `_env` names
an environment variable, and a key that looks like a secret itself is refused.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

SECRET_WORDS = ("token", "secret", "password", "passwd", "api_key", "apikey", "private_key")

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}" if self.key else f"{self.file}: {self.reason}"


class ConfigError(Exception):
    """One or more problems in a config file; `str()` lists one per line."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class SourceConfig:
    """One `[sources.NAME]` table. `options` holds the connector's own keys; the
    connector validates them in `from_config` through `SourceOptions`."""

    name: str
    kind: str
    file: str = "config.toml"
    enabled: bool = True
    interval_seconds: int = 300
    jitter_seconds: int = 30
    backfill_hours: int = 24
    options: Mapping[str, Any] = field(default_factory=dict)


def read_toml(path: str | Path, *, missing: str) -> dict[str, Any]:
    """A TOML file as a dict, or a ConfigError naming the file and what to do
    (`missing` says what to do when it does not exist)."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(file, "", missing)]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(file, "", f"cannot read: {exc.strerror}")]) from None
    # a byte order mark (Notepad's "UTF-8 with BOM") is skipped rather than read as bad TOML
    skip = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = skip + exc.start  # counted in the file as saved, BOM included
        line = data.count(b"\n", 0, at) + 1
        raise ConfigError(
            [ConfigProblem(file, "", f"not UTF-8 (byte {at + 1}, line {line}); save it as UTF-8")]
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(file, "", f"not valid TOML: {exc}")]) from None


# what a `*_env` key may hold: a variable's name, as shells write them (a token pasted there is not one)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# names are shown in messages only in the usual capitals; any other could be a pasted secret that happens to fit
_SHOWN_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


def shown_env_name(var: str, key: str) -> str:
    """A `*_env` value fit to print: the variable's name when it is one in capitals, else a
    neutral wording (a secret pasted into the key can look like a name)."""
    return var if _SHOWN_ENV_NAME.match(var) else f"the variable named by {key}"


def env_missing(var: str, what_to_do: str) -> str:
    """The message for a `*_env` key whose variable is not set. A name not in capitals is not
    repeated: a secret pasted into the key can look like a name (letters and digits only)."""
    if _SHOWN_ENV_NAME.match(var):
        return f"environment variable {var} is not set; {what_to_do}"
    return (
        f"the environment variable this key names is not set; {what_to_do} (if you pasted a secret here "
        "instead of a variable's name, remove it from the file and revoke it)"
    )


def refuse_secrets(table: Mapping[str, Any], file: str, where: str, problems: list[ConfigProblem]) -> None:
    """A secret written in the file, under its own key or pasted into a `*_env` key,
    is refused without its value appearing in the message."""
    for key, value in table.items():
        lowered = key.lower()
        if lowered.endswith("_env") and isinstance(value, str) and value and not ENV_NAME.match(value):
            problems.append(
                ConfigProblem(
                    file,
                    f"{where}.{key}",
                    "must name an environment variable (letters, digits and _, like X_BEARER_TOKEN); "
                    "if you pasted the secret itself, remove it from the file and revoke it, as anyone who read "
                    "the file may have it",
                )
            )
        if not lowered.endswith("_env") and any(word in lowered for word in SECRET_WORDS):
            problems.append(
                ConfigProblem(
                    file,
                    f"{where}.{key}",
                    f"secrets must not be written in the config file; remove it, export the secret "
                    f"in an environment variable and name that variable in {key}_env",
                )
            )


def unknown_key(key: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return f"unknown {what} {key!r}{hint}"


def build_dataclass(
    cls: type[T], table: Mapping[str, Any], *, file: str, where: str, problems: list[ConfigProblem]
) -> T | None:
    """Validate `table` against the fields of dataclass `cls`; append problems and
    return None when anything is wrong."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    start = len(problems)
    refuse_secrets(table, file, where, problems)
    for key in table:
        if key not in names:
            problems.append(ConfigProblem(file, f"{where}.{key}", unknown_key(key, names, "key")))
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in table:
            if f.default is MISSING and f.default_factory is MISSING:
                problems.append(ConfigProblem(file, f"{where}.{f.name}", "missing; this key is required"))
            continue
        try:
            values[f.name] = coerce(table[f.name], hints[f.name])
        except TypeError as exc:
            problems.append(ConfigProblem(file, f"{where}.{f.name}", str(exc)))
    if len(problems) > start:
        return None
    return cls(**values)


def coerce(value: Any, hint: Any) -> Any:
    """Check a TOML value against a type hint; lists become tuples (frozen)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return coerce(value, option)
            except TypeError:
                continue
        raise TypeError(f"expected {_describe(hint)}, got {_show(value)}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(f"expected true or false, got {_show(value)}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError(f"expected a whole number, got {_show(value)}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise TypeError(f"expected a number, got {_show(value)}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"expected a string in quotes, got {_show(value)}")
    if origin is tuple:
        item_type = typing.get_args(hint)[0]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise TypeError(f'expected a list like ["a", "b"], got {_show(value)}')
        return tuple(coerce(item, item_type) for item in value)
    if origin in (Mapping, dict) or hint is dict:
        args = typing.get_args(hint)
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a table like {{ key = value }}, got {_show(value)}")
        if not args:
            return dict(value)
        return {str(k): coerce(v, args[1]) for k, v in value.items()}
    raise TypeError(f"unsupported type {hint!r}")


def _describe(hint: Any) -> str:
    return " or ".join(getattr(a, "__name__", str(a)) for a in typing.get_args(hint))


def _show(value: Any) -> str:
    kind = type(value).__name__
    text = repr(value)
    return f"{text[:40]} ({kind})"


class SourceOptions:
    """Typed reads of a source's connector-specific keys that collect problems with
    file and key, for connectors' `from_config`. Call `finish()` at the end: it
    reports unknown keys and raises ConfigError if anything was wrong."""

    def __init__(self, cfg: SourceConfig, env: Mapping[str, str]) -> None:
        self.cfg = cfg
        self.env = env
        self.problems: list[ConfigProblem] = []
        self._read: set[str] = set()

    def _where(self, key: str) -> str:
        return f"sources.{self.cfg.name}.{key}"

    def get(self, key: str, hint: Any, default: Any = MISSING) -> Any:
        self._read.add(key)
        if key not in self.cfg.options:
            if default is MISSING:
                self.problems.append(ConfigProblem(self.cfg.file, self._where(key), "missing; this key is required"))
                return None
            return default
        try:
            return coerce(self.cfg.options[key], hint)
        except TypeError as exc:
            self.problems.append(ConfigProblem(self.cfg.file, self._where(key), str(exc)))
            return default if default is not MISSING else None

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in choices:
            self.problems.append(
                ConfigProblem(self.cfg.file, self._where(key), f"{value!r} is not one of {', '.join(choices)}")
            )
            return default
        return str(value)

    def secret(self, key: str, default_env: str, *, required: bool = True) -> str:
        """Read the environment variable named by `key` (e.g. bearer_token_env)."""
        var = self.get(key, str, default_env)
        value = self.env.get(var, "") if var else ""
        if required and not value:
            self.problems.append(
                ConfigProblem(
                    self.cfg.file,
                    self._where(key),
                    env_missing(var, "export it before starting the watcher"),
                )
            )
        return value

    def finish(self) -> None:
        for key in self.cfg.options:
            if key not in self._read:
                self.problems.append(
                    ConfigProblem(self.cfg.file, self._where(key), unknown_key(key, sorted(self._read), "key"))
                )
        if self.problems:
            raise ConfigError(self.problems)
