"""The service's config file, config.toml: its sections and their checks.

The generic machinery (walking a table against a dataclass, secrets, did-you-mean)
is in watcher.core.config; this module declares the sections and the checks their
types cannot express, and collects every problem before raising one ConfigError.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import CONNECTOR_MODULES
from watcher.core.config import (
    ConfigError,
    ConfigProblem,
    SourceConfig,
    build_dataclass,
    env_missing,
    read_toml,
    refuse_secrets,
    unknown_key,
)
from watcher.core.incident import LATE_JOINER_MODES, IncidentsConfig
from watcher.core.settings import BrandConfig, TriageConfig
from watcher.core.vocab import PRIORITIES

# the connector kinds a [sources.NAME] table may name, unless a caller passes its own
KNOWN_KINDS: tuple[str, ...] = tuple(CONNECTOR_MODULES)


@dataclass(frozen=True)
class StorageConfig:
    path: str = "watcher.db"
    # days a post keeps its raw platform payload (0: for ever); the post itself stays
    raw_days: int = 30


@dataclass(frozen=True)
class PipelineConfig:
    drop_own_posts: bool = True
    drop_reposts: bool = True
    dedupe_window_hours: int = 24
    max_pages_per_poll: int = 10


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SLA_MINUTES = dict(zip(PRIORITIES, (15, 60, 240, 1440), strict=True))
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
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)

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
    "incidents": IncidentsConfig,
}
SOURCE_COMMON_KEYS = ("kind", "enabled", "interval_seconds", "jitter_seconds", "backfill_hours")


def load_config(path: str | Path, *, kinds: Collection[str] = KNOWN_KINDS) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    data = read_toml(path, missing="file not found; copy config.example.toml and edit it")
    return parse_config(data, file=str(path), kinds=kinds)


def parse_config(data: Mapping[str, Any], *, file: str = "config.toml", kinds: Collection[str] = KNOWN_KINDS) -> Config:
    problems: list[ConfigProblem] = []
    known = [*SECTIONS, "sources"]
    for key in data:
        if key not in known:
            problems.append(ConfigProblem(file, key, unknown_key(key, known, "section")))
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
    sources = _parse_sources(data.get("sources", {}), file, problems, sorted(kinds))
    if "brand" in sections:
        _check_brand(sections["brand"], file, problems)
    if "triage" in sections:
        _check_triage(sections["triage"], file, problems)
    if "storage" in sections and sections["storage"].raw_days < 0:
        problems.append(ConfigProblem(file, "storage.raw_days", "must be 0 (keep for ever) or a number of days"))
    if "slack" in sections and sections["slack"].mode not in ("socket", "http"):
        problems.append(ConfigProblem(file, "slack.mode", 'must be "socket" or "http"'))
    if "slack" in sections:
        _check_slack(sections["slack"], file, problems)
    if "incidents" in sections:
        _check_incidents(sections["incidents"], file, problems)
    if problems:
        raise ConfigError(problems)
    return Config(file=file, sources=sources, **sections)


def _parse_sources(table: Any, file: str, problems: list[ConfigProblem], kinds: list[str]) -> tuple[SourceConfig, ...]:
    if not isinstance(table, Mapping):
        problems.append(ConfigProblem(file, "sources", "must be tables like [sources.my_source]"))
        return ()
    result = []
    for name, src in table.items():
        where = f"sources.{name}"
        if not isinstance(src, Mapping):
            problems.append(ConfigProblem(file, where, 'must be a table with at least kind = "..."'))
            continue
        kind = src.get("kind")
        if kind is None:
            problems.append(ConfigProblem(file, f"{where}.kind", f"missing; one of {kinds}"))
            continue
        if kind not in kinds:
            problems.append(ConfigProblem(file, f"{where}.kind", unknown_key(str(kind), kinds, "connector kind")))
            continue
        common = {k: v for k, v in src.items() if k in SOURCE_COMMON_KEYS}
        options = {k: v for k, v in src.items() if k not in SOURCE_COMMON_KEYS}
        refuse_secrets(options, file, where, problems)
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


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_incidents(incidents: IncidentsConfig, file: str, problems: list[ConfigProblem]) -> None:
    """[incidents] keys whose range or shape the dataclass types cannot express."""

    def bad(key: str, reason: str) -> None:
        problems.append(ConfigProblem(file, f"incidents.{key}", reason))

    if incidents.enabled and not incidents.intents:
        bad("intents", 'list at least one intent, like ["outage"], or set enabled = false')
    for key in ("intents", "own_card_intents", "own_card_tags"):
        values = getattr(incidents, key)
        for value in values:
            if not _NAME.match(value):
                bad(key, f'{value!r} is not an intent or tag name (lower case, digits and _), like "outage"')
        if len(set(values)) != len(values):
            bad(key, "lists a name twice")
    if overlap := sorted(set(incidents.intents) & set(incidents.own_card_intents)):
        bad("own_card_intents", f"{', '.join(overlap)} is also in intents: a post cannot both join and keep its card")
    if incidents.min_posts < 2:
        bad("min_posts", "must be at least 2 (one post is not a burst)")
    if not 1 <= incidents.window_minutes <= 24 * 60:
        bad("window_minutes", "must be between 1 and 1440 minutes")
    if not 1 <= incidents.sends_per_minute <= 600:
        bad("sends_per_minute", "must be between 1 and 600 replies per minute per platform")
    if incidents.channel and not _CHANNEL.match(incidents.channel):
        bad("channel", f"{incidents.channel!r} is neither a channel id like C0123ABCD nor a name like #incidents")
    if incidents.late_joiners not in LATE_JOINER_MODES:
        bad("late_joiners", f"{incidents.late_joiners!r} is not one of {', '.join(repr(m) for m in LATE_JOINER_MODES)}")


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
