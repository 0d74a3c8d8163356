"""Google Play keys and options that `watcher check` must refuse as config problems (not as
internal errors), without showing what the key file holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.google_play import GooglePlayConnector
from tests.conftest import T0, Clock
from tests.connectors.google_play.support import key_file, source
from tests.fakes.google_play_api import FakePlay
from watcher.core.config import ConfigError


@pytest.fixture
def fake() -> Iterator[FakePlay]:
    fake = FakePlay(clock=Clock(T0)).start()
    yield fake
    fake.stop()


def broken_key(folder: Path, **changes: object) -> dict[str, str]:
    path = key_file(folder)
    key = {**json.loads(path.read_text()), **changes}
    path.write_text(json.dumps({k: v for k, v in key.items() if v is not None}))
    return {"GOOGLE_PLAY_KEY_FILE": str(path)}


def test_a_key_without_client_email_is_a_config_problem(fake: FakePlay, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        GooglePlayConnector.from_config(source(fake), broken_key(tmp_path, client_email=None))
    [problem] = caught.value.problems
    assert problem.key == "sources.play.key_file_env" and "client_email" in problem.reason


def test_a_key_with_a_bad_pem_is_a_config_problem_that_shows_no_key(fake: FakePlay, tmp_path: Path) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nnotakeyatallSECRETBITS\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ConfigError) as caught:
        GooglePlayConnector.from_config(source(fake), broken_key(tmp_path, private_key=pem))
    [problem] = caught.value.problems
    assert problem.key == "sources.play.key_file_env"
    assert problem.reason == "not a usable service account key: download it again"
    assert "SECRETBITS" not in str(caught.value)


def test_an_empty_package_name_is_a_config_problem(fake: FakePlay, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        GooglePlayConnector.from_config(
            source(fake, package_name=""), {"GOOGLE_PLAY_KEY_FILE": str(key_file(tmp_path))}
        )
    [problem] = caught.value.problems
    assert problem.key == "sources.play.package_name"


def test_a_key_file_env_that_is_no_variable_name_is_not_repeated(fake: FakePlay) -> None:
    with pytest.raises(ConfigError) as caught:
        GooglePlayConnector.from_config(source(fake, key_file_env="abc123secretvalue"), {})
    assert "abc123secretvalue" not in str(caught.value)
    assert "the variable named by sources.play.key_file_env is not set" in str(caught.value)
