"""The Facebook Page connector against the fake Graph API: reading, throttles, errors,
the reply exactly once, hide and unhide, and `check`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.base import AuthFailed, RateLimited, ReplyOutcomeUnknown, ReplyRejected, SourceUnavailable
from tests.connectors.meta.support import ANA, ENV, GIO, NOW, Clock, facebook, running_fake
from tests.fakes.graph_api import FakeGraph
from watcher.core.post import PostKind

BUSY = '{"call_count": 95, "total_cputime": 20, "total_time": 30}'


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running_fake() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


def seed_page(fake: FakeGraph) -> dict[str, str]:
    """A Page post with a comment, the Page's answer and a reply to it, a hidden comment,
    a visitor post, a post that tags the Page and a rating."""
    post = fake.add_page_post("Our new card is here!", NOW - timedelta(days=2))
    first = fake.add_comment(post, "Il mio bonifico è bloccato da ieri", NOW - timedelta(hours=5), by=GIO)
    answer = fake.add_comment(post, "Ciao Giovanni, ti scriviamo in privato", NOW - timedelta(hours=4),
                              by=(fake.page_id, fake.page_name), parent=first)  # fmt: skip
    reply = fake.add_comment(post, "Ancora niente", NOW - timedelta(hours=3), by=GIO, parent=first)
    hidden = fake.add_comment(post, "cheap followers at spam.example", NOW - timedelta(hours=2), by=ANA, hidden=True)
    visitor = fake.add_page_post("Cardul meu a fost blocat", NOW - timedelta(hours=6), by=ANA)
    tagged = fake.add_tagged("Paid with @Lumo in Rome", NOW - timedelta(hours=1), by=ANA)
    rating = fake.add_rating("Great app, slow support", NOW - timedelta(hours=7), by=GIO, positive=False)
    return {"post": post, "first": first, "answer": answer, "reply": reply, "hidden": hidden, "visitor": visitor,
            "tagged": tagged, "rating": rating}  # fmt: skip


def test_fetch_reads_every_stream_to_the_cursor_and_an_idle_poll_asks_three_things(
    fake: FakeGraph, clock: Clock
) -> None:
    ids = seed_page(fake)
    connector = facebook(fake, clock)
    result = connector.fetch(None)
    by_id = {p.native_id: p for p in result.posts}
    assert set(by_id) == {ids["first"], ids["answer"], ids["reply"], ids["visitor"], ids["tagged"], ids["rating"]}
    assert [p.created_at for p in result.posts] == sorted(p.created_at for p in result.posts)
    first, reply = by_id[ids["first"]], by_id[ids["reply"]]
    assert (
        first.kind == PostKind.COMMENT
        and first.parent_id == ids["post"]
        and first.parent_text == "Our new card is here!"
    )
    # Facebook keeps one level: a reply's parent is the thread's comment, whose words it carries
    assert reply.kind == PostKind.COMMENT and reply.parent_id == ids["first"]
    assert reply.parent_text == "Il mio bonifico è bloccato da ieri"
    assert by_id[ids["answer"]].is_own and by_id[ids["visitor"]].kind == PostKind.POST
    assert by_id[ids["tagged"]].kind == PostKind.MENTION
    assert by_id[ids["rating"]].kind == PostKind.REVIEW and by_id[ids["rating"]].text.startswith("Does not recommend")
    assert result.problems == () and result.requests_made == 4  # feed, the post's comments, tagged, ratings

    # a restart: a new connector from the stored cursor reads nothing again
    again = facebook(fake, clock)
    before = fake.count()
    idle = again.fetch(result.cursor)
    assert idle.posts == () and idle.requests_made == 3 == fake.count() - before


def test_a_new_comment_is_read_and_nothing_is_read_twice(fake: FakeGraph, clock: Clock) -> None:
    ids = seed_page(fake)
    connector = facebook(fake, clock)
    cursor = connector.fetch(None).cursor
    clock.advance(minutes=10)
    new = fake.add_comment(ids["post"], "Am primit banii, mersi!", NOW + timedelta(minutes=5), by=ANA)
    result = connector.fetch(cursor)
    assert [p.native_id for p in result.posts] == [new] and result.requests_made == 4


def test_new_comments_on_an_old_post_are_read_also_after_it_leaves_the_feed_page(fake: FakeGraph, clock: Clock) -> None:
    old = fake.add_page_post("Summer offer", NOW - timedelta(days=40))
    fake.add_comment(old, "old question", NOW - timedelta(days=39), by=GIO)
    connector = facebook(fake, clock, posts_limit=1)
    cursor = connector.fetch(None).cursor  # first sight of an old, quiet post: only its marker is noted
    late = fake.add_comment(old, "Is this offer still valid?", NOW - timedelta(minutes=1), by=ANA)
    clock.advance(minutes=5)
    result = connector.fetch(cursor)
    assert [p.native_id for p in result.posts] == [late]
    # two newer posts push it off the feed's first page; it stays followed through ?ids=
    fake.add_page_post("New post", NOW - timedelta(days=1))
    fake.add_page_post("Older post", NOW - timedelta(days=20))
    later = fake.add_comment(old, "Hello?", NOW + timedelta(minutes=3), by=ANA)
    clock.advance(minutes=5)
    result = connector.fetch(result.cursor)
    assert [p.native_id for p in result.posts] == [later]
    assert any(r.path == "" and old in r.params["ids"] for r in fake.requests)


def test_hidden_and_deleted_comments_are_not_queued_and_a_deleted_one_cannot_be_answered(
    fake: FakeGraph, clock: Clock
) -> None:
    ids = seed_page(fake)
    gone = fake.add_comment(ids["post"], "never mind", NOW - timedelta(hours=1), by=ANA)
    fake.delete(gone)
    connector = facebook(fake, clock)
    posts = {p.native_id: p for p in connector.fetch(None).posts}
    assert ids["hidden"] not in posts and gone not in posts
    target = posts[ids["first"]]
    fake.delete(ids["first"])
    with pytest.raises(ReplyRejected, match="no longer exists"):
        connector.reply(target, "Ciao!")
    assert connector.find_own_reply(target, None) is None


def test_hide_and_unhide_a_comment(fake: FakeGraph, clock: Clock) -> None:
    ids = seed_page(fake)
    connector = facebook(fake, clock)
    posts = {p.native_id: p for p in connector.fetch(None).posts}
    connector.hide(posts[ids["first"]])
    assert fake.objects[ids["first"]]["is_hidden"] is True
    connector.unhide(posts[ids["first"]])
    assert fake.objects[ids["first"]]["is_hidden"] is False
    with pytest.raises(ReplyRejected, match="only those can be hidden"):
        connector.hide(posts[ids["visitor"]])


def test_reply_as_the_page_and_a_timeout_that_did_post_is_found_not_repeated(fake: FakeGraph, clock: Clock) -> None:
    ids = seed_page(fake)
    connector = facebook(fake, clock, timeout_seconds=0.3)
    posts = {p.native_id: p for p in connector.fetch(None).posts}
    posted = connector.reply(posts[ids["tagged"]], "Grazie Ana!")
    assert fake.objects[posted.native_id]["from"]["id"] == fake.page_id
    fake.delay_next_post(1.0)
    with pytest.raises(ReplyOutcomeUnknown):
        connector.reply(posts[ids["first"]], "Ciao Giovanni, è tutto risolto.")
    found = connector.find_own_reply(posts[ids["first"]], "Ciao Giovanni, è tutto risolto.")
    assert found is not None and len([r for r in fake.replies_to(ids["first"]) if "risolto" in r["message"]]) == 1
    # a reply to a reply goes under its top-level comment, where find_own_reply looks
    connector.reply(posts[ids["reply"]], "Giovanni, controlla ora")
    assert any(r["message"] == "Giovanni, controlla ora" for r in fake.replies_to(ids["first"]))


def test_a_reply_too_long_is_refused_before_anything_is_sent(fake: FakeGraph, clock: Clock) -> None:
    ids = seed_page(fake)
    connector = facebook(fake, clock)
    post = next(p for p in connector.fetch(None).posts if p.native_id == ids["first"])
    with pytest.raises(ReplyRejected, match="allows 8000"):
        connector.reply(post, "😀" * 4001)  # 8002 UTF-16 units
    assert fake.count("POST") == 0


def test_an_expired_token_and_a_missing_permission_name_what_to_do(fake: FakeGraph, clock: Clock) -> None:
    fake.expired = True
    with pytest.raises(AuthFailed, match="expired.*FACEBOOK_PAGE_TOKEN"):
        facebook(fake, clock).fetch(None)
    fake.expired = False
    fake.fail("feed", code=10, message="(#10) This endpoint requires the 'pages_read_user_engagement' permission")
    with pytest.raises(AuthFailed, match="lacks the permission pages_read_user_engagement"):
        facebook(fake, clock).fetch(None)


def test_ratings_the_token_cannot_read_are_a_problem_line_asked_again_a_day_later(
    fake: FakeGraph, clock: Clock
) -> None:
    seed_page(fake)
    fake.fail("ratings", code=200, message="(#200) Requires pages_read_user_engagement permission")
    connector = facebook(fake, clock)
    result = connector.fetch(None)
    assert any("ratings are not read" in p and "pages_read_user_engagement" in p for p in result.problems)
    assert all(p.kind != PostKind.REVIEW for p in result.posts)
    clock.advance(hours=1)
    assert connector.fetch(result.cursor).requests_made == 2  # feed and tagged: ratings wait a day


def test_a_throttle_stops_every_request_until_its_end_across_a_restart(fake: FakeGraph, clock: Clock) -> None:
    seed_page(fake)
    usage = '{"1000": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 30}]}'
    fake.fail("feed", code=32, message="Page request limit reached", headers={"X-Business-Use-Case-Usage": usage})
    with pytest.raises(RateLimited) as raised:
        facebook(fake, clock).fetch(None)
    assert raised.value.until == NOW + timedelta(minutes=30)
    # half way: what was read is kept, the end of the throttle goes into the cursor
    fake.fail("tagged", code=4, message="Application request limit reached")
    clock.advance(minutes=31)
    partial = facebook(fake, clock).fetch(None)
    assert partial.posts and any("throttled" in p for p in partial.problems)
    before = fake.count()
    clock.advance(minutes=5)
    with pytest.raises(RateLimited):
        facebook(fake, clock).fetch(partial.cursor)  # a new connector: a restart
    assert fake.count() == before
    clock.advance(minutes=15)
    assert facebook(fake, clock).fetch(partial.cursor).requests_made > 0


def test_usage_above_the_threshold_slows_down_before_meta_throttles(fake: FakeGraph, clock: Clock) -> None:
    seed_page(fake)
    connector = facebook(fake, clock)
    fake.usage = {"X-App-Usage": BUSY}
    first = connector.fetch(None)
    # the feed said 95%: its visitor post is kept, nothing more was asked
    assert first.requests_made == 1 and [p.kind for p in first.posts] == [PostKind.POST]
    fake.usage = {}
    before = fake.count()
    clock.advance(minutes=5)
    with pytest.raises(RateLimited):
        facebook(fake, clock).fetch(first.cursor)
    assert fake.count() == before
    clock.advance(minutes=6)
    assert len(facebook(fake, clock).fetch(first.cursor).posts) == 5


def test_a_server_error_is_unavailable_and_a_malformed_comment_is_a_problem_line(fake: FakeGraph, clock: Clock) -> None:
    ids = seed_page(fake)
    fake.fail("feed", status=500, code=2, message="Service temporarily unavailable")
    with pytest.raises(SourceUnavailable):
        facebook(fake, clock).fetch(None)
    fake.objects[ids["reply"]]["created_time"] = None  # Graph sent an item without its time
    original = fake._node

    def node(object_id: str) -> dict | None:
        out = original(object_id)
        if object_id == ids["reply"] and out is not None:
            del out["created_time"]
        return out

    fake.objects[ids["reply"]]["created_time"] = NOW - timedelta(hours=3)
    fake._node = node  # type: ignore[method-assign]
    result = facebook(fake, clock).fetch(None)
    assert ids["reply"] not in {p.native_id for p in result.posts} and ids["first"] in {
        p.native_id for p in result.posts
    }
    assert any("created_time is missing" in p for p in result.problems)


def test_check_reports_nothing_for_a_good_token_and_names_missing_permissions(fake: FakeGraph, clock: Clock) -> None:
    assert facebook(fake, clock).check() == []
    fake.scopes = ("pages_read_engagement",)
    problems = facebook(fake, clock).check()
    assert any("pages_manage_engagement" in p for p in problems)
    fake.expired = True
    assert any("expired" in p for p in facebook(fake, clock, env={"FACEBOOK_PAGE_TOKEN": "page-token"}).check())
    assert ENV["FACEBOOK_PAGE_TOKEN"] == "page-token"
