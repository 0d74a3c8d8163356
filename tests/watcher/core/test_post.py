from __future__ import annotations

import pickle
import random
import re
import unicodedata
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType

import pytest

from connectors.replay import record_to_post
from tests.helpers import make_post
from watcher.core.post import Author, Metrics, Post, PostKind, RawJson, normalized_text, parse_timestamp
from watcher.store import Store

_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"[@#](\w+)")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def reference_normalized_text(text: str) -> str:
    """normalized_text as first written: stored norm_text must stay comparable with it."""
    text = _URL.sub(" ", text)
    text = _MENTION.sub(r"\1", text)
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return " ".join(_NON_WORD.sub(" ", text).split())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "My card was DECLINED twice, help??? 😡",
        "see https://t.co/x1 and http://a.b/c?d=e now",
        "HTTP://CAPS.example is not a link to the pattern",
        "@LumoBank #fail @@double ##tag a@b c#d email@lumo.com",
        "snake_case_words and __dunder__",
        "Caf\u00e9 cafe\u0301 na\u00efve \u00c5ngstr\u00f6m",
        "e\u0301@lumo decomposed accent before a mention",
        "\u2121@lumo a compatibility character before a mention",
        "ﬁnance ﬁle \u2460 \u00bd \uff21\uff22\uff23 full width",
        "Straße STRASSE ǅ ΣΊΣΥΦΟΣ",
        "дякую за допомогу! 谢谢 ありがとう مرحبا",
        "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003em space",
        "l'app è ferma 🙃🙃 #down",
    ],
)
def test_normalized_text_is_unchanged_from_the_first_version(text: str) -> None:
    assert normalized_text(text) == reference_normalized_text(text)


def test_normalized_text_matches_the_first_version_on_random_text() -> None:
    pool = "aZ09_ @#:/.-'\u00e9e\u0301\u00df\u2121\ufb01\u00bd\u03a3\u0416\u4e2d😡\t\n" + "https://x.co/ "
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        assert normalized_text(text) == reference_normalized_text(text), repr(text)


def test_keys_are_derived_from_the_fields_and_follow_a_replace() -> None:
    post = make_post(native_id="5", author="ann")
    assert (post.key, post.author_key) == ("x:5", "x:id-ann")
    moved = replace(post, platform="reddit", native_id="t3_9")
    assert (moved.key, moved.author_key) == ("reddit:t3_9", "reddit:id-ann")
    assert "key=" not in repr(post)


def test_raw_json_reads_like_the_payload_it_came_from() -> None:
    data = {"id": "1", "nested": {"a": [1, 2]}}
    raw = RawJson('{"id": "1", "nested": {"a": [1, 2]}}')
    assert raw == data and data == raw
    assert dict(raw) == data and raw["nested"] == {"a": [1, 2]} and len(raw) == 2 and raw.get("x") is None
    assert make_post(native_id="9", raw=raw) == make_post(native_id="9", raw=dict(data))
    with pytest.raises(TypeError):
        raw["id"] = "2"  # type: ignore[index]


def test_raw_json_that_is_not_an_object_says_so_when_read() -> None:
    with pytest.raises(ValueError, match="raw payload is not a JSON object: '\\[1, 2\\]'"):
        RawJson("[1, 2]")["id"]


def test_a_post_with_a_json_payload_crosses_processes_whole() -> None:
    post = make_post(native_id="9", raw=RawJson('{"a": {"b": 1}}'))
    copied = pickle.loads(pickle.dumps(post))
    assert copied == post and copied.key == "x:9" and copied.author_key == post.author_key
    assert isinstance(copied.raw, RawJson) and copied.raw.text == '{"a": {"b": 1}}'


POST_FIELDS = {
    "platform": "x",
    "native_id": "77",
    "kind": PostKind.REPLY,
    "text": "still waiting",
    "created_at": datetime(2026, 11, 20, 9, 0, 1, 5, tzinfo=UTC),
    "author": Author(id="42", handle="ann", display_name="Ann", followers=12, verified=True),
    "url": "https://x.com/ann/status/77",
    "lang": "en",
    "parent_id": "76",
    "conversation_id": "70",
    "parent_text": "how can we help?",
    "metrics": Metrics(likes=1, reposts=2, replies=3),
    "is_own": False,
    "is_repost": True,
    "source": "x_search",
    "raw": {"id": "77"},
}


def test_a_post_converts_its_time_to_utc_or_refuses_a_naive_one() -> None:
    rome = timezone(timedelta(hours=1))
    post = Post(**{**POST_FIELDS, "created_at": datetime(2026, 11, 20, 10, 0, tzinfo=rome)})  # type: ignore[arg-type]
    assert post.created_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC) and post.created_at.tzinfo is UTC
    assert (post.key, post.author_key) == ("x:77", "x:42")
    assert pickle.loads(pickle.dumps(post)) == post and replace(post, text="x").key == "x:77"
    with pytest.raises(FrozenInstanceError):
        post.text = "changed"  # type: ignore[misc]
    with pytest.raises(ValueError, match="post x:77: created_at must be timezone-aware"):
        Post(**{**POST_FIELDS, "created_at": datetime(2026, 11, 20, 10, 0)})  # type: ignore[arg-type]


def reference_parse_timestamp(value: str) -> datetime:
    """parse_timestamp for text before its fast path."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone; add Z or +00:00")
    return moment.astimezone(UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-18T00:04:46Z",
        "2026-11-18T23:59:59Z",
        "2026-W47-2T00:04:46Z",
        "2026-11-18T00:04:46.5Z",
        "2026-11-18T00:04:46.123456Z",
        "2026-11-18T00:04:46+00:00",
        "2026-11-18T02:04:46+02:00",
        "2026-11-18 00:04:46Z",
        " 2026-11-18T00:04:46Z ",
        "2026-11-18T00:04Z",
        "20261118T000446Z",
    ],
)
def test_timestamps_parse_as_before_the_fast_path(value: str) -> None:
    parsed = parse_timestamp(value)
    assert parsed == reference_parse_timestamp(value) and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value", ["2026-13-18T00:04:46Z", "2026-11-18T25:04:46Z", "2026-11-18TZZ:04:46Z", "2026-11-18T00:04:46"]
)
def test_bad_timestamps_fail_as_before_the_fast_path(value: str) -> None:
    with pytest.raises(ValueError) as expected:
        reference_parse_timestamp(value)
    with pytest.raises(ValueError) as got:
        parse_timestamp(value)
    assert str(got.value) == str(expected.value)


def test_normalized_text_matches_the_first_version_on_every_code_point() -> None:
    """Words are taken token by token: whitespace of every kind, letters, digits, marks and
    underscores of every script must split and join as the first version's regex did."""
    chars = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    for start in range(0, len(chars), 999):
        chunk = chars[start : start + 999]
        tokens = " ".join(chunk[i : i + 3] for i in range(0, len(chunk), 3))
        assert normalized_text(tokens) == reference_normalized_text(tokens), hex(ord(chunk[0]))


def test_a_lone_surrogate_becomes_a_replacement_character_so_the_post_can_be_stored(tmp_path: Path) -> None:
    cut = "my card is broken \ud83d again"  # half an emoji, as a JSON "\ud83d" escape gives
    record = {
        "id": "1",
        "platform": "x",
        "text": cut,
        "parent_text": cut,
        "created_at": "2026-11-18T00:04:46Z",
        "author": {"id": "a1", "handle": "al", "name": "Al \ude00"},
    }
    for post in (record_to_post(record, default_platform="x"), make_post(cut)):
        assert "\ud83d" not in post.text and post.text == "my card is broken \ufffd again"
    mapped = record_to_post(record, default_platform="x")
    assert mapped.parent_text == mapped.text and mapped.author.display_name == "Al \ufffd"
    assert Author(id="a", handle="h", display_name="\ud83d").display_name == "\ufffd"
    plain = make_post("café ☕ ok")
    assert plain.text == "café ☕ ok"
    with Store(tmp_path / "w.db") as store:
        store.posts.insert_post(mapped, None, fetched_at=datetime(2026, 11, 18, tzinfo=UTC))
        stored = store.posts.get_post(mapped.key)
        assert stored is not None and stored.text == mapped.text
        assert stored.raw["text"] == cut  # the payload is kept exactly, \u-escaped in the database
        # a payload given as another kind of mapping is kept as the same JSON object
        proxied = replace(mapped, native_id="2", raw=MappingProxyType({"text": cut, "n": 1}))
        store.posts.insert_post(proxied, None, fetched_at=datetime(2026, 11, 18, tzinfo=UTC))
        again = store.posts.get_post(proxied.key)
        assert again is not None and again.raw == {"text": cut, "n": 1}
