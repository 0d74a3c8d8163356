"""Throughput: the full triage engine beside VADER alone, same process, same posts.

    python bench/triage_speed.py [N]

Posts come from ../shared/data (complaints + the multilingual sentiment val sets) or,
without it, from bench/urgent_set.jsonl. Models load before the clock starts (a
Triager is built once per process, never per post). Target: ratio >= 0.4.

Two runs: posts without a platform language tag (Reddit, the detector always runs)
and the same posts with the tag X puts on every post (here: the data set's own
language), which a tweet-sized post is taken at (rules/language.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.triage_eval import BRAND, LANGS, URGENT_SET, as_post  # noqa: E402
from rules.train import DataMissing, read_jsonl, shared_data_dir  # noqa: E402
from rules.triage import TriageContext, Triager  # noqa: E402
from watcher.post import Post  # noqa: E402


def tagged_texts(n: int) -> list[tuple[str, str | None]]:
    """(text, platform language tag) pairs; no tag for the fallback set."""
    try:
        data = shared_data_dir()
        texts: list[tuple[str, str | None]] = [(r["text"], "en") for r in read_jsonl(data / "complaints_dev.jsonl")]
        for lang in ("it", "es", "fr", "de", "pt"):
            texts += [(r["text"], lang) for r in read_jsonl(data / f"sentiment_{lang}_val.jsonl")]
    except DataMissing:
        texts = [(r["text"], None) for r in read_jsonl(URGENT_SET)]
    return (texts * (n // len(texts) + 1))[:n]


def sample_texts(n: int) -> list[str]:
    return [text for text, _ in tagged_texts(n)]


def rates(triager: Triager, posts: list[Post], ctx: TriageContext) -> tuple[float, float]:
    """(VADER posts/s, engine posts/s), each the best of three passes (the machine is shared)."""
    vader = triager.sentiment.vader
    for post in posts[:1000]:  # warm up both: regex caches, and the pages of langid's 40 MB table
        triager.triage(post, ctx)
        vader.polarity_scores(post.text)
    vader_best = engine_best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for post in posts:
            vader.polarity_scores(post.text)
        vader_best = min(vader_best, time.perf_counter() - start)
        start = time.perf_counter()
        for post in posts:
            triager.triage(post, ctx)
        engine_best = min(engine_best, time.perf_counter() - start)
    return len(posts) / vader_best, len(posts) / engine_best


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 3000
    texts = tagged_texts(n)
    triager = Triager(languages=LANGS)
    ctx = TriageContext(brand=BRAND)
    for label, posts in (
        ("no platform language tag", [as_post(t, i) for i, (t, _) in enumerate(texts)]),
        ("with the platform's tag ", [as_post(t, i, lang) for i, (t, lang) in enumerate(texts)]),
    ):
        vader_rate, engine_rate = rates(triager, posts, ctx)
        print(
            f"{n} posts, {label}: VADER alone {vader_rate:,.0f} posts/s, full engine {engine_rate:,.0f} posts/s, "
            f"ratio engine/VADER = {engine_rate / vader_rate:.2f} (target >= 0.40)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
