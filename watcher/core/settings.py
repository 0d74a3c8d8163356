"""The config sections that more than the service reads: who the brand is (connectors
and triage need it) and the triage thresholds (rules need them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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
class TriageConfig:
    urgent_score: int = 80
    high_score: int = 60
    normal_score: int = 35
    reply_threshold: int = 45
    repeat_window_days: int = 5
    language_confidence_floor: float = 0.5
    rules_file: str = ""
    model_path: str = ""
    # the sentence-embedding second opinion for it/es/fr/pt posts the first model is unsure of
    sentiment_second_stage: bool = True
