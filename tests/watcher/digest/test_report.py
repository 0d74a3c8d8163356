"""Digest rendering: wording helpers, charts, the HTML report (and, where Debian's
chromium is installed, a headless screenshot of it)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.watcher.digest.fixture import SUNDAY, TZ, at, build
from watcher.digest.charts import RESPONSE_BINS, render_charts, response_bins
from watcher.digest.figures import SLA_DEFAULTS, Digest, collect_digest
from watcher.digest.html import render_html
from watcher.digest.text import change, digest_text, duration, percent, points
from watcher.digest.windows import parse_moment, period_window
from watcher.store import Store

NOW = at("2026-10-26T08:00:00")


@pytest.fixture(scope="module")
def digest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Digest]:
    with Store(tmp_path_factory.mktemp("report") / "r.db") as store:
        build(store)
        window = period_window("day", timezone=TZ, now=NOW, since=parse_moment(SUNDAY, TZ))
        yield collect_digest(store, window, sla_targets=SLA_DEFAULTS, now=NOW, brand="Lumo")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.4, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h 00m"),
        (4920, "1h 22m"),
        (86400 + 3 * 3600, "1d 03h"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_percent_change_and_points() -> None:
    assert (percent(None), percent(1 / 3), change(None), change(-12.5), change(0.0)) == (
        "—",
        "33%",
        "new",
        "-12%",
        "+0%",
    )
    assert (points(0.5, 0.25), points(None, 0.1)) == ("+25 pts", "")


def test_response_bins_edges() -> None:
    counts = response_bins([0, 300, 301, 3600, 86400, 86401])
    assert dict(zip([label for _u, label in RESPONSE_BINS], counts, strict=True)) == {
        "≤5m": 2,
        "5-15m": 1,
        "15-30m": 0,
        "30m-1h": 1,
        "1-2h": 0,
        "2-4h": 0,
        "4-8h": 0,
        "8-24h": 1,
        ">24h": 1,
    }


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def test_three_charts_are_pngs_of_a_readable_size(digest: Digest) -> None:
    charts = render_charts(digest)
    assert list(charts) == ["volume.png", "response_times.png", "themes.png"]
    for data in charts.values():
        width, height = png_size(data)
        assert 600 <= width <= 1200 and 200 <= height <= 500


def test_html_is_self_contained_and_escaped(digest: Digest) -> None:
    page = render_html(digest, render_charts(digest))
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "&lt;script&gt;" in page
    assert page.count("data:image/png;base64,") == 3
    assert "Lumo mention digest: Sun 25 Oct 2026" in page
    assert "2026-10-25T00:00:00+02:00 to 2026-10-26T00:00:00+01:00 (Europe/Rome)" in page
    assert (
        "<td>urgent</td><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td><td>10m</td><td>10m</td><td>100%</td>" in page
    )


def test_text_of_an_empty_digest(tmp_path: Path) -> None:
    with Store(tmp_path / "e.db") as store:
        empty = collect_digest(store, period_window("week", timezone=TZ, now=NOW), sla_targets=SLA_DEFAULTS, now=NOW)
    text = digest_text(empty)
    assert "No mentions in this period (previous period: 0)." in text
    charts = render_charts(empty)
    assert all(png_size(c)[0] > 300 for c in charts.values())
    assert "No phrase recurred" in render_html(empty, charts)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_headless_chromium_renders_the_report(digest: Digest, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(digest, render_charts(digest)), encoding="utf-8")
    shot = tmp_path / "report.png"
    profile = tmp_path / "profile"
    subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
            f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert png_size(shot.read_bytes()) == (1200, 2400)
    # a blank page compresses to almost nothing; text, tables and three charts do not
    assert shot.stat().st_size > 60_000
