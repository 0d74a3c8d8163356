"""Peak memory of importing an export through the replay connector, beside the old
reader (every record of the file decoded into a list and sorted by time, as the
connector did before it streamed), each in a fresh subprocess so neither inherits the
other's heap.

    python bench/replay_memory.py [--lines 200000] [--batch 500]

The streaming figure should stay flat as --lines grows; the old one grows with it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs as a script from anywhere

from connectors.replay import ReplayConnector  # noqa: E402
from connectors.replay_file import ExportFile, Order  # noqa: E402


def write_export(path: Path, lines: int) -> None:
    start = datetime(2026, 8, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            record = {
                "id": str(n),
                "platform": "x",
                "kind": "mention",
                "text": f"@LumoBank my card was declined twice today, order {n} still not here",
                "created_at": (start + timedelta(seconds=40 * n)).isoformat(),
                "author": {"id": str(n % 9973), "handle": f"user{n % 9973}", "followers": n % 5000},
                "metrics": {"likes": n % 7, "reposts": 0, "replies": 1},
            }
            out.write(json.dumps(record) + "\n")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def run_stream(path: Path, batch: int) -> tuple[int, float]:
    connector = ReplayConnector(path, batch_size=batch)
    cursor, posts = None, 0
    while True:
        result = connector.fetch(cursor)
        posts += len(result.posts)
        cursor = result.cursor
        if not result.has_more:
            return posts, peak_mb()


def run_whole_file(path: Path, batch: int) -> tuple[int, float]:
    """The old reader: the whole file in a list, sorted, then served a batch at a time."""
    with path.open("rb") as handle:
        export = ExportFile(path, handle, platform="import", source="bench")
        records = [e.record for e in export.entries(Order.OLDEST_FIRST, 0, 0) if e.record is not None]
    records.sort(key=lambda r: r.post.created_at if r.post else datetime.min.replace(tzinfo=UTC))
    posts = sum(1 for offset in range(0, len(records), batch) for r in records[offset : offset + batch] if r.post)
    return posts, peak_mb()


def child(mode: str, path: Path, batch: int) -> None:
    posts, peak = (run_stream if mode == "stream" else run_whole_file)(path, batch)
    print(json.dumps({"posts": posts, "peak_mb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--child", choices=("stream", "whole"), help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.batch)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.jsonl"
        write_export(path, args.lines)
        size = path.stat().st_size / 1e6
        print(f"export: {args.lines} lines, {size:.0f} MB; batches of {args.batch}")
        for mode, label in (("whole", "old reader (whole file, sorted)"), ("stream", "streaming connector")):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--path", str(path), "--batch", str(args.batch)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures = json.loads(out)
            print(f"{label:34} {figures['posts']:>8} posts  peak {figures['peak_mb']:7.0f} MB")


if __name__ == "__main__":
    main()
