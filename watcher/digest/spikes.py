"""Spike alerts: an hour with far more mentions, or a far larger negative share, than usual.

Two statistics, each over complete UTC hours of counted posts (not own, not duplicates):

- Volume: the hour's posts x against the hour that began at the same local clock
  time (brand.timezone, DST-correct) on each of the previous 7 days (7 values; this
  respects the daily rhythm). With their median m and median
  absolute deviation MAD, the robust z-score is (x - m) / max(1.4826 * MAD, sqrt(m), 1)
  (the sqrt(m) floor is the Poisson noise of a count, so a quiet week with MAD 0 does
  not make every extra post a spike). A spike needs z >= threshold (4), x >= ratio
  (2) * m and x >= min_posts (20).
- Negative share: the hour's share p of negative posts against the pooled share p0
  over the previous 7 x 24 hours: z = (p - p0) / sqrt(p0 (1 - p0) / n) with p0 kept
  within [0.02, 0.98]. A spike needs z >= threshold, p - p0 >= min_share_rise (0.15)
  and n >= min_posts.

Once per spike, not every hour of it: the database keeps, per statistic, the first and
last spiking hour of the spike last alerted. A run of spiking hours that overlaps or
touches that range, or has fewer than CALM_HOURS (2) calm hours between it and the
range, is the same spike going on (or its first hour moved because late posts completed
an earlier hour): the range grows and nothing is sent. Otherwise it is a new spike: its alert (an outbox row with dedupe key
`spike:<statistic>:<first hour>`) and the new range commit in one transaction, so a
crash or restart neither loses the alert nor sends it twice.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from watcher.config import DigestConfig
from watcher.core.post import utc_now
from watcher.digest.figures import quarter_start
from watcher.digest.text import percent
from watcher.slack.mrkdwn import escape, link
from watcher.store import Store

HOUR = timedelta(hours=1)
BASELINE_DAYS = 7
# how many recent complete hours each check looks at, so a missed run catches up
LOOKBACK_HOURS = 3
# a spike is over once this many hours in a row were calm: a single calm hour inside an
# outage (a lull, posts not stored yet) does not make the next spiking hour a new alert
CALM_HOURS = 2


@dataclass(frozen=True)
class SpikeRule:
    threshold: float
    volume_ratio: float
    min_posts: int
    min_share_rise: float

    @classmethod
    def from_digest(cls, digest: DigestConfig) -> SpikeRule:
        """The `[digest]` spike_* keys (their defaults live there, once)."""
        return cls(
            digest.spike_threshold, digest.spike_volume_ratio, digest.spike_min_posts, digest.spike_min_share_rise
        )


@dataclass(frozen=True)
class Hour:
    start: datetime  # UTC
    posts: int
    negative: int


@dataclass(frozen=True)
class Spike:
    statistic: str  # volume | negative_share
    hour: datetime  # the hour found spiking
    started: datetime  # the first hour of this run of spiking hours
    value: float  # posts, or negative share
    baseline: float  # median posts at this hour, or the pooled negative share
    z: float
    posts: int
    negative: int

    @property
    def dedupe_key(self) -> str:
        """The outbox key of this spike's alert, when it is a new spike (see check_spikes)."""
        return f"spike:{self.statistic}:{self.started.strftime('%Y-%m-%dT%H')}"


def hourly_series(counts: Sequence[tuple[str, str, int]], *, since: datetime, until: datetime) -> list[Hour]:
    """Every UTC hour in [since, until), zero-filled, from (quarter, sentiment, posts) rows."""
    posts: Counter[datetime] = Counter()
    negative: Counter[datetime] = Counter()
    for quarter, label, count in counts:
        hour = quarter_start(quarter).replace(minute=0)
        posts[hour] += count
        if label == "negative":
            negative[hour] += count
    hours, moment = [], since
    while moment < until:
        hours.append(Hour(moment, posts[moment], negative[moment]))
        moment += HOUR
    return hours


def volume_z(value: int, baseline: Sequence[int]) -> tuple[float, float]:
    """(robust z-score, median) of `value` against `baseline` counts."""
    median = statistics.median(baseline) if baseline else 0.0
    mad = statistics.median([abs(b - median) for b in baseline]) if baseline else 0.0
    scale = max(1.4826 * mad, math.sqrt(median), 1.0)
    return (value - median) / scale, float(median)


def share_z(negative: int, posts: int, base_negative: int, base_posts: int) -> tuple[float, float]:
    """(z-score, baseline share) of this hour's negative share against the pooled one;
    the z-score keeps the baseline within [0.02, 0.98] so a spotless week leaves room for noise."""
    baseline = base_negative / base_posts if base_posts else 0.0
    if posts == 0:
        return 0.0, baseline
    p0 = min(0.98, max(0.02, baseline))
    return (negative / posts - p0) / math.sqrt(p0 * (1 - p0) / posts), baseline


def same_local_hour(hours: Sequence[Hour], index: int, days: int, tz: ZoneInfo) -> int | None:
    """Index of the hour that started at the same local clock time `days` days earlier
    (DST-correct: after clocks change it is 23 or 25 hours back), or None if not in `hours`."""
    local = hours[index].start.astimezone(tz)
    earlier = datetime.combine(local.date() - timedelta(days=days), local.time(), tzinfo=tz).astimezone(UTC)
    offset, rest = divmod(earlier - hours[0].start, HOUR)
    return int(offset) if not rest and 0 <= offset < index else None


def evaluate(
    hours: Sequence[Hour], index: int, rule: SpikeRule, *, timezone: str = "UTC"
) -> dict[str, tuple[float, float, float]]:
    """Statistics spiking at hours[index] (a contiguous hourly series): name -> (value,
    baseline, z). Needs the 7 days before `index`; returns {} when they are not there."""
    tz = ZoneInfo(timezone)
    earlier = [same_local_hour(hours, index, d, tz) for d in range(1, BASELINE_DAYS + 1)]
    week = BASELINE_DAYS * 24
    if index < week or any(i is None for i in earlier):
        return {}
    hour = hours[index]
    found: dict[str, tuple[float, float, float]] = {}
    if hour.posts < rule.min_posts:
        return found
    z, median = volume_z(hour.posts, [hours[i].posts for i in earlier if i is not None])
    if z >= rule.threshold and hour.posts >= rule.volume_ratio * median:
        found["volume"] = (float(hour.posts), median, z)
    window = hours[index - week : index]
    base_posts = sum(h.posts for h in window)
    base_negative = sum(h.negative for h in window)
    z, p0 = share_z(hour.negative, hour.posts, base_negative, base_posts)
    share = hour.negative / hour.posts
    if z >= rule.threshold and share - p0 >= rule.min_share_rise:
        found["negative_share"] = (share, p0, z)
    return found


def detect_spikes(
    hours: Sequence[Hour], rule: SpikeRule, *, last: int = LOOKBACK_HOURS, timezone: str = "UTC"
) -> list[Spike]:
    """Spikes in the last `last` hours of `hours`, each dated by the first hour of its run."""
    spikes = []
    for index in range(max(0, len(hours) - last), len(hours)):
        for statistic, (value, baseline, z) in evaluate(hours, index, rule, timezone=timezone).items():
            first = index
            while first > 0 and statistic in evaluate(hours, first - 1, rule, timezone=timezone):
                first -= 1
            spikes.append(
                Spike(
                    statistic=statistic,
                    hour=hours[index].start,
                    started=hours[first].start,
                    value=value,
                    baseline=baseline,
                    z=z,
                    posts=hours[index].posts,
                    negative=hours[index].negative,
                )
            )
    return spikes


def continues(known: tuple[datetime, datetime], first: datetime, last: datetime) -> bool:
    """Whether the run of spiking hours [first, last] is the spike `known` (its first and
    last hour) going on: they overlap or touch, or fewer than CALM_HOURS calm hours lie
    between them."""
    known_first, known_last = known
    gap = max(first - known_last, known_first - last)  # from the end of one to the start of the other
    return gap <= CALM_HOURS * HOUR


def alert_text(spike: Spike, *, timezone: str, brand: str = "") -> str:
    start = spike.hour.astimezone(ZoneInfo(timezone))
    when = f"{start.strftime('%a %d %b %H:%M')}-{(start + HOUR).strftime('%H:%M')} ({timezone})"
    who = f"{brand} " if brand else ""
    if spike.statistic == "volume":
        return (
            f":rotating_light: *{who}mention spike* {when}: {spike.posts:,} mentions, "
            f"{spike.value / max(spike.baseline, 1):.1f}x the usual {spike.baseline:g} for this hour "
            f"(robust z {spike.z:.1f}); {percent(spike.negative / spike.posts)} negative."
        )
    return (
        f":rotating_light: *{who}negative spike* {when}: {percent(spike.value)} of {spike.posts:,} mentions negative, "
        f"against {percent(spike.baseline)} over the last 7 days (z {spike.z:.1f})."
    )


def alert_payload(spike: Spike, examples: Sequence[Mapping[str, object]], *, timezone: str, brand: str = "") -> dict:
    """Outbox payload: `text` (also the notification fallback) and Block Kit `blocks`."""
    text = alert_text(spike, timezone=timezone, brand=brand)
    lines = []
    for post in examples:
        body = str(post["text"]).replace("\n", " ")
        body = body if len(body) <= 200 else body[:197] + "..."
        url = str(post.get("url") or "")
        platform = str(post["platform"])
        where = link(url, platform) if url.startswith(("https://", "http://")) else escape(platform)
        # the customer's words are escaped: "<!channel>" in a post must not ping anyone
        lines.append(
            f"> {escape(body)}\n> — @{escape(str(post['handle']))} on {where}, reach {int(str(post['reach'])):,}"
        )
    blocks: list[dict[str, object]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    return {
        "text": text,
        "blocks": blocks,
        "spike": {
            "statistic": spike.statistic,
            "hour": spike.hour.isoformat(),
            "started": spike.started.isoformat(),
            "value": spike.value,
            "baseline": spike.baseline,
            "z": round(spike.z, 2),
        },
    }


def check_spikes(
    store: Store,
    *,
    rule: SpikeRule,
    channel: str,
    timezone: str,
    brand: str = "",
    clock: Callable[[], datetime] = utc_now,
    examples: int = 3,
) -> list[Spike]:
    """Look at the last complete hours; queue one alert per new spike. Returns the
    spikes seen, alerted now or before."""
    now = clock()
    until = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    # a week of baseline, the hours checked, a day to find where a spike began, DST slack
    since = until - timedelta(days=BASELINE_DAYS, hours=LOOKBACK_HOURS + 24 + 2)
    rows = [(q, label, count) for q, label, *_rest, count in store.reports.digest_counts(since=since, until=until)]
    spikes = detect_spikes(hourly_series(rows, since=since, until=until), rule, timezone=timezone)
    for spike in spikes:  # oldest hour first
        with store.transaction():
            known = store.spikes.last_spike(spike.statistic)
            if known and continues(known, spike.started, spike.hour):
                first, last = min(known[0], spike.started), max(known[1], spike.hour)
                store.spikes.record_spike(spike.statistic, first=first, last=last, now=now)
                continue
            label = "negative" if spike.statistic == "negative_share" else None
            top = store.reports.digest_top_posts(
                since=spike.hour, until=spike.hour + HOUR, limit=examples, sentiment_label=label
            )
            store.outbox.enqueue_outbox(
                "spike_alert",
                spike.dedupe_key,
                alert_payload(spike, top, timezone=timezone, brand=brand),
                now=now,
                channel=channel,
            )
            store.spikes.record_spike(spike.statistic, first=spike.started, last=spike.hour, now=now)
    return spikes
