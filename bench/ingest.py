"""End-to-end ingest throughput (replay -> dedupe -> triage -> SQLite -> queue -> outbox),
with VADER alone on the same posts, in the same process, for context.

    python bench/ingest.py [--copies 10] [--runs 3]

Uses the bundled sample posts, copied with fresh ids and authors so nothing dedupes away.
The floor is 500 posts/s on one core: a big brand's worst day is tens of posts a second,
and a 1M-post history import then takes under 35 minutes. Each figure is the median of
the runs (the machines are shared and their speed drifts).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs as a script from anywhere

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from connectors.replay import ReplayConnector  # noqa: E402
from watcher.cli.demo import DEMO_BRAND, sample_path  # noqa: E402
from watcher.config import parse_config  # noqa: E402
from watcher.ingest.pipeline import IngestReport, Pipeline  # noqa: E402
from watcher.ingest.poller import Poller  # noqa: E402
from watcher.store import Store  # noqa: E402

FLOOR = 500  # posts/s, end to end on one core


def build_export(folder: Path, copies: int) -> tuple[Path, list[str]]:
    records = [json.loads(line) for line in sample_path().read_text(encoding="utf-8").splitlines() if line.strip()]
    path = folder / "bench.jsonl"
    texts = []
    with path.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            for record in records:
                record = dict(record, id=f"{record['id']}-{copy}")
                record["author"] = dict(record["author"], id=f"{record['author']['id']}-{copy}")
                texts.append(record["text"])
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path, texts


def time_vader(texts: list[str]) -> float:
    vader = SentimentIntensityAnalyzer()
    started = time.perf_counter()
    for text in texts:
        vader.polarity_scores(text)
    return time.perf_counter() - started


def time_ingest(folder: Path, export: Path) -> tuple[float, IngestReport]:
    """One poll of the whole export into a fresh database."""
    for old in folder.glob("bench.db*"):
        old.unlink()
    config = parse_config(
        {
            "brand": DEMO_BRAND,
            "storage": {"path": str(folder / "bench.db")},
            "sources": {"bench": {"kind": "replay", "path": str(export), "batch_size": 200}},
        },
        file=str(folder / "bench.toml"),
    )
    store = Store(folder / "bench.db")
    pipeline = Pipeline(store, config)  # loads the triage models before the clock starts
    poller = Poller(config.sources[0], ReplayConnector.from_config(config.sources[0], {}), pipeline, max_pages=10_000)
    started = time.perf_counter()
    outcome = poller.poll()
    seconds = time.perf_counter() - started
    store.close()
    return seconds, outcome.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=10, help="copies of the sample posts")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the median counts")
    args = parser.parse_args()
    vader_times, ingest_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export, texts = build_export(folder, args.copies)
        for _ in range(max(1, args.runs)):
            vader_times.append(time_vader(texts))
            seconds, report = time_ingest(folder, export)
            ingest_times.append(seconds)
    n = len(texts)
    rate = n / statistics.median(ingest_times)
    print(f"posts: {n} ({report.stored} stored, {report.queued} queued, {report.collapsed} collapsed)")
    print(f"end-to-end ingest: {rate:8.0f} posts/s  (floor {FLOOR}: {'ok' if rate >= FLOOR else 'BELOW'})")
    print(f"VADER alone:       {n / statistics.median(vader_times):8.0f} posts/s  (for context)")


if __name__ == "__main__":
    main()
