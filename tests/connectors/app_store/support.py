"""Builders for the App Store tests: the team's ES256 key made for the test, a source
pointed at the fake, and connectors built by `from_config`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.app_store import AppStoreConnector
from tests.fakes.app_store_api import APP_ID, ISSUER, KEY_ID, FakeAppStore
from watcher.core.config import SourceConfig


@functools.cache
def key_pair() -> tuple[str, str]:
    """(private .p8 PEM, public PEM) of a P-256 key, as App Store Connect makes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip
    return private, public


def start_fake(clock: Callable[[], datetime], **fields: Any) -> FakeAppStore:
    return FakeAppStore(public_key=key_pair()[1], clock=clock, **fields).start()


def environment(folder: Path) -> dict[str, str]:
    path = folder / "AuthKey_ABC123DEFG.p8"
    path.write_text(key_pair()[0])
    return {"APP_STORE_KEY_FILE": str(path), "APP_STORE_KEY_ID": KEY_ID, "APP_STORE_ISSUER_ID": ISSUER}


def source(fake: FakeAppStore, name: str = "appstore", **options: Any) -> SourceConfig:
    options = {"app_id": APP_ID, "api_url": fake.base_url, "timeout_seconds": 5.0, **options}
    return SourceConfig(name=name, kind="app_store", options=options, backfill_hours=24)


def app_store(fake: FakeAppStore, folder: Path, **options: Any) -> AppStoreConnector:
    connector = AppStoreConnector.from_config(source(fake, **options), environment(folder))
    connector.clock = connector.client.clock = fake.clock
    return connector
