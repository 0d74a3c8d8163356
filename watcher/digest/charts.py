"""Digest charts as PNG bytes (matplotlib's Agg canvas, no display, no global state).

Each chart is built on its own `Figure`, so charts can be drawn from the
scheduler's threads without touching pyplot's global figure manager.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from watcher.digest.figures import PRIORITIES, Digest

SENTIMENT_COLORS = {"negative": "#d64545", "neutral": "#9aa5b1", "positive": "#3f9c5a", "": "#d9dee4"}
PRIORITY_COLORS = {"urgent": "#b42318", "high": "#f79009", "normal": "#2e90fa", "low": "#98a2b3"}
# first-response-time histogram bins: (upper bound in seconds, label)
RESPONSE_BINS: Sequence[tuple[float, str]] = (
    (5 * 60, "≤5m"),
    (15 * 60, "5-15m"),
    (30 * 60, "15-30m"),
    (3600, "30m-1h"),
    (2 * 3600, "1-2h"),
    (4 * 3600, "2-4h"),
    (8 * 3600, "4-8h"),
    (24 * 3600, "8-24h"),
    (float("inf"), ">24h"),
)


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _empty(fig: Figure, message: str) -> bytes:
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#667085")
    ax.set_axis_off()
    return _png(fig)


def volume_chart(digest: Digest) -> bytes:
    """Posts per local hour (day digests) or day (week digests), stacked by sentiment,
    with the negative share as a line (its trend)."""
    fig = Figure(figsize=(10, 3.6))
    series = digest.volume.series
    if not any(b.total for b in series):
        return _empty(fig, "No mentions in this period")
    ax = fig.add_subplot()
    positions = list(range(len(series)))
    bottom = [0] * len(series)
    for label, name in (("negative", "negative"), ("neutral", "neutral"), ("positive", "positive"), ("", "unscored")):
        heights = [b.counts.get(label, 0) for b in series]
        if not any(heights):
            continue
        ax.bar(positions, heights, bottom=bottom, color=SENTIMENT_COLORS[label], label=name, width=0.85)
        bottom = [a + b for a, b in zip(bottom, heights, strict=True)]
    shares = [100 * b.negative_share if b.negative_share is not None else float("nan") for b in series]
    trend = ax.twinx()
    trend.plot(positions, shares, color="#7a271a", linewidth=1.2, marker=".", label="negative share")
    trend.set_ylim(0, 100)
    trend.set_ylabel("negative share (%)", fontsize=8)
    trend.tick_params(labelsize=8)
    trend.spines[["top"]].set_visible(False)
    step = max(1, len(series) // 12)
    ax.set_xticks(positions[::step], [b.label for b in series][::step], rotation=0, fontsize=8)
    unit = "hour" if digest.window.bucket_unit == "hour" else "day"
    ax.set_ylabel(f"mentions per {unit}")
    where = "" if digest.window.period == "custom" else f" ({digest.window.timezone})"  # custom labels say it
    ax.set_title(f"Mentions by sentiment, {digest.window.label()}{where}", fontsize=11)
    bars, names = ax.get_legend_handles_labels()
    line, line_name = trend.get_legend_handles_labels()
    ax.legend(bars + line, names + line_name, loc="upper left", bbox_to_anchor=(1.06, 1.0), fontsize=8, frameon=False)
    ax.spines[["top"]].set_visible(False)
    return _png(fig)


def response_bins(seconds: Sequence[float]) -> list[int]:
    counts = [0] * len(RESPONSE_BINS)
    for value in seconds:
        for index, (upper, _label) in enumerate(RESPONSE_BINS):
            if value <= upper:
                counts[index] += 1
                break
    return counts


def response_chart(digest: Digest) -> bytes:
    """How long first responses took, stacked by priority, with the SLA targets."""
    fig = Figure(figsize=(10, 3.6))
    groups = [s for s in digest.responses.by_priority if s.response_seconds]
    if not groups:
        return _empty(fig, "No first responses for this period's posts")
    ax = fig.add_subplot()
    positions = list(range(len(RESPONSE_BINS)))
    bottom = [0] * len(RESPONSE_BINS)
    order = {p: i for i, p in enumerate(PRIORITIES)}
    for stats in sorted(groups, key=lambda s: order.get(s.group, len(order))):
        counts = response_bins(stats.response_seconds)
        target = digest.responses.sla_targets.get(stats.group)
        label = stats.group + (f" (SLA {int(target.total_seconds() // 60)}m)" if target else "")
        ax.bar(positions, counts, bottom=bottom, color=PRIORITY_COLORS.get(stats.group, "#667085"), label=label)
        bottom = [a + b for a, b in zip(bottom, counts, strict=True)]
    ax.set_xticks(positions, [label for _upper, label in RESPONSE_BINS], fontsize=8)
    ax.set_ylabel("queue items")
    ax.set_xlabel("time from the post to the first public response")
    ax.set_title("First response time", fontsize=11)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def themes_chart(digest: Digest, *, top: int = 12) -> bytes:
    """The largest themes among negative posts, all languages, by posts."""
    fig = Figure(figsize=(10, 3.6))
    themes = sorted(
        ((theme, lang) for lang, items in digest.themes.items() for theme in items),
        key=lambda pair: (-pair[0].posts, pair[1], pair[0].label),
    )[:top]
    if not themes:
        return _empty(fig, "No recurring themes among negative posts")
    ax = fig.add_subplot()
    labels = [f"{theme.label} ({lang})" for theme, lang in themes][::-1]
    values = [theme.posts for theme, _lang in themes][::-1]
    ax.barh(labels, values, color=SENTIMENT_COLORS["negative"])
    ax.set_xlabel("negative posts (in the sample read for themes)")
    ax.set_title("Recurring themes in negative posts", fontsize=11)
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def render_charts(digest: Digest) -> dict[str, bytes]:
    """File name -> PNG bytes, in the order they appear in the report."""
    return {
        "volume.png": volume_chart(digest),
        "response_times.png": response_chart(digest),
        "themes.png": themes_chart(digest),
    }
