"""End-to-end ingest throughput (replay -> dedupe -> triage -> SQLite -> queue) beside
VADER alone on the same posts, in the same process, as a ratio (machines are noisy).

    python bench/ingest.py [--copies 10] [--triage engine|constant] [--runs 1]

Uses the bundled sample posts, copied with fresh ids and authors so nothing dedupes away.
Target: ingest >= 0.4x VADER alone.

`--triage constant` replaces the triage engine with a function returning one fixed
result (needs a reply, so every post is queued and announced): it measures the
pipeline alone (replay, de-duplication, SQLite, queue, outbox). Target: >= 1.0x VADER.
With `--runs N` VADER and the ingest alternate N times and the fastest of each counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs as a script from anywhere

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from connectors.replay import ReplayConnector  # noqa: E402
from rules.triage import Triage, TriageContext  # noqa: E402
from watcher.config import parse_config  # noqa: E402
from watcher.demo import DEMO_BRAND, sample_path  # noqa: E402
from watcher.pipeline import IngestReport, Pipeline, Poller  # noqa: E402
from watcher.post import Post  # noqa: E402
from watcher.store import Store  # noqa: E402

# what --triage constant returns for every post: needs a reply, so nothing skips the queue
CONSTANT = Triage(
    score=60,
    priority="normal",
    needs_reply=True,
    sentiment=-0.3,
    sentiment_label="negative",
    lang="en",
    intents=("complaint",),
    reasons=("constant triage (bench)",),
)


def constant_triage(post: Post, context: TriageContext) -> Triage:
    return CONSTANT


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


def time_ingest(folder: Path, export: Path, *, constant: bool) -> tuple[float, IngestReport]:
    """One poll of the whole export into a fresh database (replay -> ... -> queue)."""
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
    # loads the triage models (unless constant), before the clock starts
    pipeline = Pipeline(store, config, triage_fn=constant_triage if constant else None)
    poller = Poller(config.sources[0], ReplayConnector.from_config(config.sources[0], {}), pipeline, max_pages=10_000)
    started = time.perf_counter()
    outcome = poller.poll()
    seconds = time.perf_counter() - started
    store.close()
    return seconds, outcome.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=10, help="copies of the sample (352 posts each)")
    parser.add_argument(
        "--triage",
        choices=("engine", "constant"),
        default="engine",
        help="the real triage engine, or a constant result to time the pipeline alone",
    )
    parser.add_argument("--runs", type=int, default=1, help="alternate VADER and ingest this many times; best counts")
    args = parser.parse_args()
    constant = args.triage == "constant"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export, texts = build_export(folder, args.copies)
        vader_seconds = ingest_seconds = float("inf")
        for _ in range(max(1, args.runs)):
            vader_seconds = min(vader_seconds, time_vader(texts))
            seconds, report = time_ingest(folder, export, constant=constant)
            ingest_seconds = min(ingest_seconds, seconds)

    n = len(texts)
    vader_rate, ingest_rate = n / vader_seconds, n / ingest_seconds
    print(f"posts: {n} ({report.stored} stored, {report.queued} queued, {report.collapsed} collapsed)")
    print(f"VADER alone:            {vader_rate:9.0f} posts/s")
    if constant:
        print(f"pipeline only:          {ingest_rate:9.0f} posts/s  (constant triage)")
        print(f"ratio pipeline / VADER: {ingest_rate / vader_rate:9.2f}x  (target >= 1.00x)")
        print(f"pipeline time:          {ingest_seconds / vader_seconds:9.2f}x VADER's time on the same posts")
    else:
        print(f"end-to-end ingest:      {ingest_rate:9.0f} posts/s")
        print(f"ratio ingest / VADER:   {ingest_rate / vader_rate:9.2f}x  (target >= 0.40x)")


if __name__ == "__main__":
    main()
