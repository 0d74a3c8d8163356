"""A digest as words: the Slack message text and the CSV export rows.

Pure functions of a `Digest`; the HTML report (digest_html.py) uses the same
formatting helpers so every figure reads the same everywhere.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from watcher.digest.figures import SENTIMENTS, Change, Digest, ResponseStats
from watcher.digest.incidents import IncidentFigures
from watcher.digest.ratings import ratings_lines
from watcher.slack.mrkdwn import escape, link


def duration(seconds: float | None) -> str:
    """12s, 14m, 1h 05m, 2d 03h; an em dash for no value."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.0f}%"


def change(pct: float | None) -> str:
    """+12% / -3% / new (the previous period had none)."""
    if pct is None:
        return "new"
    return f"{round(pct):+d}%"


def points(now: float | None, before: float | None) -> str:
    """Change of a share in percentage points."""
    if now is None or before is None:
        return ""
    return f"{round(100 * (now - before)):+d} pts"


def _change_text(item: Change) -> str:
    return f"{item.name} {item.count:,} ({change(item.change_pct) if item.previous or item.count else '='})"


def top_post_line(post: Mapping[str, Any]) -> str:
    """reach 5,000, x @ann: "the text..." with a link to the post when it has one."""
    body = " ".join(str(post["text"]).split())
    body = body if len(body) <= 100 else body[:97] + "..."
    who = f"{post['platform']} @{post['handle']}" if post.get("handle") else str(post["platform"])
    url = str(post.get("url") or "")
    where = link(url, who) if url.startswith(("https://", "http://")) else escape(who)
    return f"reach {int(post['reach']):,}, {where}: \u201c{escape(body)}\u201d"


def sentiment_text(digest: Digest, label: str) -> str:
    """negative 31% (+4 pts): the share and its change from the previous period."""
    v = digest.volume
    moved = points(v.share(label), v.share(label, previous=True))
    return f"{label} {percent(v.share(label))}" + (f" ({moved})" if moved else "")


def response_line(stats: ResponseStats) -> str:
    return (
        f"{stats.group}: {stats.items} items, median {duration(stats.median_seconds)}, "
        f"p90 {duration(stats.p90_seconds)}, within SLA {percent(stats.sla_share)}"
    )


def incident_lines(incidents: Sequence[IncidentFigures]) -> list[str]:
    """One line per incident of the period (none when there were none)."""
    if not incidents:
        return []
    lines = [f"*Incidents* {len(incidents)}"]
    for f in incidents:
        lines.append(
            f"  • #{f.incident.id} {escape(f.incident.title)} ({f.incident.state.value}): {f.customers} customers, "
            f"{f.posts} posts, {f.answered} answered; lasted {duration(f.duration_seconds)}, first statement after "
            f"{duration(f.to_first_statement_seconds)}, resolved after {duration(f.to_resolution_seconds)}"
            + (f", {f.followups} follow-ups sent" if f.followups else "")
        )
    return lines


def digest_text(digest: Digest) -> str:
    """The digest as a Slack mrkdwn message: the figures people read first."""
    v = digest.volume
    title = f"*{digest.brand + ' ' if digest.brand else ''}mention digest: {digest.window.label()}*"
    lines = [title]
    if v.total == 0:
        lines.append(f"No mentions in this period (previous period: {v.previous_total:,}).")
    else:
        lines.append(
            f"*Volume* {v.total:,} mentions ({change(v.change_pct)} vs the previous period's {v.previous_total:,})"
        )
        lines.append("By platform: " + ", ".join(_change_text(c) for c in v.by_platform[:6]))
        lines.append("*Sentiment* " + ", ".join(sentiment_text(digest, label) for label in SENTIMENTS))
        if digest.ratings:
            lines.extend(ratings_lines(digest.ratings))
        if digest.intents:
            lines.append("*Top intents* " + ", ".join(f"{i.intent} {i.posts:,}" for i in digest.intents[:5]))
        for lang, themes in list(digest.themes.items())[:3]:
            lines.append(
                f"*Themes in negative posts ({lang})* "
                + "; ".join(f"{t.label} ({t.posts}, {percent(t.share)})" for t in themes[:4])
            )
        lines.append("*Languages* " + ", ".join(f"{lang} {n:,}" for lang, n in v.languages[:6]))
        if digest.top_posts:
            lines.append("*Top posts by reach*")
            lines.extend(f"  • {top_post_line(post)}" for post in digest.top_posts[:3])
    lines.extend(incident_lines(digest.incidents))
    r = digest.responses
    if r.items:
        o = r.overall
        lines.append(
            f"*Responses* {o.items} queue items: {o.handled} handled, {o.dismissed} dismissed, "
            f"{o.escalated} escalated, {o.open} open; first response median {duration(o.median_seconds)}, "
            f"p90 {duration(o.p90_seconds)}, within SLA {percent(o.sla_share)}"
        )
        lines.extend("  • " + response_line(p) for p in r.by_priority)
    else:
        lines.append("*Responses* no queue items for this period's posts.")
    return "\n".join(lines)


CSV_HEADER = ("section", "group", "key", "metric", "value")


def csv_rows(digest: Digest) -> Iterator[tuple[str, str, str, str, str | int | float]]:
    """Long-format rows (section, group, key, metric, value): one figure a row, easy to
    pivot in a spreadsheet. Durations are in seconds, shares between 0 and 1."""
    w, v = digest.window, digest.volume
    yield ("window", "", "", "since", w.since.isoformat())
    yield ("window", "", "", "until", w.until.isoformat())
    yield ("window", "", "", "timezone", w.timezone)
    yield ("volume", "total", "", "posts", v.total)
    yield ("volume", "total", "", "previous_posts", v.previous_total)
    for group, items in (("platform", v.by_platform), ("source", v.by_source)):
        for item in items:
            yield ("volume", group, item.name, "posts", item.count)
            yield ("volume", group, item.name, "previous_posts", item.previous)
    for label in sorted(set(v.sentiment) | set(v.previous_sentiment)):
        yield ("sentiment", "share", label or "unscored", "posts", v.sentiment.get(label, 0))
        yield ("sentiment", "share", label or "unscored", "previous_posts", v.previous_sentiment.get(label, 0))
    for bucket in v.series:
        for label in SENTIMENTS:
            yield ("series", w.bucket_unit, bucket.start.isoformat(), label, bucket.counts.get(label, 0))
    for lang, count in v.languages:
        yield ("languages", "", lang, "posts", count)
    for intent in digest.intents:
        yield ("intents", "", intent.intent, "posts", intent.posts)
        yield ("intents", "", intent.intent, "negative_posts", intent.negative)
    for lang, themes in digest.themes.items():
        for theme in themes:
            yield ("themes", lang, theme.label, "posts", theme.posts)
            yield ("themes", lang, theme.label, "phrases", "; ".join(theme.phrases))
            for example in theme.examples:
                yield ("themes", lang, theme.label, "example", example.url or example.key)
    for rank, post in enumerate(digest.top_posts, 1):
        yield ("top_posts", str(rank), post["key"], "reach", post["reach"])
    r = digest.responses
    for group, stats_list in (("all", (r.overall,)), ("priority", r.by_priority), ("agent", r.by_agent)):
        for stats in stats_list:
            key = stats.group
            for metric in ("items", "handled", "dismissed", "escalated", "open", "responded", "within_sla", "sla_due"):
                yield ("responses", group, key, metric, getattr(stats, metric))
            for metric, value in (
                ("median_seconds", stats.median_seconds),
                ("p90_seconds", stats.p90_seconds),
                ("sla_share", stats.sla_share),
            ):
                yield ("responses", group, key, metric, "" if value is None else round(value, 3))


def write_csv(digest: Digest, path: str | Path) -> int:
    """Write the CSV export; return the number of data rows."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for row in csv_rows(digest):
            writer.writerow(row)
            count += 1
    return count
