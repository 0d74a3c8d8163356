from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from connectors.base import FetchResult, SourceUnavailable
from tests.conftest import BRAND, T0, make_post
from watcher.config import parse_config
from watcher.core.cursor import Cursor
from watcher.scheduler import build_scheduler, run_forever
from watcher.service import Service

ROOT = Path(__file__).resolve().parents[2]


class Flaky:
    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        self.calls += 1
        raise SourceUnavailable("503 from the platform")


class Steady:
    name = "steady"

    def __init__(self) -> None:
        self.calls = 0

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        self.calls += 1
        return FetchResult(
            (make_post(f"help {self.calls}?", native_id=f"s{self.calls}", handle=f"u{self.calls}"),),
            Cursor({"n": self.calls}),
            requests_made=1,
        )


def two_source_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_config(
        {
            "brand": BRAND,
            "storage": {"path": str(tmp_path / "w.db")},
            "sources": {
                "a": {"kind": "replay", "interval_seconds": 1, "jitter_seconds": 0},
                "b": {"kind": "replay", "interval_seconds": 1, "jitter_seconds": 0},
            },
        },
        file=str(tmp_path / "c.toml"),
    )


def test_one_job_per_source_with_interval_jitter_coalesce_and_single_instance(tmp_path: Path) -> None:
    config = parse_config(
        {
            "brand": BRAND,
            "storage": {"path": str(tmp_path / "w.db")},
            "sources": {
                "a": {"kind": "replay", "interval_seconds": 120, "jitter_seconds": 15},
                "off": {"kind": "replay", "enabled": False},
            },
        },
    )
    service = Service.from_config(config, connectors={"a": Steady()})  # type: ignore[dict-item]
    scheduler = build_scheduler(service)
    scheduler.start(paused=True)  # job defaults are applied when jobs are added to a started scheduler
    job = scheduler.get_job("poll:a")
    assert job is not None and scheduler.get_job("poll:off") is None
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval.total_seconds() == 120 and job.trigger.jitter == 15
    assert job.coalesce is True and job.max_instances == 1
    assert {j.id for j in scheduler.get_jobs()} == {"poll:a", "outbox", "wake", "prune"}
    scheduler.shutdown()
    service.close()


@pytest.mark.slow
def test_a_failing_source_backs_off_while_the_others_keep_running(tmp_path: Path) -> None:
    flaky, steady = Flaky(), Steady()
    service = Service.from_config(two_source_config(tmp_path), connectors={"a": flaky, "b": steady})  # type: ignore[dict-item]
    store = service.store
    started = time.monotonic()
    run_forever(service, until=lambda: steady.calls >= 5 or time.monotonic() - started > 20)
    assert steady.calls >= 5
    # every 1 s for the steady source; the flaky one waits ~2 s, then ~4 s, ...
    assert 1 <= flaky.calls <= 2
    from watcher.store import Store

    with Store(store.path) as db:
        state = db.sources.source_state("a")
        assert state.failures == flaky.calls and "503" in state.message
        assert db.posts.count_posts() >= 5


@pytest.mark.slow
def test_sigterm_finishes_the_batch_in_flight_and_exits_cleanly(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    with export.open("w", encoding="utf-8") as out:
        for n in range(400):
            out.write(
                json.dumps(
                    {
                        "id": str(n),
                        "platform": "x",
                        "text": f"parcel {n} missing?",
                        "author": {"id": f"a{n}"},
                        "created_at": T0.isoformat(),
                    }
                )
                + "\n"
            )
    config = tmp_path / "config.toml"
    config.write_text(
        '[brand]\nname = "Lumo"\n[storage]\npath = "w.db"\n[scheduler]\noutbox_interval_seconds = 1\n'
        f'[sources.hist]\nkind = "replay"\npath = "{export.as_posix()}"\nbatch_size = 2\n'
        "interval_seconds = 1\njitter_seconds = 0\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", "from watcher.cli.main import main; main()", "--config", str(config), "run"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,  # the console cards; nothing here reads them while the service runs
        stderr=subprocess.PIPE,
        text=True,
    )
    db = tmp_path / "w.db"
    # generous: on a loaded machine starting Python and loading the models alone can take
    # half a minute, and a SIGTERM before the service is up ends it with no handler (-15)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and stored == 0 and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    stored = conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    if stored == 0:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the service stored nothing within 120 s; stderr:\n{err}")
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # never leave a stray service behind a failed assertion
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err and "Traceback" not in err
    with sqlite3.connect(db) as conn:
        posts = conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
        offset = json.loads(conn.execute("SELECT cursor FROM cursors").fetchone()[0])["offset"]
    assert 0 < posts == offset  # the cursor covers exactly what was stored
