"""End-to-end ingest throughput (replay -> dedupe -> triage -> SQLite -> queue) beside
VADER alone on the same posts, in the same process, as a ratio (machines are noisy).

    python bench/ingest.py [--copies 10] [--triage engine|constant] [--runs 1]

Uses the bundled sample posts, copied with fresh ids and authors so nothing dedupes away.
Target: ingest >= 0.4x VADER alone.

`--triage constant` replaces the triage engine with a function returning one fixed
result (needs a reply, so every post is queued and announced): it measures the
pipeline alone (replay, de-duplication, SQLite, queue, outbox). Target: >= 1.0x VADER.

Each run is a pair, VADER then the ingest (`--runs`, 5 by default), and the figure is the
median of the pairs' ratios. The machines are shared and their speed drifts (VADER alone
took 0.23-0.49 s on the same posts in one session): a pair is timed under the same
conditions, and the median drops the outliers either way. The ratio of the fastest of
each is printed too; it favours the shorter job (VADER's 0.3 s land in a quiet moment
more often than the ingest's 0.7 s).
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
from rules.triage import Triage, TriageContext  # noqa: E402
from watcher.cli.demo import DEMO_BRAND, sample_path  # noqa: E402
from watcher.config import parse_config  # noqa: E402
from watcher.core.post import Post  # noqa: E402
from watcher.ingest.pipeline import IngestReport, Pipeline  # noqa: E402
from watcher.ingest.poller import Poller  # noqa: E402
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
    parser.add_argument("--runs", type=int, default=5, help="pairs of VADER then ingest; the median ratio counts")
    args = parser.parse_args()
    constant = args.triage == "constant"
    pairs: list[tuple[float, float]] = []  # (VADER seconds, ingest seconds)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export, texts = build_export(folder, args.copies)
        for _ in range(max(1, args.runs)):
            vader_seconds = time_vader(texts)
            ingest_seconds, report = time_ingest(folder, export, constant=constant)
            pairs.append((vader_seconds, ingest_seconds))

    n = len(texts)
    ratios = [vader / ingest for vader, ingest in pairs]  # ingest rate / VADER rate
    ratio = statistics.median(ratios)
    vader_rate = n / statistics.median(vader for vader, _ in pairs)
    ingest_rate = n / statistics.median(ingest for _, ingest in pairs)
    best = min(vader for vader, _ in pairs) / min(ingest for _, ingest in pairs)
    what, target = ("pipeline", 1.0) if constant else ("ingest", 0.4)
    print(f"posts: {n} ({report.stored} stored, {report.queued} queued, {report.collapsed} collapsed)")
    print(f"VADER alone:            {vader_rate:9.0f} posts/s  (median of {len(pairs)} runs)")
    label = "pipeline only:" if constant else "end-to-end ingest:"
    print(f"{label:23} {ingest_rate:9.0f} posts/s" + ("  (constant triage)" if constant else ""))
    print(f"pairs, {what} / VADER:  " + " ".join(f"{r:.2f}" for r in ratios))
    print(f"fastest of each:        {best:9.2f}x")
    print(f"ratio {what} / VADER:".ljust(24) + f"{ratio:9.2f}x  (median of the pairs; target >= {target:.2f}x)")
    if constant:
        print(f"pipeline time:          {1 / ratio:9.2f}x VADER's time on the same posts")


if __name__ == "__main__":
    main()
