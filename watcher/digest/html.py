"""The digest as one self-contained HTML file: inline CSS, charts as base64 PNGs,
no scripts and no external requests, so it can be mailed or archived as is.

Every piece of post text is escaped: posts are written by strangers.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping, Sequence
from html import escape

from watcher.digest.figures import SENTIMENTS, Digest, ResponseStats
from watcher.digest.ratings import RatingGroup, Ratings, stars_change
from watcher.digest.text import change, duration, percent, points

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#1d2939;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #eaecf0;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}.muted{color:#667085;font-size:13px}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}.kpi{border:1px solid #eaecf0;border-radius:8px;padding:10px 14px;min-width:150px}
.kpi b{display:block;font-size:22px}.kpi span{color:#667085;font-size:12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}th,td{padding:4px 10px;border-bottom:1px solid #f2f4f7;text-align:right}
th:first-child,td:first-child{text-align:left}th{color:#475467;font-weight:600}
img{max-width:100%;border:1px solid #f2f4f7;border-radius:6px;margin:8px 0}
blockquote{margin:4px 0 4px 0;padding:4px 10px;border-left:3px solid #d64545;background:#fef3f2;font-size:13px}
.cols{display:flex;gap:32px;flex-wrap:wrap}
"""


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi(value: str, label: str) -> str:
    return f'<div class="kpi"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _img(name: str, png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}" title="{escape(name)}">'


def _response_rows(groups: Iterable[ResponseStats]) -> list[list[object]]:
    return [
        [
            s.group,
            s.items,
            s.handled,
            s.dismissed,
            s.escalated,
            s.open,
            duration(s.median_seconds),
            duration(s.p90_seconds),
            percent(s.sla_share),
        ]
        for s in groups
    ]


def _link(url: str, text: str) -> str:
    if url.startswith(("https://", "http://")):
        return f'<a href="{escape(url)}">{escape(text)}</a>'
    return escape(text)


def _ratings_html(ratings: Ratings) -> list[str]:
    """Ratings per platform and per app version, beside the previous period's average."""

    def rows(groups: Iterable[RatingGroup]) -> Iterator[list[object]]:
        for g in groups:
            average = f"{g.average:.2f}" if g.average is not None else "-"
            yield [g.name, g.count, average, stars_change(g.change), *g.distribution]

    headers = ("reviews of", "count", "average ★", "change", "1★", "2★", "3★", "4★", "5★")
    rate = f"{ratings.response_rate:.0%}" if ratings.response_rate is not None else "-"
    return [
        "<h2>Ratings</h2>",
        f'<p class="muted">1-2 star reviews answered: {ratings.low_star_answered} of {ratings.low_star} '
        f"({rate}). Change = average stars now minus in the previous period.</p>",
        "<h3>By platform</h3>",
        _table(headers, rows(ratings.by_platform)),
        "<h3>By app version</h3>" if ratings.by_version else "",
        _table(headers, rows(ratings.by_version)) if ratings.by_version else "",
    ]


def render_html(digest: Digest, charts: Mapping[str, bytes]) -> str:
    v, r, w = digest.volume, digest.responses, digest.window
    title = f"{digest.brand + ' ' if digest.brand else ''}mention digest: {w.label()}"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{escape(w.local(w.since).isoformat())} to {escape(w.local(w.until).isoformat())} '
        f"({escape(w.timezone)}), compared with {escape(digest.previous.label())}. "
        f"Generated {escape(digest.generated_at.isoformat(timespec='seconds'))}.</p>",
        '<div class="kpis">',
        _kpi(f"{v.total:,}", f"mentions ({change(v.change_pct)} vs {v.previous_total:,})"),
        _kpi(
            percent(v.share("negative")), "negative " + points(v.share("negative"), v.share("negative", previous=True))
        ),
        _kpi(duration(r.overall.median_seconds), "median first response"),
        _kpi(duration(r.overall.p90_seconds), "p90 first response"),
        _kpi(percent(r.overall.sla_share), "answered within SLA"),
        "</div>",
        "<h2>Volume</h2>",
        _img("volume.png", charts["volume.png"], "Mentions over time by sentiment") if "volume.png" in charts else "",
        '<div class="cols"><div><h3>By platform</h3>',
        _table(
            ("platform", "mentions", "previous", "change"),
            ([c.name, f"{c.count:,}", f"{c.previous:,}", change(c.change_pct)] for c in v.by_platform),
        ),
        "</div><div><h3>By source</h3>",
        _table(
            ("source", "mentions", "previous", "change"),
            ([c.name, f"{c.count:,}", f"{c.previous:,}", change(c.change_pct)] for c in v.by_source),
        ),
        "</div><div><h3>Sentiment</h3>",
        _table(
            ("sentiment", "mentions", "share", "previous share"),
            (
                [
                    label,
                    f"{v.sentiment.get(label, 0):,}",
                    percent(v.share(label)),
                    percent(v.share(label, previous=True)),
                ]
                for label in SENTIMENTS
            ),
        ),
        "</div><div><h3>Languages</h3>",
        _table(("language", "mentions"), ([lang, f"{n:,}"] for lang, n in v.languages)),
        "</div><div><h3>Top intents</h3>",
        _table(
            ("intent", "mentions", "negative"), ([i.intent, f"{i.posts:,}", f"{i.negative:,}"] for i in digest.intents)
        ),
        "</div></div>",
        "<h2>Recurring themes in negative posts</h2>",
        _img("themes.png", charts["themes.png"], "Themes bar chart") if "themes.png" in charts else "",
    ]
    if not digest.themes:
        parts.append('<p class="muted">No phrase recurred in two or more negative posts.</p>')
    for lang, themes in digest.themes.items():
        parts.append(f"<h3>Language: {escape(lang)}</h3>")
        for theme in themes:
            parts.append(
                f"<p><b>{escape(theme.label)}</b> — {theme.posts} of {theme.sample} negative posts "
                f"({percent(theme.share)}); phrases: {escape(', '.join(theme.phrases))}</p>"
            )
            parts.extend(
                f"<blockquote>{_link(e.url, e.text)} <span class=muted>{escape(e.platform)} "
                f"@{escape(e.handle)}, reach {e.reach:,}</span></blockquote>"
                for e in theme.examples
            )
    parts.append("<h2>Top posts by reach</h2>")
    parts.append('<p class="muted">Reach = the author\'s followers + likes + reposts + replies.</p>')
    parts.append(
        _table(
            ("post", "platform", "author", "sentiment", "reach"),
            (
                [p["text"][:140], p["platform"], "@" + p["handle"], p["sentiment_label"] or "", f"{p['reach']:,}"]
                for p in digest.top_posts
            ),
        )
    )
    if digest.ratings and digest.ratings.reviews:
        parts.extend(_ratings_html(digest.ratings))
    targets = ", ".join(f"{p} {duration(t.total_seconds())}" for p, t in r.sla_targets.items())
    parts.extend(
        [
            "<h2>Responses</h2>",
            f'<p class="muted">Queue items of this period\'s mentions. First response = from the post to the first '
            f"public reply (or 'answered elsewhere'). SLA targets: {escape(targets)}.</p>",
            _img("response_times.png", charts["response_times.png"], "First response time distribution")
            if "response_times.png" in charts
            else "",
            "<h3>By priority</h3>",
            _table(
                ("priority", "items", "handled", "dismissed", "escalated", "open", "median", "p90", "within SLA"),
                _response_rows([r.overall, *r.by_priority]),
            ),
            "<h3>By agent</h3>",
            _table(
                ("agent", "items", "handled", "dismissed", "escalated", "open", "median", "p90", "within SLA"),
                _response_rows(r.by_agent),
            ),
            "</body></html>",
        ]
    )
    return "\n".join(p for p in parts if p)
