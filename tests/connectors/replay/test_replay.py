from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.base import PostedReply, ReplyRejected, SourceUnavailable, connector_class
from connectors.replay import RecordError, ReplayConnector, record_to_post
from tests.helpers import T0, make_post
from watcher.core.cursor import Cursor
from watcher.core.post import Post, PostKind


@pytest.mark.parametrize(
    ("record", "check"),
    [
        (
            {"id": 1, "text": "hi", "created_at": "2026-11-20T09:00:00Z"},
            lambda p: (p.platform, p.native_id, p.author.handle, p.kind) == ("import", "1", "unknown", PostKind.POST),
        ),
        (
            {"id": "7", "text": "hi", "created_at": 1763629200, "platform": "reddit", "kind": "comment"},
            lambda p: p.created_at.year == 2025 and p.kind == PostKind.COMMENT,
        ),
        (
            {
                "id": "8",
                "text": "hi",
                "created_at": "2026-11-20T10:00:00+01:00",
                "author": {"id": "u1", "handle": "ann", "name": "Ann", "followers": "12", "verified": True},
            },
            lambda p: p.created_at == T0 and p.author.followers == 12 and p.author.verified,
        ),
        (
            {
                "id": "9",
                "text": "hi",
                "created_at": "2026-11-20T09:00:00Z",
                "author_handle": "bo",
                "followers": "",
                "is_repost": "true",
                "likes": "3",
            },
            lambda p: p.author.handle == "bo" and p.is_repost and p.metrics.likes == 3,
        ),
    ],
)
def test_records_map_to_posts(record: dict, check) -> None:  # type: ignore[no-untyped-def]
    assert check(record_to_post(record))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": "hi", "created_at": "2026-11-20T09:00:00Z"}, "missing required field 'id'"),
        ({"id": 1, "text": "hi", "created_at": "2026-11-20 09:00"}, "has no timezone"),
        ({"id": 1, "text": "hi", "created_at": "soon"}, "created_at"),
        ({"id": 1, "text": "hi", "created_at": "2026-11-20T09:00:00Z", "kind": "tweet"}, "kind 'tweet' is not one of"),
        (
            {"id": 1, "text": "hi", "created_at": "2026-11-20T09:00:00Z", "likes": "many"},
            "likes must be a whole number",
        ),
    ],
)
def test_bad_records_say_which_field(record: dict, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        record_to_post(record)


def write_jsonl(path: Path, count: int, bad_line: int | None = None) -> Path:
    lines = []
    for n in range(count):
        created = T0.replace(minute=n % 60, hour=9 + n // 60)
        lines.append(json.dumps({"id": str(n), "text": f"post {n}", "created_at": created.isoformat()}))
    if bad_line is not None:
        lines.insert(bad_line, '{"id": "broken", "text": ')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_fetch_pages_through_the_file_and_resumes_from_the_cursor(tmp_path: Path) -> None:
    connector = ReplayConnector(write_jsonl(tmp_path / "e.jsonl", 5, bad_line=2), batch_size=3)
    first = connector.fetch(None)
    assert [p.native_id for p in first.posts] == ["0", "1"]
    assert first.problems and "e.jsonl:3: not valid JSON" in first.problems[0]
    assert first.has_more and first.cursor.state["offset"] == 3
    restarted = ReplayConnector(tmp_path / "e.jsonl", batch_size=3)  # a new process
    second = restarted.fetch(first.cursor)
    assert [p.native_id for p in second.posts] == ["2", "3", "4"] and not second.has_more
    assert restarted.fetch(second.cursor).posts == ()


def record(native_id: str, hour: int) -> str:
    return json.dumps(
        {
            "id": native_id,
            "text": f"post {native_id}",
            "created_at": f"2026-11-01T{hour:02d}:00:00Z",
            "author": {"id": "a"},
        }
    )


def test_a_refreshed_export_is_read_again_and_nothing_before_the_cursor_is_lost(tmp_path: Path) -> None:
    """The cursor was a bare position in the time-sorted file: a fuller re-export with an earlier
    post moved everything down one place, so that post was never read (and one was read twice)."""
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(record(i, 10 + int(i)) for i in "123") + "\n", encoding="utf-8")
    first = ReplayConnector(path).fetch(None)
    assert [p.native_id for p in first.posts] == ["1", "2", "3"] and not first.problems
    running = ReplayConnector(path)
    assert running.fetch(first.cursor).posts == ()
    with path.open("a", encoding="utf-8") as out:  # appended: a newer post only
        out.write(record("4", 14) + "\n")
    appended = running.fetch(first.cursor)  # the running connector sees the change
    assert [p.native_id for p in appended.posts] == ["4"] and not appended.problems
    # a fuller re-export, sorted: an earlier post lands before the part already read
    path.write_text("\n".join(record(i, 10 + int(i) - (i == "0")) for i in "01234") + "\n", encoding="utf-8")
    again = ReplayConnector(path).fetch(appended.cursor)  # after a restart too
    assert [p.native_id for p in again.posts] == ["0", "1", "2", "3", "4"]
    assert again.problems == (
        f"{path} changed before the part already read (records added, removed or re-timed); "
        "reading it again from the start: posts already stored are skipped",
    )
    assert ReplayConnector(path).fetch(again.cursor).posts == ()
    path.write_text(record("1", 11) + "\n", encoding="utf-8")  # cut down to one post: read again, no error
    shorter = ReplayConnector(path).fetch(again.cursor)
    assert [p.native_id for p in shorter.posts] == ["1"] and shorter.problems


def test_a_newest_first_export_growing_at_the_top_is_not_read_again(tmp_path: Path) -> None:
    """An unreadable line moves down when a record is added above it: that alone must not
    look like a change before the part already read (a full re-read, every error again)."""
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join([record("2", 12), "{not json", record("1", 11)]) + "\n", encoding="utf-8")
    first = ReplayConnector(path).fetch(None)
    assert [p.native_id for p in first.posts] == ["1", "2"] and len(first.problems) == 1
    path.write_text(
        "\n".join([record("3", 13), record("2", 12), "{not json", record("1", 11)]) + "\n", encoding="utf-8"
    )
    grown = ReplayConnector(path).fetch(first.cursor)
    assert [p.native_id for p in grown.posts] == ["3"] and grown.problems == ()


def test_a_cursor_from_an_older_version_resumes_at_its_offset(tmp_path: Path) -> None:
    connector = ReplayConnector(write_jsonl(tmp_path / "e.jsonl", 5), batch_size=3)
    resumed = connector.fetch(Cursor({"offset": 3}))
    assert [p.native_id for p in resumed.posts] == ["3", "4"] and not resumed.problems


def test_a_torn_line_in_the_replies_file_does_not_stop_the_reply_lookup(tmp_path: Path) -> None:
    replies = tmp_path / "replies.jsonl"
    connector = ReplayConnector(write_jsonl(tmp_path / "e.jsonl", 2), replies_path=replies)
    first, second = connector.fetch(None).posts
    made = connector.reply(first, "Sorry about that, DM us")
    with replies.open("ab") as out:  # a crash mid-write leaves half a line (and a cut UTF-8 sequence)
        out.write('{"id": "replay-x", "in_reply_to": "import:1", "text": "caf\u00e9'.encode()[:-1])
    assert connector.find_own_reply(first) == made
    assert connector.find_own_reply(second) is None
    after = connector.reply(second, "Thanks!")  # the next reply starts on its own line, so it is found
    assert connector.find_own_reply(second) == after


def test_csv_exports_are_read_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "id,text,created_at,platform,author_handle,followers\n"
        '1,"hello, world",2026-11-20T09:00:00Z,x,ann,5\n'
        "2,no date,,x,bo,1\n",
        encoding="utf-8",
    )
    result = ReplayConnector(path).fetch(None)
    assert [p.text for p in result.posts] == ["hello, world"]
    assert "e.csv:3: record 2: missing required field 'created_at'" in result.problems[0]


def test_drip_releases_posts_at_their_pace(tmp_path: Path) -> None:
    now = {"t": 0.0}
    connector = ReplayConnector(write_jsonl(tmp_path / "e.jsonl", 10), drip=True, speed=60.0, clock=lambda: now["t"])
    assert [p.native_id for p in connector.fetch(None).posts] == ["0"]
    now["t"] = 3.0  # 3 s at 60x = 3 minutes of posts
    result = connector.fetch(Cursor({"offset": 1}))
    assert [p.native_id for p in result.posts] == ["1", "2", "3"] and not result.has_more


def test_replies_go_to_a_local_file_when_configured(tmp_path: Path) -> None:
    post = make_post(native_id="42")
    with pytest.raises(ReplyRejected, match="set replies_path"):
        ReplayConnector(tmp_path / "e.jsonl").reply(post, "hi")
    connector = ReplayConnector(tmp_path / "e.jsonl", replies_path=tmp_path / "replies.jsonl")
    assert connector.find_own_reply(post) is None
    sent = connector.reply(post, "Thanks, fixed!")
    assert connector.find_own_reply(post, "Thanks, fixed!") == sent
    assert connector.find_own_reply(post, "other words") is None


def test_registry_finds_the_replay_connector() -> None:
    assert connector_class("replay") is ReplayConnector
    with pytest.raises(KeyError, match="unknown connector kind 'fax'"):
        connector_class("fax")


def test_own_replies_one_by_one_keeps_what_it_found_before_an_error(tmp_path: Path) -> None:
    connector = ReplayConnector(tmp_path / "e.jsonl", replies_path=tmp_path / "replies.jsonl")
    answered, broken, later = make_post(native_id="1"), make_post(native_id="2"), make_post(native_id="3")
    connector.reply(answered, "Thanks!")
    connector.reply(later, "On it")
    ask = connector.find_own_reply

    def flaky(post: Post, text: str | None = None) -> PostedReply | None:
        if post is broken:
            raise SourceUnavailable("the platform answered 503")
        return ask(post, text)

    connector.find_own_reply = flaky  # type: ignore[method-assign]

    assert list(connector.find_own_replies([answered, broken, later])) == [answered.key]  # "later" waits its turn
    with pytest.raises(SourceUnavailable):
        connector.find_own_replies([broken, answered])  # nothing found yet: the caller reports it
