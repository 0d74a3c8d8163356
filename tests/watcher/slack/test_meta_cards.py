"""Facebook and Instagram on the card (issue #16): the post a comment is under, a rating's
verdict, and the commenter's history. Posts come from the Meta connector's own mapping of
Graph-shaped items; cards go through the outbox to the fake Slack."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from connectors.meta.mapping import Parent, fb_comment_to_post, fb_rating_to_post, ig_comment_to_post
from watcher.slack.outbox import SlackNotifier
from watcher.slack.outbox import flush_slack as flush_outbox

from .conftest import START, blocks_text, ingest

PAGE = "1000"
LAUNCH = Parent(id=f"{PAGE}_77", text="Our new savings account is live!", url="https://www.facebook.com/1000_77")


def fb_comment(native: str, text: str, *, who: dict[str, str] | None, minutes: int = 0, **more: Any):
    item: dict[str, Any] = {
        "id": native,
        "message": text,
        "created_time": (START - timedelta(minutes=30 - minutes)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "permalink_url": f"https://www.facebook.com/{native}",
        **more,
    }
    if who is not None:
        item["from"] = who
    return fb_comment_to_post(item, parent=LAUNCH, page_id=PAGE, source="fb_page", comments={})


def cards(fake) -> list[str]:
    return [blocks_text(m) for m in fake.channel_messages("CCARE") if not m.get("thread_ts")]


def threads(fake) -> list[str]:
    return [blocks_text(m) for m in fake.channel_messages("CCARE") if m.get("thread_ts")]


def deliver(store, config, client, clock) -> None:
    flush_outbox(store, SlackNotifier(store, client, config, clock=clock, sleep=lambda _s: None), clock=clock)


def test_a_facebook_comment_card_shows_the_page_post_it_is_under_with_a_link(store, config, client, fake, clock):
    ingest(
        store, config, clock, fb_comment("77_1", "Is it open to Romanian residents?", who={"id": "u1", "name": "Ana"})
    )
    deliver(store, config, client, clock)
    (card,) = cards(fake)
    assert "Under the post" in card and "Our new savings account is live!" in card
    assert "https://www.facebook.com/1000_77" in card


def test_an_instagram_reply_card_shows_the_comment_it_answers(store, config, client, fake, clock):
    media = Parent(id="9001", text="New card design", url="https://www.instagram.com/p/abc/")
    first = {"id": "c1", "text": "love it", "timestamp": "2026-11-16T08:00:00+0000", "username": "mia"}
    reply = {
        "id": "c2",
        "text": "@mia mine never arrived though",
        "timestamp": "2026-11-16T08:30:00+0000",
        "username": "dan",
        "parent_id": "c1",
    }
    post = ig_comment_to_post(
        reply, parent=media, account_id="17", username="acme", source="ig", comments={"c1": first}
    )
    ingest(store, config, clock, post)
    deliver(store, config, client, clock)
    (card,) = cards(fake)
    assert "In reply to" in card and "love it" in card
    assert "instagram.com/dan" in card  # the commenter's profile


def test_a_recommendation_card_shows_its_verdict(store, config, client, fake, clock):
    rating = {
        "created_time": "2026-11-16T08:40:00+0000",
        "recommendation_type": "negative",
        "review_text": "Blocked my account for a week",
        "reviewer": {"id": "u9", "name": "Dan Pop"},
        "open_graph_story": {"id": "story-1"},
    }
    stars = {"created_time": "2026-11-16T08:41:00+0000", "rating": 4, "reviewer": {"id": "u8", "name": "Lia"}}
    ingest(store, config, clock, fb_rating_to_post(rating, page_id=PAGE, source="fb_page"))
    ingest(store, config, clock, fb_rating_to_post(stars, page_id=PAGE, source="fb_page"))
    deliver(store, config, client, clock)
    first, second = cards(fake)
    assert "*Rating:* :-1: Does not recommend the Page" in first
    assert "*Rating:* :star::star::star::star: 4 of 5 stars" in second


def test_a_facebook_commenters_history_is_theirs_and_no_one_elses(store, config, client, fake, clock):
    ingest(store, config, clock, fb_comment("77_1", "Card blocked again", who={"id": "u1", "name": "Ana Pop"}))
    # another person of the same name, and commenters Facebook shows no one for
    ingest(store, config, clock, fb_comment("77_2", "Namesake's question", who={"id": "u2", "name": "Ana Pop"}))
    ingest(store, config, clock, fb_comment("77_3", "Anonymous one", who=None, minutes=1))
    ingest(store, config, clock, fb_comment("77_4", "Anonymous two", who=None, minutes=2))
    ingest(store, config, clock, fb_comment("77_5", "Still blocked!", who={"id": "u1", "name": "Ana Pop"}, minutes=3))
    deliver(store, config, client, clock)
    history = [text.split("Customer history")[1] for text in threads(fake)]  # not the conversation above it
    assert len(history) == 5
    assert "Card blocked again" in history[4] and "Namesake" not in history[4]
    assert "first contact" in history[1]  # the namesake
    assert "first contact" in history[3]  # the second anonymous commenter
