"""Trustpilot options `watcher check` reads before from_config validates them, and
`*_env` values that must not be printed when they may be a pasted key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.base import AuthFailed
from connectors.trustpilot import TrustpilotConnector
from tests.conftest import T0, Clock
from tests.connectors.trustpilot.support import source
from tests.fakes.trustpilot_api import API_KEY, API_SECRET, FakeTrustpilot
from watcher.core.config import ConfigError, SourceConfig

PASTED = "k3yL00ksLikeAName9"  # a key pasted into api_key_env: letters and digits


@pytest.fixture
def fake() -> Iterator[FakeTrustpilot]:
    fake = FakeTrustpilot(clock=Clock(T0)).start()
    yield fake
    fake.stop()


def budget_source(**options: object) -> SourceConfig:
    return SourceConfig(name="tp", kind="trustpilot", interval_seconds=900,
                        options={"business_unit_id": "b1", "business_user_id": "u1", **options})  # fmt: skip


@pytest.mark.parametrize("value", ["lots", [1], -5])
def test_a_bad_yearly_allowance_is_planned_with_the_default(value: object) -> None:
    [row] = TrustpilotConnector.plan_budget([budget_source(api_calls_per_year=value)])
    assert row.ok and "of 200,000 in the API module" in row.text


@pytest.mark.parametrize(("value", "reason"), [("lots", "whole number"), (-5, "must be 0 (unlimited) or more")])
def test_a_bad_yearly_allowance_is_a_config_problem(fake: FakeTrustpilot, value: object, reason: str) -> None:
    env = {"TRUSTPILOT_API_KEY": API_KEY, "TRUSTPILOT_API_SECRET": API_SECRET}
    with pytest.raises(ConfigError) as caught:
        TrustpilotConnector.from_config(source(fake, api_calls_per_year=value), env)
    [problem] = caught.value.problems
    assert problem.key == "sources.trustpilot.api_calls_per_year" and reason in problem.reason


def test_a_key_pasted_into_api_key_env_is_not_shown_in_the_budget() -> None:
    [row] = TrustpilotConnector.plan_budget([budget_source(api_key_env=PASTED)])
    assert PASTED not in row.text and "the variable named by api_key_env" in row.text
    [named] = TrustpilotConnector.plan_budget([budget_source(api_key_env="TP_KEY")])
    assert "Trustpilot TP_KEY:" in named.text


def test_a_key_pasted_into_api_key_env_is_not_shown_when_refused(fake: FakeTrustpilot) -> None:
    fake.add_review("ok", "fine", 4, T0 - timedelta(hours=1))
    fake.key_valid = False
    env = {PASTED: API_KEY, "TRUSTPILOT_API_SECRET": API_SECRET}
    connector = TrustpilotConnector.from_config(source(fake, api_key_env=PASTED), env)
    connector.clock = connector.client.clock = fake.clock
    with pytest.raises(AuthFailed) as caught:
        connector.fetch(None)
    assert PASTED not in str(caught.value)
    assert "the variable named by sources.trustpilot.api_key_env and TRUSTPILOT_API_SECRET" in str(caught.value)
