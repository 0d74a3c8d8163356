"""Fixtures for the triage tests: one Triager per session (models load once)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rules.triage import TriageContext, Triager
from watcher.core.post import Author, Metrics, Post, PostKind
from watcher.core.settings import BrandConfig

LANGS = ("en", "it", "es", "de", "fr", "pt", "ro")
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BRAND = BrandConfig(
    name="Lumo",
    languages=LANGS,
    staff_accounts=("lumo_anna",),
    vip_accounts=("bigcustomer",),
    competitors=("rivalco",),
)
_ids = itertools.count(1)


def make_post(
    text: str,
    *,
    handle: str = "ann",
    minutes: float = 0,
    followers: int = 10,
    verified: bool = False,
    lang: str | None = None,
    platform: str = "x",
    **fields: Any,
) -> Post:
    n = next(_ids)
    return Post(
        platform=platform,
        native_id=str(n),
        kind=fields.pop("kind", PostKind.MENTION),
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        author=Author(id=f"id-{handle}", handle=handle, followers=followers, verified=verified),
        metrics=fields.pop("metrics", Metrics()),
        lang=lang,
        **fields,
    )


@pytest.fixture(scope="session")
def triager() -> Triager:
    return Triager(languages=LANGS)


@pytest.fixture
def ctx() -> TriageContext:
    return TriageContext(brand=BRAND, now=T0)
