"""Builders for the Trustpilot tests: a source pointed at the fake and connectors built
by `from_config` as the service does."""

from __future__ import annotations

from typing import Any

from connectors.trustpilot import TrustpilotConnector
from tests.fakes.trustpilot_api import API_KEY, API_SECRET, BUSINESS_UNIT, BUSINESS_USER, TOKEN_PATH, FakeTrustpilot
from watcher.core.config import SourceConfig

ENV = {"TRUSTPILOT_API_KEY": API_KEY, "TRUSTPILOT_API_SECRET": API_SECRET}


def source(fake: FakeTrustpilot, name: str = "trustpilot", **options: Any) -> SourceConfig:
    options = {"business_unit_id": BUSINESS_UNIT, "business_user_id": BUSINESS_USER, "api_url": fake.base_url,
               "token_url": fake.base_url + TOKEN_PATH, "timeout_seconds": 5.0, **options}  # fmt: skip
    return SourceConfig(name=name, kind="trustpilot", options=options, backfill_hours=24)


def trustpilot(fake: FakeTrustpilot, **options: Any) -> TrustpilotConnector:
    connector = TrustpilotConnector.from_config(source(fake, **options), ENV)
    connector.clock = connector.client.clock = fake.clock
    return connector
