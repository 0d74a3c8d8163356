"""One transition table: the queue enforces it, cards show only what it allows, and
listeners check it (and who is asking) before a modal opens."""

from __future__ import annotations

import itertools
import json
import logging
from datetime import timedelta

import pytest

from watcher.core.item import QueueItem
from watcher.core.vocab import Priority, QueueState
from watcher.queue.transitions import Action, allows
from watcher.slack.cards import CardView, card_actions, context_blocks
from watcher.slack.jobs import JobsReport, run_slack_jobs
from watcher.slack.sla import SlaState

from .conftest import ANA, EVE, START, RecordingConnector, ingest, make_post, make_runtime
from .harness import Harness, template_pick


@pytest.fixture
def connector() -> RecordingConnector:
    return RecordingConnector()


@pytest.fixture
def runtime(store, config, client, clock, connector):
    return make_runtime(store, config, client, clock, connector)


@pytest.fixture
def harness(runtime) -> Harness:
    return Harness(runtime)


def queued(runtime, clock, *posts):
    ids = ingest(runtime.store, runtime.config, clock, *posts)
    run_slack_jobs(runtime)
    return ids


def ephemerals(fake, user):
    return [c.params["text"] for c in fake.calls_to("chat.postEphemeral") if c.params["user"] == user]


def view_for(state: str, *, approval: bool, escalated: bool, draft: str, hideable: bool = False) -> CardView:
    item = QueueItem(
        id=7,
        post_key="x:1",
        state=QueueState(state),
        priority=Priority.HIGH,
        score=70,
        channel="",
        created_at=START,
        version=1,
        escalated=escalated,
        assignee="UANA",
        drafted_by="UANA" if draft else None,
        draft_text=draft or None,
        last_error="boom" if state == "failed" else None,
        snoozed_until=START + timedelta(hours=1) if state == "snoozed" else None,
        hidden=hideable and state == "dismissed",
    )
    return CardView(
        item=item,
        post=make_post("1"),
        triage=None,
        sla=SlaState(START, "running", 10),
        approval_required=approval,
        can_hide=hideable,
    )


@pytest.mark.parametrize("state", [s.value for s in QueueState])
def test_a_card_never_offers_what_the_table_refuses(state):
    cases = itertools.product((True, False), (True, False), ("", "Hi!"), (True, False))
    for approval, escalated, draft, hideable in cases:
        view = view_for(state, approval=approval, escalated=escalated, draft=draft, hideable=hideable)
        for element in card_actions(view):
            assert allows(Action(element["action_id"]), state), (state, element["action_id"])


def test_a_snoozed_card_can_be_drafted_from_its_button_to_the_saved_draft(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    harness.click("snooze", item_id, ANA, choice="4h")
    assert runtime.store.items.get_item(item_id).state == "snoozed"
    card = runtime.notifier.view(item_id)[0]
    assert "draft" in [e["action_id"] for e in card_actions(card)]
    harness.click("draft", item_id, ANA)
    assert len(fake.calls_to("views.open")) == 1  # the modal opened
    response = harness.submit_draft(item_id, ANA, "Sorry, we are on it.")
    assert response.status == 200 and not response.body  # no errors: the queue took it
    item = runtime.store.items.get_item(item_id)
    assert item.state == "drafted" and item.snoozed_until is None


def test_the_reject_form_does_not_open_for_an_item_the_table_says_cannot_be_rejected(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    harness.click("claim", item_id, ANA)
    harness.click("reject", item_id, ANA)
    assert fake.calls_to("views.open") == []
    assert "cannot reject" in ephemerals(fake, ANA)[-1]


def test_picking_a_template_is_for_moderators_only(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    meta = json.dumps({"item_id": item_id, "revision": 0})
    view = {"id": "V9", "hash": "h", "private_metadata": meta, "state": {"values": {}}}
    harness.dispatch(template_pick(EVE, view, "0"))
    assert fake.calls_to("views.update") == []
    [told] = [c.params["text"] for c in fake.calls_to("chat.postMessage") if c.params["channel"] == EVE]
    assert "Only the care team's moderators" in told


def test_a_root_post_is_standalone_in_the_cards_thread():
    root = make_post("100", conversation_id="100")  # a root tweet names itself as its conversation
    text = json.dumps(context_blocks(root))
    assert "standalone" in text and "In a conversation" not in text
    reply = make_post("101", conversation_id="100")
    assert "In a conversation* (parent 100)" in json.dumps(context_blocks(reply))


def test_the_native_reply_check_keeps_its_interval_across_restarts(store, config, client, clock, connector):
    queued(make_runtime(store, config, client, clock, connector), clock, make_post("1"))  # the card goes out
    clock.advance(minutes=10)
    run_slack_jobs(make_runtime(store, config, client, clock, connector))
    assert len(connector.batches) == 1  # the check ran
    clock.advance(minutes=1)
    run_slack_jobs(make_runtime(store, config, client, clock, connector))  # a restarted process
    assert len(connector.batches) == 1  # not again before the interval (10 min)
    clock.advance(minutes=9)
    run_slack_jobs(make_runtime(store, config, client, clock, connector))
    assert len(connector.batches) == 2


def test_the_tick_report_is_logged_in_words():
    text = str(JobsReport(woken=0, reminded=1, answered_elsewhere=0, sent=2, retrying=3, failed=1))
    assert "JobsReport(" not in text and "3 waiting to be retried" in text and "1 failed" in text


def test_building_the_app_logs_no_warning(runtime, caplog):
    with caplog.at_level(logging.WARNING):
        Harness(runtime)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
