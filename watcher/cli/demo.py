"""`watcher demo`: the bundled sample posts dripped through the real pipeline
(replay connector -> dedupe -> triage -> SQLite -> queue -> outbox) into a
temporary database, with the ranked queue shown live. No credentials, no network."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import Counter, deque
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from connectors.replay import ReplayConnector
from watcher.cli.views import queue_table
from watcher.config import Config, parse_config
from watcher.core.item import OutboxRow, QueueRow
from watcher.core.post import utc_now
from watcher.core.vocab import OPEN_STATES, Priority
from watcher.ingest.pipeline import IngestReport
from watcher.service import Service

DEMO_BRAND: dict[str, Any] = {
    "name": "Lumo",
    "aliases": ["Lumo Bank", "LumoBank"],
    "handles": ["@LumoBank", "u/LumoOfficial"],
    "own_accounts": {"x": ["900000001", "900000002"], "reddit": ["LumoOfficial"]},
    "staff_accounts": ["LumoSupport"],
    "competitors": ["Revoluto", "N27"],
    "languages": ["en", "it", "ro", "es", "de", "fr", "pt"],
    "timezone": "Europe/Rome",
}


def sample_path() -> Path:
    return Path(str(resources.files("watcher") / "data" / "sample_posts.jsonl"))


def demo_config(db_path: Path, sample: Path) -> Config:
    return parse_config(
        {
            "brand": DEMO_BRAND,
            "storage": {"path": str(db_path)},
            "sources": {"demo": {"kind": "replay", "path": str(sample), "interval_seconds": 1, "jitter_seconds": 0}},
        },
        file=str(db_path.parent / "demo.toml"),
    )


class DemoNotifier:
    """Keeps the latest cards for the live view instead of printing each one."""

    def __init__(self) -> None:
        self.latest: deque[OutboxRow] = deque(maxlen=5)
        self.delivered = 0

    def deliver(self, row: OutboxRow) -> str:
        self.delivered += 1
        self.latest.append(row)
        return f"demo:{row.id}"


def run_demo(*, duration: float, db_path: Path | None, show: int, console: Console | None = None) -> IngestReport:
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="watcher-demo-"))
    db = db_path or workdir / "demo.db"
    sample = sample_path()
    try:
        config = demo_config(db, sample)
        connector = ReplayConnector(sample, source="demo", batch_size=100)
        total, (first, last) = connector.total(), connector.time_span()
        drip = duration > 0
        if drip:  # three days of posts in `duration` seconds
            connector.drip, connector.speed = True, max(1.0, (last - first).total_seconds() / duration)
        notifier = DemoNotifier()
        service = Service.from_config(config, connectors={"demo": connector}, notifier=notifier)
        report = IngestReport(source="demo")
        pace = f"in about {duration:.0f} s" if drip else "at once"
        console.print(
            f"[bold]watcher demo[/bold]: replaying {total} sample posts (3 days of Lumo mentions on X and Reddit, "
            f"7 languages) {pace} into {db}"
        )
        shown = 0
        with Live(console=console, refresh_per_second=4, transient=True) as live:
            while True:
                outcome = service.poll("demo")
                report.add(outcome.report)
                service.flush()
                cursor = service.store.sources.get_cursor("demo")
                done = int(cursor.state.get("offset", 0)) if cursor else 0
                if console.is_terminal:
                    live.update(
                        _view(done, total, report, service.store.items.queue_rows(states=OPEN_STATES, limit=12))
                    )
                elif outcome.report.fetched and (done >= total or done * 10 // total > shown * 10 // total):
                    # not a terminal (a log, CI): a line per tenth instead of a live view
                    console.print(f"{done}/{total} posts replayed, {report.queued} queued")
                    shown = done
                if done >= total:
                    break
                time.sleep(0.25)
        rows = service.store.items.queue_rows(states=OPEN_STATES, limit=show)
        by_priority = Counter(r.item.priority for r in service.store.items.queue_rows(states=OPEN_STATES, limit=100000))
        console.print(queue_table(rows, now=utc_now(), title=f"Top {len(rows)} of the ranked queue"))
        console.print(
            f"{report.stored} posts stored, {report.collapsed} near-duplicates collapsed, "
            f"{report.dropped_own} own posts and {report.dropped_reposts} reposts dropped, "
            f"{report.queued} queued, {report.answered_natively} of them closed as answered by the brand on the "
            "platform; open now: "
            + ", ".join(f"{by_priority[p]} {p}" for p in Priority)
            + f"; {notifier.delivered} notifications delivered."
        )
        if report.problems:
            console.print(
                f"[yellow]{len(report.problems)} record(s) skipped[/yellow]: " + "; ".join(report.problems[:3])
            )
        service.close()
        if db_path:
            demo_toml = db_path.with_suffix(".toml")
            _write_demo_config(demo_toml, db_path)
            first_day, last_day = first.date(), last.date() + timedelta(days=1)
            console.print(
                f"database kept at {db_path}; try:\n  watcher --config {demo_toml} queue --priority urgent\n"
                f"  watcher --config {demo_toml} digest --since {first_day} --until {last_day} --html demo-digest.html",
                soft_wrap=True,
            )
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _write_demo_config(path: Path, db_path: Path) -> None:
    """A config for the kept demo database, so `watcher queue` and `watcher digest` know
    the demo brand (its own names are left out of digest themes)."""

    def toml_list(values: list[str]) -> str:
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"

    brand = DEMO_BRAND
    own = ", ".join(f"{platform} = {toml_list(ids)}" for platform, ids in brand["own_accounts"].items())
    lines = [
        "[brand]",
        f"name = {json.dumps(brand['name'])}",
        *(
            f"{key} = {toml_list(brand[key])}"
            for key in ("aliases", "handles", "staff_accounts", "competitors", "languages")
        ),
        f"own_accounts = {{ {own} }}",
        f"timezone = {json.dumps(brand['timezone'])}",
        "",
        "[storage]",
        f"path = {json.dumps(db_path.resolve().as_posix())}",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _view(done: int, total: int, report: IngestReport, rows: list[QueueRow]) -> Group:
    header = Table.grid(padding=(0, 2))
    header.add_row(
        ProgressBar(total=max(total, 1), completed=done, width=40),
        Text(f"{done}/{total} posts   stored {report.stored}   collapsed {report.collapsed}   queued {report.queued}"),
    )
    return Group(header, queue_table(rows, now=utc_now(), title="Live queue (urgent first)"))
