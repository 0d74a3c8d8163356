"""What the scheduler logs while it works normally: no warning every tick."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import BRAND
from watcher.config import parse_config
from watcher.scheduler import build_scheduler
from watcher.service import Service


def test_a_delivery_still_running_at_the_next_tick_is_not_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config(
        {"brand": BRAND, "storage": {"path": str(tmp_path / "w.db")}, "scheduler": {"outbox_interval_seconds": 1}},
    )
    service = Service.from_config(config, connectors={})
    release = threading.Event()
    scheduler = build_scheduler(service, deliver=lambda: release.wait(30))  # a long outbox drain
    caplog.set_level(logging.DEBUG, logger="apscheduler")
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("running instances" in r.getMessage() for r in caplog.records):
            time.sleep(0.1)
    finally:
        release.set()
        scheduler.shutdown(wait=True)
        service.close()
    skipped = [r for r in caplog.records if "running instances" in r.getMessage()]
    assert skipped, "the drain outlasted a tick, so a run was skipped"
    assert all(r.levelno == logging.DEBUG for r in skipped)
