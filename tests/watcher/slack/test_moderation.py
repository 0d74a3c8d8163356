"""Hide and unhide from the card (issue #16): signed clicks through Bolt, the Facebook
connector against the fake Graph API, the item dismissed as spam and audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.connectors.meta.support import ANA as FB_ANA
from tests.connectors.meta.support import Clock as GraphClock
from tests.connectors.meta.support import facebook, running_fake
from tests.fakes.graph_api import FakeGraph
from watcher.queue.transitions import Action, allows
from watcher.slack.jobs import run_slack_jobs

from .conftest import ANA, EVE, LUCA, START, blocks_text, ingest, make_config, make_runtime
from .harness import Harness


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with running_fake() as fake:
        yield fake


@pytest.fixture
def connector(graph: FakeGraph):
    return facebook(graph, GraphClock(START))


@pytest.fixture
def config(tmp_path, fake):
    return make_config(tmp_path, fake.base_url, approvers=[LUCA])


@pytest.fixture
def runtime(store, config, client, clock, connector):
    return make_runtime(store, config, client, clock, connector)


@pytest.fixture
def harness(runtime) -> Harness:
    return Harness(runtime)


def seed(graph: FakeGraph, connector, runtime, clock) -> tuple[int, int, str]:
    """A spam comment and a visitor post on the Page, queued with their cards posted."""
    launch = graph.add_page_post("Our new savings account", START - timedelta(hours=2))
    comment = graph.add_comment(launch, "FREE crypto!! dm me", START - timedelta(minutes=20), by=FB_ANA)
    graph.add_tagged("Lumo blocked my card", START - timedelta(minutes=10), by=FB_ANA)
    posts = connector.fetch(None).posts
    ids = ingest(runtime.store, runtime.config, clock, *posts)
    run_slack_jobs(runtime)
    by_kind = {p.kind.value: runtime.store.items.item_for_post(p.key).id for p in posts}
    assert len(ids) == 2
    return by_kind["comment"], by_kind["mention"], comment


def card(fake, item_id: int) -> str:
    """The card of `item_id` as it stands in the channel (updated in place)."""
    (message,) = [
        m
        for m in fake.channel_messages("CCARE")
        if m["metadata"]["event_payload"]["kind"] == "card" and m["blocks"][0]["text"]["text"].endswith(f"#{item_id}")
    ]
    return blocks_text(message)


def hide_calls(graph: FakeGraph) -> list[dict[str, str]]:
    return [r.params for r in graph.requests if r.method == "POST" and "is_hidden" in r.params]


def test_a_comment_card_offers_hide_and_a_post_card_does_not(harness, runtime, fake, clock, graph, connector):
    comment_item, post_item, _ = seed(graph, connector, runtime, clock)
    assert '"action_id": "hide"' in card(fake, comment_item)
    assert '"action_id": "hide"' not in card(fake, post_item)


def test_hiding_spam_hides_it_once_and_takes_it_out_of_the_queue(harness, runtime, fake, clock, graph, connector):
    comment_item, _, comment_id = seed(graph, connector, runtime, clock)
    harness.click("hide", comment_item, LUCA)
    harness.click("hide", comment_item, LUCA)  # a double click asks the platform nothing more
    assert graph.objects[comment_id]["is_hidden"] is True
    assert len(hide_calls(graph)) == 1
    item = runtime.store.items.get_item(comment_item)
    assert item.state == "dismissed" and item.hidden and item.dismiss_reason == "spam"
    assert comment_item not in [r.item.id for r in runtime.store.items.queue_rows()]
    (event,) = [e for e in runtime.store.items.events_for_item(comment_item) if e["action"] == "hide"]
    assert event["actor"] == LUCA and event["detail"]["on_platform"] == "hidden"
    shown = card(fake, comment_item)
    assert "Hidden on facebook as spam" in shown and '"action_id": "unhide"' in shown


def test_unhide_shows_the_comment_again_and_reopens_the_item(harness, runtime, fake, clock, graph, connector):
    comment_item, _, comment_id = seed(graph, connector, runtime, clock)
    harness.click("hide", comment_item, LUCA)
    harness.click("unhide", comment_item, LUCA)
    assert graph.objects[comment_id]["is_hidden"] is False
    item = runtime.store.items.get_item(comment_item)
    assert item.state == "new" and not item.hidden and item.dismiss_reason is None
    actions = [e["action"] for e in runtime.store.items.events_for_item(comment_item)]
    assert actions[-2:] == ["hide", "unhide"]


def test_hiding_is_for_approvers_only(harness, runtime, fake, clock, graph, connector):
    comment_item, _, comment_id = seed(graph, connector, runtime, clock)
    harness.click("hide", comment_item, ANA)  # a moderator, not an approver
    harness.click("hide", comment_item, EVE)  # not even a moderator
    assert graph.objects[comment_id]["is_hidden"] is False and hide_calls(graph) == []
    assert runtime.store.items.get_item(comment_item).state == "new"
    told = [c.params["text"] for c in fake.calls_to("chat.postEphemeral")]
    assert any("Only approvers" in t for t in told) and any("moderators" in t for t in told)


def test_a_platform_refusal_leaves_the_item_as_it_was_and_says_why(harness, runtime, fake, clock, graph, connector):
    comment_item, _, comment_id = seed(graph, connector, runtime, clock)
    graph.objects[comment_id]["deleted"] = True  # the author deleted it meanwhile
    harness.click("hide", comment_item, LUCA)
    assert runtime.store.items.get_item(comment_item).state == "new"
    told = [c.params["text"] for c in fake.calls_to("chat.postEphemeral") if c.params["user"] == LUCA]
    assert told and "could not hide" in told[-1]


def test_the_table_lets_hide_and_unhide_only_where_they_make_sense() -> None:
    assert allows(Action.HIDE, "new") and allows(Action.HIDE, "drafted") and not allows(Action.HIDE, "sending")
    assert (
        not allows(Action.HIDE, "replied") and allows(Action.UNHIDE, "dismissed") and not allows(Action.UNHIDE, "new")
    )
