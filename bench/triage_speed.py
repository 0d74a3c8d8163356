"""Throughput: the full triage engine beside VADER alone, same process, same posts.

    python bench/triage_speed.py [N]

Posts come from ../shared/data (complaints + the multilingual sentiment val sets) or,
without it, from bench/urgent_set.jsonl. Models load before the clock starts (a
Triager is built once per process, never per post). Target: ratio >= 0.4.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.triage_eval import BRAND, LANGS, URGENT_SET, as_post  # noqa: E402
from rules.train import DataMissing, read_jsonl, shared_data_dir  # noqa: E402
from rules.triage import TriageContext, Triager  # noqa: E402


def sample_texts(n: int) -> list[str]:
    try:
        data = shared_data_dir()
        texts = [r["text"] for r in read_jsonl(data / "complaints_dev.jsonl")]
        for lang in ("it", "es", "fr", "de", "pt"):
            texts += [r["text"] for r in read_jsonl(data / f"sentiment_{lang}_val.jsonl")]
    except DataMissing:
        texts = [r["text"] for r in read_jsonl(URGENT_SET)]
    return (texts * (n // len(texts) + 1))[:n]


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 3000
    posts = [as_post(t, i) for i, t in enumerate(sample_texts(n))]
    triager = Triager(languages=LANGS)
    vader = triager.sentiment.vader
    ctx = TriageContext(brand=BRAND)
    for post in posts[:1000]:  # warm up both: regex caches, and the pages of langid's 40 MB table
        triager.triage(post, ctx)
        vader.polarity_scores(post.text)
    start = time.perf_counter()
    for post in posts:
        vader.polarity_scores(post.text)
    vader_rate = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for post in posts:
        triager.triage(post, ctx)
    engine_rate = n / (time.perf_counter() - start)
    print(f"{n} posts: VADER alone {vader_rate:,.0f} posts/s, full engine {engine_rate:,.0f} posts/s")
    print(f"ratio engine/VADER = {engine_rate / vader_rate:.2f} (target >= 0.40)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
