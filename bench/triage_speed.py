"""Throughput: the full triage engine beside VADER alone, same process, same posts.

    python bench/triage_speed.py [N]

The engine is given the posts 100 at a time (a page from X or Reddit), as the
pipeline does (`Triager.triage_many`). Posts come from ../shared/data (complaints + the multilingual sentiment val sets) or,
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
from rules.triage import TriageContext, Triager  # noqa: E402
from tools.sentiment_fit import DataMissing, read_jsonl, shared_data_dir  # noqa: E402
from watcher.core.post import Post  # noqa: E402

PAGE = 100  # posts per page from X and Reddit, and what the pipeline triages at once


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


def rates(triager: Triager, posts: list[Post], ctx: TriageContext, *, runs: int = 5) -> tuple[float, float]:
    """(VADER posts/s, engine posts/s), each the best of `runs` alternating passes, in CPU
    time of this process (the machine is shared: wall time measures the neighbours too).
    The engine gets the posts a page at a time, as the pipeline hands them over."""
    vader = triager.sentiment.vader
    pages = [posts[i : i + PAGE] for i in range(0, len(posts), PAGE)]
    contexts = [ctx] * PAGE
    for page in pages[:10]:  # warm up both: regex caches, and the pages of langid's tables
        triager.triage_many(page, contexts[: len(page)])
        for post in page:
            vader.polarity_scores(post.text)
    vader_best = engine_best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        for post in posts:
            vader.polarity_scores(post.text)
        vader_best = min(vader_best, time.process_time() - start)
        start = time.process_time()
        for page in pages:
            triager.triage_many(page, contexts[: len(page)])
        engine_best = min(engine_best, time.process_time() - start)
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
