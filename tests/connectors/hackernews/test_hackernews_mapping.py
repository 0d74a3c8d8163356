"""Hacker News hits -> Post (pure), and the documented source table."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from connectors.base import connector_class
from connectors.hackernews.mapping import ItemError, hit_to_post
from watcher.config import parse_config
from watcher.core.config import ConfigError, SourceConfig
from watcher.core.post import PostKind

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def hit(**fields: Any) -> dict[str, Any]:
    return {"objectID": "42", "created_at_i": 1795000000, "author": "sam", "comment_text": "Lumo is down",
            "parent_id": 41, "story_id": 40, "story_title": "Lumo launches", "_tags": ["comment", "author_sam"]} | fields  # fmt: skip


CASES = [
    ("a comment", hit(), (PostKind.MENTION, "41", "40", "Lumo launches", "Lumo is down")),
    ("a story", {"objectID": "40", "created_at_i": 1795000000, "author": "pat", "title": "Lumo launches",
                 "url": "https://x.example", "_tags": ["story"]}, (PostKind.MENTION, None, "40", None, "Lumo launches\n\nhttps://x.example")),
    ("the brand's own", hit(author="Lumo_Team"), (PostKind.POST, "41", "40", "Lumo launches", "Lumo is down")),
]  # fmt: skip


@pytest.mark.parametrize(("item", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hits(item: dict[str, Any], expected: tuple[Any, ...]) -> None:
    post = hit_to_post(item, source="hn", brand_account="lumo_team")
    assert (post.kind, post.parent_id, post.conversation_id, post.parent_text, post.text) == expected


@pytest.mark.parametrize(
    ("item", "message"),
    [(hit(objectID=None), "objectID"), (hit(created_at_i="today"), "created_at_i"), (hit(author=""), "author"),
     (hit(comment_text=""), "comment_text"), ({"objectID": "1", "created_at_i": 1, "author": "a", "_tags": ["story"]}, "title")],
)  # fmt: skip
def test_malformed_hits_name_the_field(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ItemError, match=message):
        hit_to_post(item, source="hn")


def test_the_documented_table_builds_and_problems_name_their_keys() -> None:
    config = parse_config(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")), file=str(EXAMPLE))
    [source] = [s for s in config.sources if s.kind == "hackernews"]
    connector = connector_class("hackernews").from_config(source, {})
    assert connector.searches == ("lumo bank", "lumobank") and connector.request_timeout == 20.0
    connector.close()
    with pytest.raises(ConfigError) as raised:
        connector_class("hackernews").from_config(
            SourceConfig(name="h", kind="hackernews", options={"page_size": 0}), {}
        )
    assert "sources.h.search: missing" in str(raised.value) and "sources.h.page_size: must be between" in str(
        raised.value
    )
