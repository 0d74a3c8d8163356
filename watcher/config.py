"""TOML configuration -> frozen dataclasses, with one clear message per problem.

Every section is a dataclass; its fields are the allowed keys, their types the
allowed values and their defaults the defaults. `load_config` walks the TOML
against them and collects every problem (file, key, what is wrong, what to do)
before raising one `ConfigError`, so a user fixes a file in one go.

Secrets never live in the file: a key ending in `_env` names an environment
variable, and a key that looks like a secret itself is refused.
"""

from __future__ import annotations

import difflib
import re
import string
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SECRET_WORDS = ("token", "secret", "password", "passwd", "api_key", "apikey", "private_key")


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
class BrandConfig:
    name: str
    aliases: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    # platform -> the brand's own account ids or usernames on it
    own_accounts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    staff_accounts: tuple[str, ...] = ()
    vip_accounts: tuple[str, ...] = ()
    competitors: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("en",)
    timezone: str = "UTC"


@dataclass(frozen=True)
class StorageConfig:
    path: str = "watcher.db"


@dataclass(frozen=True)
class PipelineConfig:
    drop_own_posts: bool = True
    drop_reposts: bool = True
    dedupe_window_hours: int = 24
    max_pages_per_poll: int = 10


@dataclass(frozen=True)
class TriageConfig:
    urgent_score: int = 80
    high_score: int = 60
    normal_score: int = 35
    reply_threshold: int = 40
    repeat_window_days: int = 5
    language_confidence_floor: float = 0.5
    rules_file: str = ""
    model_path: str = ""


PRIORITIES = ("urgent", "high", "normal", "low")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SLA_MINUTES = {"urgent": 15, "high": 60, "normal": 240, "low": 1440}
TEMPLATE_PLACEHOLDERS = ("handle", "name", "brand", "platform", "agent")


@dataclass(frozen=True)
class SlackConfig:
    enabled: bool = False
    mode: str = "socket"
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    api_base_url: str = "https://slack.com/api/"
    channel: str = ""
    escalation_channel: str = ""
    escalation_group: str = ""
    moderators: tuple[str, ...] = ()
    # who may approve a draft (member or user-group ids); empty means every moderator
    approvers: tuple[str, ...] = ()
    # priorities whose drafts wait for an approver before they are sent
    approval_required: tuple[str, ...] = ("urgent", "high")
    # the drafter may not approve their own draft
    four_eyes: bool = False
    # minutes to first claim, per priority, counted in business hours
    sla_minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))
    # priorities whose SLA clock runs outside business hours too
    sla_around_the_clock: tuple[str, ...] = ("urgent",)
    business_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    business_hours: str = "09:00-18:00"
    # user group mentioned in SLA reminders; empty falls back to escalation_group
    reminder_group: str = ""
    # cards per channel per hour before the rest are folded into one overflow summary (urgent never is)
    hourly_cap: int = 30
    messages_per_second: float = 1.0
    # reply templates: intent -> language -> list of texts with {handle} {name} {brand} {platform} {agent}
    templates: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # how often open items are checked for a reply the brand made natively on the platform (0 = never)
    native_reply_check_minutes: int = 10
    http_host: str = "0.0.0.0"
    http_port: int = 3000
    http_path: str = "/slack/events"


@dataclass(frozen=True)
class SchedulerConfig:
    max_backoff_seconds: int = 3600
    outbox_interval_seconds: int = 5


@dataclass(frozen=True)
class DigestScheduleConfig:
    """One `[digest.schedules.NAME]` table: post a digest to `channel` every day, or
    every week on `weekday`, at `at` (HH:MM) in brand.timezone."""

    name: str
    channel: str
    period: str = "day"
    at: str = "09:00"
    weekday: str = "mon"
    enabled: bool = True


@dataclass(frozen=True)
class DigestConfig:
    # first-response targets in minutes per priority; unset ones keep the defaults
    # (urgent 15, high 60, normal 240, low 1440)
    sla_minutes: Mapping[str, int] = field(default_factory=dict)
    channel: str = ""
    top_posts: int = 10
    theme_sample: int = 2000
    spike_alerts: bool = True
    spike_channel: str = ""
    spike_min_posts: int = 20
    spike_threshold: float = 4.0
    spike_volume_ratio: float = 2.0
    spike_min_share_rise: float = 0.15
    schedules: tuple[DigestScheduleConfig, ...] = ()


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


@dataclass(frozen=True)
class Config:
    file: str
    brand: BrandConfig
    storage: StorageConfig = field(default_factory=StorageConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    triage: TriageConfig = field(default_factory=TriageConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    sources: tuple[SourceConfig, ...] = ()
    digest: DigestConfig = field(default_factory=DigestConfig)

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.brand.timezone)

    def source(self, name: str) -> SourceConfig:
        for src in self.sources:
            if src.name == name:
                return src
        raise KeyError(name)

    def resolve_path(self, value: str) -> Path:
        """Paths in the file are relative to the file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else Path(self.file).parent / path


SECTIONS: dict[str, type] = {
    "brand": BrandConfig,
    "storage": StorageConfig,
    "pipeline": PipelineConfig,
    "triage": TriageConfig,
    "slack": SlackConfig,
    "scheduler": SchedulerConfig,
    "digest": DigestConfig,
}
SOURCE_COMMON_KEYS = ("kind", "enabled", "interval_seconds", "jitter_seconds", "backfill_hours")

T = TypeVar("T")


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


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    data = read_toml(path, missing="file not found; copy config.example.toml and edit it")
    return parse_config(data, file=str(path))


def parse_config(data: Mapping[str, Any], *, file: str = "config.toml") -> Config:
    problems: list[ConfigProblem] = []
    known = [*SECTIONS, "sources"]
    for key in data:
        if key not in known:
            problems.append(ConfigProblem(file, key, _unknown(key, known, "section")))
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        table = data.get(name, {})
        if name == "brand" and "brand" not in data:
            problems.append(ConfigProblem(file, "brand", 'missing section; add [brand] with name = "..."'))
            continue
        if not isinstance(table, Mapping):
            problems.append(ConfigProblem(file, name, "must be a table like [" + name + "]"))
            continue
        if name == "digest":
            built = _parse_digest(table, file, problems)
        else:
            built = build_dataclass(cls, table, file=file, where=name, problems=problems)
        if built is not None:
            sections[name] = built
    sources = _parse_sources(data.get("sources", {}), file, problems)
    if "brand" in sections:
        _check_brand(sections["brand"], file, problems)
    if "triage" in sections:
        _check_triage(sections["triage"], file, problems)
    if "slack" in sections and sections["slack"].mode not in ("socket", "http"):
        problems.append(ConfigProblem(file, "slack.mode", 'must be "socket" or "http"'))
    if "slack" in sections:
        _check_slack(sections["slack"], file, problems)
    if problems:
        raise ConfigError(problems)
    return Config(file=file, sources=sources, **sections)


def _parse_sources(table: Any, file: str, problems: list[ConfigProblem]) -> tuple[SourceConfig, ...]:
    if not isinstance(table, Mapping):
        problems.append(ConfigProblem(file, "sources", "must be tables like [sources.my_source]"))
        return ()
    from connectors.base import CONNECTOR_MODULES

    result = []
    for name, src in table.items():
        where = f"sources.{name}"
        if not isinstance(src, Mapping):
            problems.append(ConfigProblem(file, where, 'must be a table with at least kind = "..."'))
            continue
        kind = src.get("kind")
        if kind is None:
            problems.append(ConfigProblem(file, f"{where}.kind", f"missing; one of {sorted(CONNECTOR_MODULES)}"))
            continue
        if kind not in CONNECTOR_MODULES:
            problems.append(
                ConfigProblem(file, f"{where}.kind", _unknown(str(kind), list(CONNECTOR_MODULES), "connector kind"))
            )
            continue
        common = {k: v for k, v in src.items() if k in SOURCE_COMMON_KEYS}
        options = {k: v for k, v in src.items() if k not in SOURCE_COMMON_KEYS}
        _refuse_secrets(options, file, where, problems)
        built = build_dataclass(
            SourceConfig,
            {**common, "name": name, "file": file, "options": options},
            file=file,
            where=where,
            problems=problems,
        )
        if built is None:
            continue
        for key in ("interval_seconds", "jitter_seconds", "backfill_hours"):
            if getattr(built, key) < 0 or (key == "interval_seconds" and built.interval_seconds < 1):
                problems.append(ConfigProblem(file, f"{where}.{key}", "must be a positive number"))
        result.append(built)
    return tuple(result)


def _parse_digest(table: Mapping[str, Any], file: str, problems: list[ConfigProblem]) -> DigestConfig | None:
    """[digest] and its [digest.schedules.NAME] tables."""
    start = len(problems)
    raw_schedules = table.get("schedules", {})
    schedules = []
    if not isinstance(raw_schedules, Mapping):
        problems.append(ConfigProblem(file, "digest.schedules", "must be tables like [digest.schedules.daily]"))
        raw_schedules = {}
    for name, entry in raw_schedules.items():
        where = f"digest.schedules.{name}"
        if not isinstance(entry, Mapping):
            problems.append(ConfigProblem(file, where, 'must be a table with at least channel = "..."'))
            continue
        built = build_dataclass(
            DigestScheduleConfig, {**entry, "name": name}, file=file, where=where, problems=problems
        )
        if built is None:
            continue
        if built.period not in ("day", "week"):
            problems.append(ConfigProblem(file, f"{where}.period", f'{built.period!r} is not "day" or "week"'))
        if built.weekday not in WEEKDAYS:
            problems.append(
                ConfigProblem(file, f"{where}.weekday", f"{built.weekday!r} is not one of {', '.join(WEEKDAYS)}")
            )
        hour, _, minute = built.at.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60 and len(minute) == 2):
            problems.append(ConfigProblem(file, f"{where}.at", f'{built.at!r} is not a time like "09:00"'))
        if not built.channel:
            problems.append(ConfigProblem(file, f"{where}.channel", 'empty; name the Slack channel, like "#care"'))
        schedules.append(built)
    rest = {k: v for k, v in table.items() if k != "schedules"}
    digest = build_dataclass(DigestConfig, rest, file=file, where="digest", problems=problems)
    if digest is not None:
        for priority, minutes in digest.sla_minutes.items():
            if priority not in PRIORITIES:
                problems.append(
                    ConfigProblem(
                        file, f"digest.sla_minutes.{priority}", f"unknown priority; use {', '.join(PRIORITIES)}"
                    )
                )
            elif minutes <= 0:
                problems.append(
                    ConfigProblem(file, f"digest.sla_minutes.{priority}", "must be a positive number of minutes")
                )
        for key in ("top_posts", "theme_sample", "spike_min_posts"):
            if getattr(digest, key) < 1:
                problems.append(ConfigProblem(file, f"digest.{key}", "must be at least 1"))
        if digest.spike_threshold <= 0 or digest.spike_volume_ratio <= 1:
            problems.append(
                ConfigProblem(file, "digest", "spike_threshold must be above 0 and spike_volume_ratio above 1")
            )
        if not 0 < digest.spike_min_share_rise < 1:
            problems.append(ConfigProblem(file, "digest.spike_min_share_rise", "must be between 0 and 1, like 0.15"))
    if len(problems) > start or digest is None:
        return None
    return replace(digest, schedules=tuple(schedules))


def _check_brand(brand: BrandConfig, file: str, problems: list[ConfigProblem]) -> None:
    try:
        ZoneInfo(brand.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            ConfigProblem(
                file, "brand.timezone", f'unknown time zone {brand.timezone!r}; use an IANA name like "Europe/Rome"'
            )
        )
    for lang in brand.languages:
        if len(lang) != 2 or not lang.isalpha() or not lang.islower():
            problems.append(
                ConfigProblem(file, "brand.languages", f'{lang!r} is not a two-letter ISO 639-1 code like "en"')
            )


def _check_triage(triage: TriageConfig, file: str, problems: list[ConfigProblem]) -> None:
    order = [
        ("normal_score", triage.normal_score),
        ("high_score", triage.high_score),
        ("urgent_score", triage.urgent_score),
    ]
    for key, value in order:
        if not 0 <= value <= 100:
            problems.append(ConfigProblem(file, f"triage.{key}", "must be between 0 and 100"))
    if not triage.normal_score < triage.high_score < triage.urgent_score:
        problems.append(ConfigProblem(file, "triage", "scores must rise: normal_score < high_score < urgent_score"))


# what a `*_env` key may hold: a variable's name, as shells write them (a token pasted there is not one)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# names are shown in messages only in the usual capitals; any other could be a pasted secret that happens to fit
_SHOWN_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


def env_missing(var: str, what_to_do: str) -> str:
    """The message for a `*_env` key whose variable is not set. A name not in capitals is not
    repeated: a secret pasted into the key can look like a name (letters and digits only)."""
    if _SHOWN_ENV_NAME.match(var):
        return f"environment variable {var} is not set; {what_to_do}"
    return (
        f"the environment variable this key names is not set; {what_to_do} (if you pasted a secret here "
        "instead of a variable's name, remove it from the file and revoke it)"
    )


def _refuse_secrets(table: Mapping[str, Any], file: str, where: str, problems: list[ConfigProblem]) -> None:
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


def _unknown(key: str, known: list[str], what: str) -> str:
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
    _refuse_secrets(table, file, where, problems)
    for key in table:
        if key not in names:
            problems.append(ConfigProblem(file, f"{where}.{key}", _unknown(key, names, "key")))
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
                    ConfigProblem(self.cfg.file, self._where(key), _unknown(key, sorted(self._read), "key"))
                )
        if self.problems:
            raise ConfigError(self.problems)


def slack_env_problems(cfg: Config, env: Mapping[str, str]) -> list[ConfigProblem]:
    """Missing Slack secrets, when Slack is on."""
    if not cfg.slack.enabled:
        return []
    needed = ["bot_token_env", "app_token_env" if cfg.slack.mode == "socket" else "signing_secret_env"]
    problems = []
    for key in needed:
        var = getattr(cfg.slack, key)
        if not env.get(var):
            problems.append(
                ConfigProblem(
                    cfg.file,
                    f"slack.{key}",
                    env_missing(var, "export it or set slack.enabled = false"),
                )
            )
    return problems


# --- slack ---

_SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^([CGD][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79})$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _check_slack(slack: SlackConfig, file: str, problems: list[ConfigProblem]) -> None:
    """Slack keys whose shape the dataclass types cannot express."""

    def bad(key: str, reason: str) -> None:
        problems.append(ConfigProblem(file, f"slack.{key}", reason))

    if slack.enabled and not slack.channel:
        bad("channel", "missing: the channel (id or #name) where cards are posted")
    member_hint = "use member ids (U...) or user-group ids (S...): in Slack, Profile > More > Copy member ID"
    for key in ("moderators", "approvers"):
        for who in getattr(slack, key):
            if not _SLACK_ID.match(who):
                bad(key, f"{who!r} is not a member or user-group id; {member_hint}")
    for key in ("escalation_group", "reminder_group"):
        value = getattr(slack, key)
        if value and not value.startswith("S"):
            bad(key, f"{value!r} is not a user-group id (S...); Slack admin > User groups > Copy group ID")
    for key in ("channel", "escalation_channel"):
        value = getattr(slack, key)
        if value and not _CHANNEL.match(value):
            bad(
                key, f"{value!r} is neither a channel id like C0123ABCD (channel details > About) nor a name like #care"
            )
    if not slack.api_base_url.startswith(("https://", "http://")) or not slack.api_base_url.endswith("/"):
        bad("api_base_url", 'must be a URL ending in "/", like "https://slack.com/api/"')
    for key in ("approval_required", "sla_around_the_clock"):
        for priority in getattr(slack, key):
            if priority not in PRIORITIES:
                bad(key, f"{priority!r} is not a priority; use {', '.join(PRIORITIES)}")
    for priority, minutes in slack.sla_minutes.items():
        if priority not in PRIORITIES:
            bad(f"sla_minutes.{priority}", f"not a priority; use {', '.join(PRIORITIES)}")
        elif minutes < 1:
            bad(f"sla_minutes.{priority}", "must be at least 1 minute")
    for day in slack.business_days:
        if day not in WEEKDAYS:
            bad("business_days", f"{day!r} is not a day; use {', '.join(WEEKDAYS)}")
    match = _HOURS.match(slack.business_hours)
    if not match or (int(match[1]), int(match[2])) >= (int(match[3]), int(match[4])):
        bad("business_hours", f'{slack.business_hours!r} is not a range like "09:00-18:00" (start before end)')
    if slack.native_reply_check_minutes < 0:
        bad("native_reply_check_minutes", "must be 0 (off) or more minutes")
    if slack.hourly_cap < 1:
        bad("hourly_cap", "must be at least 1")
    if not 0 < slack.messages_per_second <= 5:
        bad("messages_per_second", "must be above 0 and at most 5 (Slack allows about 1 per second per channel)")
    if not 0 < slack.http_port < 65536:
        bad("http_port", "must be a port number between 1 and 65535")
    if not slack.http_path.startswith("/"):
        bad("http_path", 'must start with "/", like "/slack/events"')
    formatter = string.Formatter()
    for intent, by_lang in slack.templates.items():
        for lang, texts in by_lang.items():
            where = f"templates.{intent}.{lang}"
            if lang != "any" and (len(lang) != 2 or not lang.isalpha()):
                bad(where, 'the language must be a two-letter code like "en" or "any"')
            for text in texts:
                try:
                    names = [name for _, name, _, _ in formatter.parse(text) if name is not None]
                except ValueError as exc:
                    bad(where, f"{text[:40]!r}: {exc}; write a literal brace as {{{{ or }}}}")
                    continue
                for name in names:
                    if name not in TEMPLATE_PLACEHOLDERS:
                        bad(where, f"unknown placeholder {{{name}}}; use {', '.join(TEMPLATE_PLACEHOLDERS)}")
