"""Scale: does ingest slow down as history grows, and what do `rules test`, `queue`,
the weekly digest and a stored post cost once there is a lot of it?

    .venv/bin/python bench/scale.py 300000 [--keep DIR]

Builds a synthetic history of N posts (authors with a long tail, seven languages,
four platforms, 90 days ending now, a few repeated posts) and feeds it through the
real ingest path: each batch of 500 records is mapped by the replay connector's
mapper and handed to `Pipeline.ingest` with the real triage engine, as a poll would.
Prints posts/s for every 100k slice (every tenth below 1M), then `watcher rules test
--since 30d` (time and peak memory of the command's own process), `watcher queue`
(the command, start-up included), the weekly digest, and bytes per stored post.

The targets of issue #21 at 1M: last 100k within 1.5x the first 100k, the whole import
under 15 minutes, `rules test --since 30d` under 60 s and 500 MB, at most 1 KB per post
including indexes, the weekly digest under 3 s. The baseline is the same script run
against an older checkout (it imports the checkout it sits in).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs as a script from anywhere, against the checkout it sits in

from connectors.base import FetchResult  # noqa: E402
from connectors.replay import record_to_post  # noqa: E402
from watcher.cli.demo import DEMO_BRAND, sample_path  # noqa: E402
from watcher.config import load_config  # noqa: E402
from watcher.core.times import iso  # noqa: E402
from watcher.digest.figures import SLA_DEFAULTS, collect_digest  # noqa: E402
from watcher.digest.windows import period_window  # noqa: E402
from watcher.ingest.pipeline import Pipeline  # noqa: E402
from watcher.store import Store  # noqa: E402

DAYS = 90
BATCH = 500
LANGUAGES = ("en", "it", "ro", "es", "de", "fr", "pt")
LANGUAGE_WEIGHTS = (40, 12, 8, 12, 12, 10, 6)
PLATFORMS = (
    ("x", "x_mentions", 70),
    ("reddit", "reddit_search", 20),
    ("facebook", "fb_page", 7),
    ("instagram", "ig", 3),
)
FILLERS = ("", "", "", " pls", " again", " today", " ?!", " #fail", " thx", " 🙏")


def texts_by_language() -> dict[str, list[str]]:
    """The bundled sample posts' texts per language: real wording in all seven."""
    texts: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for line in sample_path().read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("lang") in texts and not record.get("is_own"):
            texts[record["lang"]].append(record["text"])
    return texts


def records(n: int, *, end: datetime, seed: int = 21) -> Iterator[tuple[dict[str, object], str]]:
    """n export records in time order over DAYS days ending at `end`, each with its JSON line.

    Authors: a pool of n/8 with Zipf-like weights (1/(rank+10)), so a few post thousands
    of times and most once or twice; 2% of posts repeat the author's previous text."""
    rng = random.Random(seed)
    texts = texts_by_language()
    pool = max(100, n // 8)
    cumulative, total = [], 0.0
    for rank in range(pool):
        total += 1 / (rank + 10)
        cumulative.append(total)
    author_lang = {}
    last_text: dict[int, str] = {}
    span = DAYS * 86400
    start = end - timedelta(seconds=span)
    platforms = [p for p, _, _ in PLATFORMS]
    platform_weights = [w for _, _, w in PLATFORMS]
    sources = {p: s for p, s, _ in PLATFORMS}
    for i in range(n):
        created = start + timedelta(seconds=span * (i + rng.random()) / n)
        author = rng.choices(range(pool), cum_weights=cumulative)[0]
        lang = author_lang.setdefault(author, rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0])
        if author in last_text and rng.random() < 0.02:
            text = last_text[author]
        else:
            text = (
                rng.choice(texts[lang])
                + rng.choice(FILLERS)
                + (f" #{rng.randrange(10_000)}" if rng.random() < 0.5 else "")
            )
        last_text[author] = text
        platform = (
            platforms[author % 97 % len(platforms)] if author < 50 else rng.choices(platforms, platform_weights)[0]
        )
        native = f"{i:09d}"
        record: dict[str, object] = {
            "id": native,
            "platform": platform,
            "kind": "mention",
            "text": text,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lang": lang if platform == "x" else None,  # X tags a language, the others do not
            "url": f"https://example.invalid/{platform}/{native}",
            "author": {
                "id": f"u{author}",
                "handle": f"user{author}",
                "name": f"User {author}",
                "followers": int(rng.paretovariate(1.2) * 40),
                "verified": author < 20,
            },
            "conversation_id": native,
            "metrics": {"likes": int(rng.paretovariate(1.5)) - 1, "reposts": 0, "replies": 0},
            "source": sources[platform],
        }
        yield record, json.dumps(record, ensure_ascii=False)


def write_config(folder: Path, db: Path) -> Path:
    brand = DEMO_BRAND
    lines = ["[brand]", f"name = {json.dumps(brand['name'])}"]
    for key in ("aliases", "handles", "staff_accounts", "competitors", "languages"):
        lines.append(f"{key} = {json.dumps(brand[key], ensure_ascii=False)}")
    own = ", ".join(f"{p} = {json.dumps(ids)}" for p, ids in brand["own_accounts"].items())
    lines += [f"own_accounts = {{ {own} }}", f"timezone = {json.dumps(brand['timezone'])}", ""]
    lines += ["[storage]", f"path = {json.dumps(db.as_posix())}", ""]
    path = folder / "scale.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def ingest(config_path: Path, n: int, end: datetime) -> tuple[list[tuple[int, float]], float]:
    """Feed n records through the pipeline: (posts, seconds) per slice, and seconds in all."""
    config = load_config(config_path)
    store = Store(config.resolve_path(config.storage.path))
    pipeline = Pipeline(store, config)  # loads the triage models before the clock starts
    slice_size = 100_000 if n >= 1_000_000 else max(1, n // 10)
    slices: list[tuple[int, float]] = []
    batch = []
    done, slice_start, started = 0, time.perf_counter(), time.perf_counter()
    for record, line in records(n, end=end):
        batch.append(record_to_post(record, json_text=line))
        if len(batch) == BATCH:
            pipeline.ingest("bench", FetchResult(tuple(batch), None))
            done += len(batch)
            batch = []
            if done % slice_size < BATCH:
                now = time.perf_counter()
                slices.append((done, now - slice_start))
                rate = slice_size / (now - slice_start)
                print(f"  {done:>9,} posts  {rate:7.0f} posts/s  ({now - started:6.0f} s so far)", flush=True)
                slice_start = now
    if batch:
        pipeline.ingest("bench", FetchResult(tuple(batch), None))
    total = time.perf_counter() - started
    store.close()
    return slices, total


def run_command(config_path: Path, *args: str) -> tuple[float, float, str]:
    """Run `watcher ARGS` against the checkout: (seconds, peak MB of its process, output)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="160", WATCHER_CONFIG=str(config_path))
    command = [sys.executable, "-c", "from watcher.cli.main import main; main()", *args]
    started = time.perf_counter()
    # run from the checkout: `python -c` puts the working folder first on sys.path
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        print(output)
        raise SystemExit(f"watcher {' '.join(args)} exited with {child.returncode}")
    return seconds, usage.ru_maxrss / 1024, output  # ru_maxrss is in KiB on Linux


def disk(db: Path) -> tuple[int, dict[str, int]]:
    """The bytes the database's pages hold (free pages left by pruning not counted: new rows
    reuse them) and the bytes each table and index takes (dbstat, if built in)."""
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, free, size = (
        conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size")
    )
    try:
        parts = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall())
    except sqlite3.OperationalError:
        parts = {}
    conn.close()
    return (pages - free) * size, parts


def deliver_and_prune(config_path: Path, end: datetime) -> int:
    """What a running service and its team do to the history by the day after the import: the outbox
    delivered (no Slack here: rows are marked sent when they were made), items older than a
    week closed (dismissed), then the pruning job of storage.raw_days."""
    from watcher.scheduler import prune_payloads
    from watcher.service import Service

    config = load_config(config_path)
    day_after = datetime.now(UTC) + timedelta(days=1)  # the outbox rows were made now, during the import
    service = Service.from_config(config, connectors={}, clock=lambda: day_after)
    with service.store.transaction():
        service.store.db.execute("UPDATE outbox SET status = 'sent', sent_at = created_at, ref = 'bench'")
        service.store.db.execute(
            "UPDATE queue_items SET state = 'dismissed' WHERE posted_at < ?",
            [iso(end - timedelta(days=7))],
        )
    dropped = prune_payloads(service)
    service.close()
    return dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("posts", type=int, help="how many posts to build, e.g. 300000")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep the database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "scale.db"
        for old in folder.glob("scale.db*"):
            old.unlink()
        config_path = write_config(folder, db)
        end = datetime.now(UTC) - timedelta(minutes=1)
        print(f"checkout: {ROOT}")
        print(f"ingest of {args.posts:,} posts over {DAYS} days:")
        slices, total = ingest(config_path, args.posts, end)
        first, last = slices[0], slices[-1]
        print(
            f"ingest: {total:.0f} s in all, {args.posts / total:.0f} posts/s; last slice "
            f"{last[1] / first[1]:.2f}x the time of the first"
        )
        seconds, peak, output = run_command(config_path, "rules", "test", "--since", "30d")
        replayed = next((line for line in output.splitlines() if line.startswith("replayed")), "")
        print(f"rules test --since 30d: {seconds:.1f} s, peak {peak:.0f} MB  ({replayed.split(':')[0]})")
        seconds, peak, _ = run_command(config_path, "queue")
        print(f"watcher queue: {seconds:.2f} s (start-up included), peak {peak:.0f} MB")
        config = load_config(config_path)
        store = Store(db)
        week = period_window("week", timezone=config.brand.timezone, now=end)
        t0 = time.perf_counter()
        weekly = collect_digest(store, week, sla_targets=SLA_DEFAULTS, now=end)
        print(f"weekly digest over {weekly.volume.total:,} posts: {time.perf_counter() - t0:.2f} s")
        stored = store.posts.count_posts()
        store.close()
        for when in ("as ingested", "delivered and pruned"):
            if when != "as ingested":
                dropped = deliver_and_prune(config_path, end)
                print(
                    f"pruning (storage.raw_days = {config.storage.raw_days}): {dropped:,} raw and sent outbox payloads"
                )
            size, parts = disk(db)
            print(f"disk, {when}: {size / 1e6:.0f} MB for {stored:,} posts = {size / stored:.0f} bytes per post")
            for name, part in list(parts.items())[:12]:
                print(f"  {name:<40} {part / stored:6.0f} bytes per post")


if __name__ == "__main__":
    main()
