"""End-to-end ingest throughput (replay -> dedupe -> triage -> SQLite -> queue) beside
VADER alone on the same posts, in the same process, as a ratio (machines are noisy).

    python bench/ingest.py [--copies 10]

Uses the bundled sample posts, copied with fresh ids and authors so nothing dedupes away.
Target: ingest >= 0.4x VADER alone.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from connectors.replay import ReplayConnector
from watcher.config import parse_config
from watcher.demo import DEMO_BRAND, sample_path
from watcher.pipeline import Pipeline, Poller
from watcher.store import Store


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=10, help="copies of the sample (352 posts each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export, texts = build_export(folder, args.copies)

        vader = SentimentIntensityAnalyzer()
        started = time.perf_counter()
        for text in texts:
            vader.polarity_scores(text)
        vader_seconds = time.perf_counter() - started

        config = parse_config(
            {
                "brand": DEMO_BRAND,
                "storage": {"path": str(folder / "bench.db")},
                "sources": {"bench": {"kind": "replay", "path": str(export), "batch_size": 200}},
            },
            file=str(folder / "bench.toml"),
        )
        store = Store(folder / "bench.db")
        pipeline = Pipeline(store, config)  # loads the triage models, before the clock starts
        poller = Poller(
            config.sources[0], ReplayConnector.from_config(config.sources[0], {}), pipeline, max_pages=10_000
        )
        started = time.perf_counter()
        outcome = poller.poll()
        ingest_seconds = time.perf_counter() - started
        store.close()

    n = len(texts)
    vader_rate, ingest_rate = n / vader_seconds, n / ingest_seconds
    print(
        f"posts: {n} ({outcome.report.stored} stored, {outcome.report.queued} queued, "
        f"{outcome.report.collapsed} collapsed)"
    )
    print(f"VADER alone:            {vader_rate:9.0f} posts/s")
    print(f"end-to-end ingest:      {ingest_rate:9.0f} posts/s")
    print(f"ratio ingest / VADER:   {ingest_rate / vader_rate:9.2f}x  (target >= 0.40x)")


if __name__ == "__main__":
    main()
