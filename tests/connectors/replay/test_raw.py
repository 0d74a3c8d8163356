"""A replayed record keeps the JSON line it came from as its raw payload, and the
faster mapping gives the same Post as the field-by-field rules say."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import replay as replay_module
from connectors.replay import RecordError, ReplayConnector, record_to_post
from tests.helpers import T0
from watcher.core.post import Author, Metrics, Post, PostKind, RawJson
from watcher.store import Store

LINE = (
    '{"id": "x-1", "platform": "x", "kind": "mention", "text": "@LumoBank refund?", '
    '"created_at": "2026-11-20T10:00:00+01:00", "lang": "en", "url": "https://x.com/a/status/1", '
    '"author": {"id": "42", "handle": "ann", "name": "Ann", "followers": 12, "verified": true}, '
    '"parent_id": null, "conversation_id": "x-1", "metrics": {"likes": 3, "reposts": 0, "replies": "2"}, '
    '"is_own": false, "is_repost": "no", "extra": {"nested": [1, "\\u00e8"]}}'
)


def line_post(raw: dict[str, object]) -> Post:
    """The Post that LINE stands for, built the ordinary way."""
    return Post(
        platform="x",
        native_id="x-1",
        kind=PostKind.MENTION,
        text="@LumoBank refund?",
        created_at=T0,
        author=Author(id="42", handle="ann", display_name="Ann", followers=12, verified=True),
        url="https://x.com/a/status/1",
        lang="en",
        conversation_id="x-1",
        metrics=Metrics(likes=3, reposts=0, replies=2),
        source="hist",
        raw=raw,
    )


def test_a_jsonl_record_maps_field_by_field_and_keeps_its_line(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("\n  " + LINE + " \t\r\n\n", encoding="utf-8")
    (post,) = ReplayConnector(path, source="hist").fetch(None).posts
    assert post == line_post(json.loads(LINE))
    assert post.created_at.tzinfo is UTC and post.key == "x:x-1" and post.author_key == "x:42"
    assert isinstance(post.raw, RawJson) and post.raw.text == LINE  # only JSON whitespace trimmed


def test_the_stored_raw_payload_is_the_line_itself(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(LINE + "\n", encoding="utf-8")
    (post,) = ReplayConnector(path).fetch(None).posts
    with Store(tmp_path / "w.db") as store:
        store.posts.insert_post(post, None, fetched_at=datetime(2026, 11, 20, tzinfo=UTC))
        assert zlib.decompress(store.db.execute("SELECT raw FROM post_raw").fetchone()[0]).decode() == LINE
        stored = store.posts.get_post(post.key)
        assert stored is not None and stored.raw == json.loads(LINE)


def test_a_mapping_record_gets_a_plain_payload() -> None:
    post = record_to_post({"id": 1, "text": "hi", "created_at": "2026-11-20T09:00:00Z", "likes": 4})
    assert type(post.raw) is dict and post.metrics.likes == 4 and post.kind is PostKind.POST


@pytest.mark.parametrize(("value", "count"), [(7, 7), (0, 0), ("5", 5), (None, 0), ("", 0), (3.0, 3)])
def test_counts_accept_numbers_and_numeric_text(value: object, count: int) -> None:
    post = record_to_post({"id": 1, "text": "hi", "created_at": "2026-11-20T09:00:00Z", "followers": value})
    assert post.author.followers == count


@pytest.mark.parametrize("value", [-3, 2.9, True, "many"])
def test_a_count_that_is_no_whole_number_is_the_records_error(value: object) -> None:
    with pytest.raises(RecordError, match="followers must be a whole number"):
        record_to_post({"id": 1, "text": "hi", "created_at": "2026-11-20T09:00:00Z", "followers": value})


def test_an_unknown_kind_still_names_the_choices() -> None:
    with pytest.raises(RecordError, match="kind 'dm' is not one of post, comment, reply, mention, review"):
        record_to_post({"id": 1, "text": "hi", "created_at": "2026-11-20T09:00:00Z", "kind": "dm"})


def test_blank_lines_of_any_whitespace_are_skipped_and_bad_lines_keep_their_number(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    lines = ["\u00a0\u2003", "\x0c", LINE, "   ", "\x0b" + LINE, " {oops", "[1]", LINE.replace('"x-1"', '"x-2"', 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ReplayConnector(path).fetch(None)
    assert [p.native_id for p in result.posts] == ["x-1", "x-2"]
    assert result.problems == (
        f"{path}:5: not valid JSON (Expecting value); fix or remove the line",
        f"{path}:6: not valid JSON (Expecting property name enclosed in double quotes); fix or remove the line",
        f"{path}:7: expected a JSON object per line",
    )


def test_a_replayed_post_is_the_post_of_its_fields() -> None:
    """record_to_post builds Post, Author and Metrics with their trusted constructors."""
    record = json.loads(LINE)
    post = record_to_post(record, source="hist", json_text=LINE)
    expected = line_post(record)
    assert post == expected and (post.key, post.author_key) == (expected.key, expected.author_key)
    assert (type(post), type(post.author), type(post.metrics)) == (Post, Author, Metrics)


@pytest.mark.parametrize(
    "text",
    [
        LINE,
        '{"a": NaN, "b": -Infinity, "big": 123456789012345678901234567890, "f": 1e400, "s": "\\ud800"}',
        '{"a": 1, "a": 2}',
        '{"a": 1} {"b": 2}',
        '{"a": 1}x',
        "\ufeff{}",
        '{"a": [1, 2',
        "{'a': 1}",
        "[1, 2]",
        '"text"',
        "",
    ],
)
def test_lines_parse_as_json_loads_parses_them(text: str) -> None:
    try:
        expected = json.loads(text)
    except json.JSONDecodeError as exc:
        with pytest.raises(json.JSONDecodeError) as got:
            replay_module._parse_json(text)
        assert (got.value.msg, got.value.pos) == (exc.msg, exc.pos)
    else:
        assert repr(replay_module._parse_json(text)) == repr(expected)
