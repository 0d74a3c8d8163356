"""Language detection throughput: detect_many on batches vs detect per post vs VADER alone.

    python bench/langid_speed.py [N] [BATCH]

Same posts (bench/triage_speed.py's texts, without their language tag, so the
detector runs on every post that has words), same process, each figure the best of
five passes, in CPU and in wall time (the machine is shared). Also checks that detect_many gave exactly the
answers detect gave. Goal: <= 15 us/post for batches of ~200.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.triage_eval import LANGS  # noqa: E402
from bench.triage_speed import sample_texts  # noqa: E402
from rules.language import LanguageDetector  # noqa: E402


def best_seconds(run: Callable[[], object], passes: int = 5) -> tuple[float, float]:
    """(best CPU seconds, best wall seconds) over the passes: on a shared machine the
    process's CPU time is the steadier figure, the wall time the one a user waits."""
    cpu = wall = float("inf")
    for _ in range(passes):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        run()
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start_wall)
    return cpu, wall


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 3000
    size = int(argv[1]) if len(argv) > 1 else 200
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = sample_texts(n)
    hints: list[str | None] = [None] * n
    batches = [(texts[i : i + size], hints[i : i + size]) for i in range(0, n, size)]
    detector = LanguageDetector(LANGS)
    vader = SentimentIntensityAnalyzer()

    one_by_one = [detector.detect(text) for text in texts]  # also warms the model's pages up
    batched = [d for batch in batches for d in detector.detect_many(*batch)]
    differ = sum(a != b for a, b in zip(one_by_one, batched, strict=True))
    detected = sum(not d.why.startswith("no words") for d in one_by_one)

    per_post = best_seconds(lambda: [detector.detect(text) for text in texts], passes=3)
    many = best_seconds(lambda: [detector.detect_many(*batch) for batch in batches])
    vader_s = best_seconds(lambda: [vader.polarity_scores(text) for text in texts])
    print(f"{n} posts without a platform language tag ({detected} with words to detect), batches of {size}:")
    print(f"  {'':<16} {'CPU time':>24}   {'wall time':>24}")
    for label, (cpu, wall) in (("detect per post", per_post), ("detect_many", many), ("VADER alone", vader_s)):
        print(
            f"  {label:<16} {n / cpu:>9,.0f} posts/s {cpu / n * 1e6:6.1f} us/post"
            f"   {n / wall:>9,.0f} posts/s {wall / n * 1e6:6.1f} us/post"
        )
    print(
        f"  CPU time: detect_many is {per_post[0] / many[0]:.1f}x faster than detect per post and takes "
        f"{many[0] / vader_s[0]:.2f}x the time of VADER alone (goal <= 15 us/post)"
    )
    scorer = detector._batch
    rewalked = scorer.rewalked if scorer is not None else "no batch scorer"
    print(f"  answers differing from detect: {differ} of {n}; batches walked byte by byte: {rewalked}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
