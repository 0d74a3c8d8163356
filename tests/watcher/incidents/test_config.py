"""[incidents] values are checked like every section: each problem names the file and key."""

from __future__ import annotations

from typing import Any

import pytest

from watcher.config import parse_config
from watcher.core.config import ConfigError


def problems_of(incidents: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({"brand": {"name": "L"}, "incidents": incidents}, file="cfg.toml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("incidents", "expected"),
    [
        ({"min_posts": 1}, "cfg.toml: incidents.min_posts: must be at least 2"),
        ({"window_minutes": 0}, "cfg.toml: incidents.window_minutes: must be between 1 and 1440"),
        ({"sends_per_minute": 0}, "cfg.toml: incidents.sends_per_minute: must be between 1 and 600"),
        ({"intents": []}, "cfg.toml: incidents.intents: list at least one intent"),
        ({"intents": ["Outage!"]}, "incidents.intents: 'Outage!' is not an intent or tag name"),
        ({"intents": ["outage", "outage"]}, "incidents.intents: lists a name twice"),
        ({"own_card_intents": ["outage"]}, "incidents.own_card_intents: outage is also in intents"),
        ({"channel": "incidents"}, "incidents.channel: 'incidents' is neither a channel id"),
        ({"late_joiners": "always"}, "incidents.late_joiners: 'always' is not one of 'send', 'approve'"),
        ({"late_joiner": "send"}, "incidents.late_joiner: unknown key 'late_joiner'; did you mean 'late_joiners'?"),
    ],
)
def test_each_incidents_problem_names_file_and_key(incidents: dict[str, Any], expected: str) -> None:
    found = problems_of(incidents)
    assert any(expected in p for p in found), found


def test_good_incidents_settings_load() -> None:
    cfg = parse_config(
        {"brand": {"name": "L"}, "incidents": {"late_joiners": "send", "channel": "#incidents", "min_posts": 2}}
    )
    assert cfg.incidents.late_joiners == "send"
    assert cfg.incidents.intents == ("outage", "delivery", "billing", "double_charge")


def test_no_intents_is_fine_when_incidents_are_off() -> None:
    assert not parse_config({"brand": {"name": "L"}, "incidents": {"enabled": False, "intents": []}}).incidents.enabled
