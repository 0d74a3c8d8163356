"""Review figures of a digest: the rating average and distribution per platform and per
app version, with the change from the previous period, and how many 1-2 star reviews
the brand answered."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watcher.core.post import MAX_STARS, MIN_STARS
from watcher.store.reports import ReviewRow

LOW_STARS = 2  # 1-2 stars: the reviews that need an answer


@dataclass(frozen=True)
class RatingGroup:
    """The reviews of one platform, or one app version of a platform."""

    platform: str
    version: str  # "" for the platform's row
    distribution: tuple[int, ...]  # reviews with 1, 2, 3, 4, 5 stars
    previous_average: float | None  # the same group in the previous period

    @property
    def count(self) -> int:
        return sum(self.distribution)

    @property
    def average(self) -> float | None:
        if not self.count:
            return None
        return sum(stars * n for stars, n in zip(range(MIN_STARS, MAX_STARS + 1), self.distribution, strict=True)) / (
            self.count
        )

    @property
    def change(self) -> float | None:
        """Stars gained (or lost, negative) since the previous period."""
        if self.average is None or self.previous_average is None:
            return None
        return self.average - self.previous_average

    @property
    def name(self) -> str:
        return f"{self.platform} {self.version}" if self.version else self.platform


@dataclass(frozen=True)
class Ratings:
    by_platform: tuple[RatingGroup, ...]
    by_version: tuple[RatingGroup, ...]  # only where the platform names versions
    low_star: int  # 1-2 star reviews in the window
    low_star_answered: int

    @property
    def response_rate(self) -> float | None:
        return self.low_star_answered / self.low_star if self.low_star else None

    @property
    def reviews(self) -> int:
        return sum(group.count for group in self.by_platform)


def _distributions(rows: Iterable[ReviewRow], *, by_version: bool) -> dict[tuple[str, str], list[int]]:
    groups: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * MAX_STARS)
    for row in rows:
        if by_version and not row.app_version:
            continue
        groups[(row.platform, row.app_version if by_version else "")][row.rating - MIN_STARS] += 1
    return groups


def build_ratings(rows: Sequence[ReviewRow], previous: Sequence[ReviewRow]) -> Ratings:
    """The window's review figures, each group beside its previous-period average."""

    def grouped(by_version: bool) -> tuple[RatingGroup, ...]:
        before = {
            key: RatingGroup(*key, tuple(d), None).average
            for key, d in _distributions(previous, by_version=by_version).items()
        }
        now = _distributions(rows, by_version=by_version)
        groups = [RatingGroup(*key, tuple(d), before.get(key)) for key, d in now.items()]
        return tuple(sorted(groups, key=lambda g: (-g.count, g.platform, g.version)))

    low = [row for row in rows if row.rating <= LOW_STARS]
    return Ratings(
        by_platform=grouped(False),
        by_version=grouped(True),
        low_star=len(low),
        low_star_answered=sum(row.answered for row in low),
    )


def stars_change(change: float | None) -> str:
    return "new" if change is None else f"{change:+.2f}"


def ratings_lines(ratings: Ratings, *, versions: int = 4) -> list[str]:
    """The figures as digest lines (Slack mrkdwn, also read as plain text)."""
    if not ratings.reviews:
        return []
    lines = [
        "*Ratings* "
        + "; ".join(
            f"{g.name} {g.average:.2f}★ over {g.count} ({stars_change(g.change)}), "
            + "/".join(str(n) for n in g.distribution)
            + " by 1-5 stars"
            for g in ratings.by_platform
            if g.average is not None
        )
    ]
    if ratings.by_version:
        lines.append(
            "  • by version: "
            + ", ".join(
                f"{g.name} {g.average:.2f}★ ({g.count}, {stars_change(g.change)})"
                for g in ratings.by_version[:versions]
                if g.average is not None
            )
        )
    if ratings.low_star:
        rate = ratings.response_rate or 0.0
        lines.append(f"  • 1-2 star reviews answered: {ratings.low_star_answered} of {ratings.low_star} ({rate:.0%})")
    return lines
