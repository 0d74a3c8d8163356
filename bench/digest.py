"""Digest over 1M stored posts: generate them into a temporary database, time the
digest, and time a plain COUNT(*) scan of the same posts as the baseline.

    /tmp/venv/bin/python bench/digest.py [--posts 1000000] [--days 30]

Prints the seconds for each and their ratio. Nothing is downloaded; the posts are
synthetic (templated complaint, question and praise texts in en/it/de).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watcher.config import DigestConfig  # noqa: E402
from watcher.core.post import normalized_text  # noqa: E402
from watcher.digest.figures import SLA_DEFAULTS, collect_digest
from watcher.digest.spikes import SpikeRule, check_spikes  # noqa: E402
from watcher.digest.windows import period_window
from watcher.store import Store, iso  # noqa: E402
from watcher.store.posts import norm_hash  # noqa: E402

END = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
TEXTS = {
    "en": {
        "negative": [
            "still waiting for my refund after {n} days",
            "the app keeps crashing after the update",
            "my delivery is late again, order {n}",
            "charged twice on my card, please fix",
            "customer service never answers, {n} hours on hold",
        ],
        "neutral": ["how do I change my delivery address", "is the store open on sunday", "order {n} status?"],
        "positive": ["thanks for the quick help", "love the new app design", "great service today"],
    },
    "it": {
        "negative": [
            "aspetto ancora il rimborso da {n} giorni",
            "l'app si blocca dopo l'aggiornamento",
            "consegna in ritardo di nuovo, ordine {n}",
        ],
        "neutral": ["come cambio indirizzo di consegna", "orari del negozio domenica"],
        "positive": ["grazie per l'aiuto veloce", "servizio ottimo"],
    },
    "de": {
        "negative": [
            "warte immer noch auf meine erstattung seit {n} tagen",
            "die app stürzt nach dem update ab",
            "lieferung schon wieder verspätet, bestellung {n}",
        ],
        "neutral": ["wie ändere ich die lieferadresse"],
        "positive": ["danke für die schnelle hilfe"],
    },
}
PLATFORMS = [("x", "x_mentions"), ("reddit", "reddit_search"), ("import", "replay")]
PRIORITIES = ["urgent", "high", "normal", "low"]
AGENTS = ["ana", "ben", "chen", "dara"]
POST_COLUMNS = (
    "key, platform, native_id, source, kind, url, text, norm_hash, lang, created_at, fetched_at, author_key, "
    "likes, reposts, replies, is_own, is_repost, duplicate_of, score, priority, needs_reply, sentiment, "
    "sentiment_label, intents, reasons, tags, channel, raw"
)


def _posts(n: int, days: int, rng: random.Random, authors: int) -> Iterator[tuple[object, ...]]:
    span = days * 86400
    step = span / n
    start = END - timedelta(days=days)
    texts: dict[tuple[str, int], tuple[str, str]] = {}
    for i in range(n):
        created = start + timedelta(seconds=i * step + rng.random() * step)
        lang = rng.choices(("en", "it", "de"), weights=(6, 2, 2))[0]
        label = rng.choices(("negative", "neutral", "positive"), weights=(3, 4, 3))[0]
        template = rng.choice(TEXTS[lang][label])
        number = rng.randint(2, 60)
        if (template, number) not in texts:
            text = template.format(n=number)
            texts[(template, number)] = (text, norm_hash(normalized_text(text)))
        text, norm = texts[(template, number)]
        platform, source = PLATFORMS[i % 3]
        sentiment = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}[label]
        intents = '["complaint"]' if label == "negative" else ('["question"]' if "?" in text else "[]")
        score = rng.randint(0, 100)
        priority = PRIORITIES[0 if score >= 80 else 1 if score >= 60 else 2 if score >= 35 else 3]
        at = iso(created)
        yield (
            f"{platform}:{i}",
            platform,
            str(i),
            source,
            "mention",
            f"https://example.invalid/{platform}/{i}",
            text,
            norm,
            lang,
            at,
            at,
            f"{platform}:u{rng.randrange(authors)}",
            int(rng.paretovariate(1.5)) - 1,
            int(rng.paretovariate(2.0)) - 1,
            int(rng.paretovariate(2.5)) - 1,
            0,
            0,
            None,
            score,
            priority,
            int(score >= 40 and rng.random() < 0.33),
            sentiment,
            label,
            intents,
            "[]",
            "[]",
            "",
            "{}",
        )


def generate(store: Store, *, posts: int, days: int, seed: int = 7) -> None:
    """Fill an empty store with `posts` posts over `days` days ending at END, their
    authors, and queue items (with responses) for the posts that need a reply."""
    rng = random.Random(seed)
    conn = store.db.conn
    marks = ",".join("?" * len(POST_COLUMNS.split(",")))
    authors = max(1000, posts // 10)
    # bulk load: drop the posts indexes, insert, build them again (much faster than
    # updating six indexes row by row); the migrations' definitions are kept verbatim
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'posts' AND sql IS NOT NULL"
    ).fetchall()
    with store.transaction():
        for name, _sql in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.executemany(f"INSERT INTO posts ({POST_COLUMNS}) VALUES ({marks})", _posts(posts, days, rng, authors))
        for _name, sql in indexes:
            conn.execute(sql)
        conn.executemany(
            "INSERT INTO authors (key, platform, author_id, handle, followers, verified, post_count) "
            "VALUES (?, ?, ?, ?, ?, 0, 1)",
            (
                (f"{p}:u{i}", p, f"u{i}", f"user{i}", int(rng.paretovariate(1.2) * 50))
                for p, _ in PLATFORMS
                for i in range(authors)
            ),
        )
        rows = conn.execute("SELECT key, created_at, priority, score FROM posts WHERE needs_reply = 1").fetchall()
        conn.executemany(
            "INSERT INTO queue_items (post_key, state, priority, score, channel, assignee, escalated, repeat_count, "
            "dismiss_reason, first_response_at, created_at, updated_at, version) "
            "VALUES (?, ?, ?, ?, '#care', ?, ?, 0, ?, ?, ?, ?, 1)",
            (_item(row, rng) for row in rows),
        )


def _item(row: tuple[str, str, str, int], rng: random.Random) -> tuple[object, ...]:
    key, created_at, priority, score = row
    created = datetime.fromisoformat(created_at)
    state = rng.choices(("replied", "dismissed", "new"), weights=(7, 2, 1))[0]
    response = iso(created + timedelta(minutes=rng.expovariate(1 / 90))) if state == "replied" else None
    return (
        key,
        state,
        priority,
        score,
        rng.choice(AGENTS) if state != "new" else None,
        int(rng.random() < 0.03),
        "spam" if state == "dismissed" else None,
        response,
        iso(created + timedelta(minutes=2)),
        iso(created + timedelta(minutes=2)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--db", type=Path, help="keep the generated database here and reuse it next time")
    parser.add_argument("--profile", action="store_true", help="print where the full digest spends its time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        fresh = not path.exists()
        store = Store(path)
        t0 = time.perf_counter()
        if fresh:
            generate(store, posts=args.posts, days=args.days)
            print(f"generated {store.posts.count_posts():,} posts in {time.perf_counter() - t0:.1f} s")
        tz = "Europe/Rome"
        since, until = END - timedelta(days=args.days), END
        t0 = time.perf_counter()
        baseline = store.db.execute(
            "SELECT COUNT(*) FROM posts WHERE created_at >= ? AND created_at < ?", [iso(since), iso(until)]
        ).fetchone()[0]
        base_s = time.perf_counter() - t0
        window = period_window("custom", since=since, until=until, timezone=tz, now=END)
        if args.profile:
            cProfile.runctx(
                "collect_digest(store, window, sla_targets=SLA_DEFAULTS, now=END)", globals(), locals(), "digest.prof"
            )
            pstats.Stats("digest.prof").sort_stats("cumtime").print_stats(25)
        t0 = time.perf_counter()
        digest = collect_digest(store, window, sla_targets=SLA_DEFAULTS, now=END)
        full_s = time.perf_counter() - t0
        week = period_window("week", timezone=tz, now=END)
        t0 = time.perf_counter()
        weekly = collect_digest(store, week, sla_targets=SLA_DEFAULTS, now=END)
        week_s = time.perf_counter() - t0
        print(f"baseline COUNT(*) over {baseline:,} posts: {base_s:.3f} s")
        print(
            f"digest over all {digest.volume.total:,} posts ({args.days} days): {full_s:.2f} s "
            f"= {full_s / base_s:.1f}x the baseline"
        )
        print(f"weekly digest over {weekly.volume.total:,} posts: {week_s:.2f} s = {week_s / base_s:.1f}x the baseline")
        t0 = time.perf_counter()
        spikes = check_spikes(
            store, rule=SpikeRule.from_digest(DigestConfig()), channel="C0BENCH", timezone=tz, clock=lambda: END
        )
        spike_s = time.perf_counter() - t0
        print(f"hourly spike check over the last 8 days: {spike_s:.2f} s = {spike_s / base_s:.1f}x the baseline")
        print(
            f"themes found: {sum(len(t) for t in digest.themes.values())}; queue items: {digest.responses.items:,}; "
            f"spikes: {len(spikes)}"
        )
        store.close()


if __name__ == "__main__":
    main()
