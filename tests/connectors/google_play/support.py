"""Builders for the Google Play tests: a service account key made for the test, a
source pointed at the fake, and connectors built by `from_config` as the service does."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.google_play import GooglePlayConnector
from tests.fakes.google_play_api import PACKAGE, FakePlay
from watcher.core.config import SourceConfig


@functools.cache
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def key_file(folder: Path) -> Path:
    """A service account JSON key as Google Cloud's console downloads it."""
    path = folder / "play-key.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "lumo-care",
                "private_key_id": "k1",
                "private_key": private_key_pem(),
                "client_email": "watcher@lumo-care.iam.gserviceaccount.com",
                "client_id": "1000",
                "token_uri": "https://oauth2.googleapis.com/token",  # replaced by the source's token_url
            }
        )
    )
    return path


def source(fake: FakePlay, name: str = "play", **options: Any) -> SourceConfig:
    options = {"package_name": PACKAGE, "api_url": fake.base_url, "token_url": fake.base_url + "/token",
               "timeout_seconds": 5.0, **options}  # fmt: skip
    return SourceConfig(name=name, kind="google_play", options=options, backfill_hours=24)


def play(fake: FakePlay, folder: Path, **options: Any) -> GooglePlayConnector:
    env = {"GOOGLE_PLAY_KEY_FILE": str(key_file(folder))}
    connector = GooglePlayConnector.from_config(source(fake, **options), env)
    connector.clock = connector.client.clock = fake.clock
    return connector
