"""The digest's store queries: exact against brute force, index use, sampling."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tests.watcher.digest.fixture import add, at, post
from watcher.store import Store
from watcher.store.reports import DigestQueries

T0 = at("2026-10-20T00:00:00")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_top_posts_by_reach_match_brute_force(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(150):
        author = f"u{rng.randrange(60)}"
        add(
            store,
            post(
                f"n{i}",
                (T0 + timedelta(minutes=rng.randrange(3 * 24 * 60))).isoformat()[:19],
                "text",
                author=author,
                followers=int(rng.paretovariate(1.1) * (5 if seed % 2 else 500)),
                likes=int(rng.paretovariate(1.5)) - 1,
            ),
            rng.choice(["negative", "neutral", "positive"]),
        )
    since, until = T0 + timedelta(days=1), T0 + timedelta(days=2)
    everything = store.db.execute(
        "SELECT p.key, COALESCE(a.followers, 0) + p.likes + p.reposts + p.replies, p.created_at FROM posts p "
        "LEFT JOIN authors a ON a.key = p.author_key WHERE p.created_at >= ? AND p.created_at < ?",
        [since.isoformat(), until.isoformat()],
    ).fetchall()
    expected = sorted(everything, key=lambda r: (-r[1], r[2], r[0]))[:5]
    got = store.reports.digest_top_posts(since=since, until=until, limit=5)
    assert [(p["key"], p["reach"]) for p in got] == [(r[0], r[1]) for r in expected]
    negative = store.reports.digest_top_posts(since=since, until=until, limit=3, sentiment_label="negative")
    assert all(p["sentiment_label"] == "negative" for p in negative) and len(negative) == 3


def test_negative_sample_takes_every_kth_post_per_language(store: Store) -> None:
    for i in range(10):
        add(store, post(f"e{i}", f"2026-10-20T10:{i:02d}:00", f"bad {i}"), "negative")
    add(store, post("i0", "2026-10-20T11:00:00", "pessimo"), "negative", lang="it")
    add(store, post("ok", "2026-10-20T12:00:00", "fine"), "positive")
    window = {"since": T0, "until": T0 + timedelta(days=1)}
    sample = store.reports.digest_negative_sample(**window, languages={"en": 10, "it": 1}, per_language=3)
    # en: step ceil(10 / 3) = 4 -> rowids 4 and 8; it: every post
    assert [row["key"] for row in sample] == ["x:e3", "x:e7", "x:i0"]
    full = store.reports.digest_negative_sample(**window, languages={"en": 10}, per_language=100)
    assert len(full) == 10


def test_counts_stream_through_the_covering_index_without_sorting(store: Store) -> None:
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT " + DigestQueries._QUARTER + ", p.sentiment_label, p.platform, p.source, p.lang, "
        "p.intents, COUNT(*) FROM posts p INDEXED BY posts_digest WHERE " + DigestQueries._IN_QUARTERS + " "
        "GROUP BY 1, 2, 3, 4, 5, 6",
        DigestQueries._quarter_params(T0, T0 + timedelta(days=1)),
    ).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX posts_digest" in details
    assert "TEMP B-TREE" not in details


def test_counts_respect_exact_instants_inside_a_quarter(store: Store) -> None:
    add(store, post("a", "2026-10-20T10:07:00", "a"), "neutral")
    add(store, post("b", "2026-10-20T10:09:00", "b"), "neutral")
    rows = store.reports.digest_counts(since=at("2026-10-20T10:08:00"), until=at("2026-10-20T10:14:00"))
    assert [(r[0], r[-1]) for r in rows] == [("2026-10-20T10:0", 1)]
    assert store.reports.digest_counts(since=T0, until=T0) == []


def test_scheduled_runs_are_claimed_once(store: Store) -> None:
    assert store.reports.claim_digest_run("digest:daily:x", now=T0)
    assert not store.reports.claim_digest_run("digest:daily:x", now=T0)
    store.reports.finish_digest_run("digest:daily:x", attempt=1, ref=None)  # failed: may be tried again
    assert store.reports.claim_digest_run("digest:daily:x", now=T0)
