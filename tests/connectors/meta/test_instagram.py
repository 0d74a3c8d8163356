"""The Instagram connector against the fake Graph API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.base import RateLimited, ReplyOutcomeUnknown, ReplyRejected
from tests.connectors.meta.support import IG_ANA, IG_GIO, NOW, Clock, instagram, running_fake
from tests.fakes.graph_api import FakeGraph
from watcher.core.post import PostKind


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with running_fake() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


def seed(fake: FakeGraph) -> dict[str, str]:
    media = fake.add_media("Autumn card designs 🍂", NOW - timedelta(days=3))
    quiet = fake.add_media("No comments here", NOW - timedelta(days=1))
    first = fake.add_ig_comment(media, "Quando arriva la carta nera?", NOW - timedelta(hours=5), by=IG_GIO)
    answer = fake.add_ig_comment(media, "@gio.rossi a dicembre!", NOW - timedelta(hours=4),
                                 by=(fake.ig_id, fake.ig_username), parent=first)  # fmt: skip
    spam = fake.add_ig_comment(media, "follow4follow", NOW - timedelta(hours=3), by=IG_ANA, hidden=True)
    tag = fake.add_media("Brunch paid with @lumo.bank", NOW - timedelta(hours=2), owner="ana.pop", tagged=True)
    return {"media": media, "quiet": quiet, "first": first, "answer": answer, "spam": spam, "tag": tag}


def test_fetch_reads_comments_replies_and_tags_and_an_idle_poll_asks_two_things(fake: FakeGraph, clock: Clock) -> None:
    ids = seed(fake)
    result = instagram(fake, clock).fetch(None)
    by_id = {p.native_id: p for p in result.posts}
    assert set(by_id) == {ids["first"], ids["answer"], ids["tag"]}  # the hidden one is handled already
    first, answer = by_id[ids["first"]], by_id[ids["answer"]]
    assert first.kind == PostKind.COMMENT and first.parent_text == "Autumn card designs 🍂"
    assert first.url == f"https://www.instagram.com/p/{ids['media']}/" and first.author.handle == "gio.rossi"
    assert answer.is_own and answer.parent_id == ids["first"]
    assert by_id[ids["tag"]].kind == PostKind.MENTION
    assert result.requests_made == 3 and result.problems == ()  # media, one media's comments, tags
    idle = instagram(fake, clock).fetch(result.cursor)
    assert idle.posts == () and idle.requests_made == 2


def test_a_new_reply_under_an_old_comment_moves_the_count_and_is_read(fake: FakeGraph, clock: Clock) -> None:
    ids = seed(fake)
    connector = instagram(fake, clock)
    cursor = connector.fetch(None).cursor
    clock.advance(minutes=10)
    late = fake.add_ig_comment(ids["media"], "Grazie!", NOW + timedelta(minutes=5), by=IG_GIO, parent=ids["first"])
    result = connector.fetch(cursor)
    assert [(p.native_id, p.parent_id) for p in result.posts] == [(late, ids["first"])]


def test_reply_goes_under_the_top_level_comment_once_after_a_timeout(fake: FakeGraph, clock: Clock) -> None:
    ids = seed(fake)
    connector = instagram(fake, clock, timeout_seconds=0.3)
    posts = {p.native_id: p for p in connector.fetch(None).posts}
    fake.delay_next_post(1.0)
    with pytest.raises(ReplyOutcomeUnknown):
        connector.reply(posts[ids["first"]], "Ciao Gio, a metà dicembre")
    found = connector.find_own_reply(posts[ids["first"]], "Ciao Gio, a metà dicembre")
    assert found is not None
    assert [r["text"] for r in fake.replies_to(ids["first"])].count("Ciao Gio, a metà dicembre") == 1
    with pytest.raises(ReplyRejected, match="Instagram app"):
        connector.reply(posts[ids["tag"]], "Grazie!")
    with pytest.raises(ReplyRejected, match="allows 2200"):
        connector.reply(posts[ids["first"]], "a" * 2201)


def test_hide_and_unhide_and_a_throttle_is_raised_with_its_end(fake: FakeGraph, clock: Clock) -> None:
    ids = seed(fake)
    connector = instagram(fake, clock)
    post = next(p for p in connector.fetch(None).posts if p.native_id == ids["first"])
    connector.hide(post)
    assert fake.objects[ids["first"]]["hidden"] is True
    connector.unhide(post)
    assert fake.objects[ids["first"]]["hidden"] is False
    fake.fail("media", code=80002, message="There have been too many calls to this Instagram account")
    with pytest.raises(RateLimited) as raised:
        instagram(fake, clock).fetch(None)
    assert raised.value.until == NOW + timedelta(minutes=15)


def test_check_resolves_the_account_from_the_page(fake: FakeGraph, clock: Clock) -> None:
    assert instagram(fake, clock, page_id=fake.page_id).check() == []
    problems = instagram(fake, clock, page_id=fake.page_id, account_id="17841499999999999").check()
    assert any(f'set account_id = "{fake.ig_id}"' in p for p in problems)
