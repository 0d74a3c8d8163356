"""The promise check on single reply drafts: the draft modal shows each phrase found and
why; a moderator cannot send such a draft without approval; approving it asks for a
reason (the incident statement's reason modal) which the approve event keeps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from watcher.slack.runtime import SlackRuntime
from watcher.store import Store

from .conftest import ANA, LUCA, RecordingConnector, ingest, make_post, make_runtime
from .harness import Harness, view_submission

PROMISE = "Hi, we will refund you by tomorrow."


@pytest.fixture
def desk(store, config, client, clock) -> tuple[SlackRuntime, Harness, RecordingConnector]:
    """The runtime over a recording connector, and the signed-request harness in front of it."""
    connector = RecordingConnector()
    runtime = make_runtime(store, config, client, clock, connector)
    return runtime, Harness(runtime), connector


def one_item(store: Store, runtime: SlackRuntime, clock: Any) -> int:
    [item_id] = ingest(store, runtime.config, clock, make_post("p1", "where is my money?", handle="cust"))
    return item_id


def test_a_draft_that_promises_shows_each_phrase_and_why_then_saves_on_a_second_submit(
    desk: Any, store: Store, clock: Any
) -> None:
    runtime, harness, _ = desk
    item_id = one_item(store, runtime, clock)
    first = harness.submit_draft(item_id, ANA, PROMISE)
    body = json.loads(first.body)
    assert body["response_action"] == "update"
    shown = json.dumps(body["view"])
    assert "by tomorrow" in shown and "refund" in shown and "approval" in shown
    assert runtime.queue.item(item_id).state == "new"  # not saved yet: the agent saw the warning first
    checked = json.loads(body["view"]["private_metadata"])["checked"]
    values = {"reply:0": {"text": {"type": "plain_text_input", "value": PROMISE}}, "note": {"note": {"value": None}}}
    harness.dispatch(
        view_submission(
            "draft_submit", ANA, metadata={"item_id": item_id, "revision": 0, "checked": checked}, values=values
        )
    )
    assert runtime.queue.item(item_id).state == "drafted"


def test_a_plain_draft_saves_at_once(desk: Any, store: Store, clock: Any) -> None:
    runtime, harness, _ = desk
    item_id = one_item(store, runtime, clock)
    assert harness.submit_draft(item_id, ANA, "Hi, sorry about that: we are looking into it.").body == ""
    assert runtime.queue.item(item_id).state == "drafted"


def test_sending_a_promise_needs_approval_with_a_reason_kept_in_the_audit_log(
    desk: Any, store: Store, clock: Any, fake: Any
) -> None:
    runtime, harness, connector = desk
    item_id = one_item(store, runtime, clock)
    runtime.queue.draft(item_id, ANA, PROMISE)
    harness.click("send", item_id, ANA)  # no approval needed for its priority, but it promises
    assert connector.replies == []
    assert any("by tomorrow" in c.params.get("text", "") for c in fake.calls_to("chat.postEphemeral"))

    harness.click("approve", item_id, LUCA)
    [opened] = fake.calls_to("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "approve_reason_submit" and "by tomorrow" in json.dumps(view)
    assert runtime.queue.item(item_id).state == "drafted"  # nothing approved before the reason

    metadata = {"item_id": item_id}
    empty = harness.dispatch(
        view_submission("approve_reason_submit", LUCA, metadata=metadata, values={"reason": {"reason": {"value": ""}}})
    )
    assert "reason" in empty.body and runtime.queue.item(item_id).state == "drafted"
    harness.dispatch(
        view_submission(
            "approve_reason_submit", LUCA, metadata=metadata, values={"reason": {"reason": {"value": "billing agreed"}}}
        )
    )
    assert runtime.queue.item(item_id).state == "replied"
    assert [text for _, text in connector.replies] == [PROMISE]
    [approved] = [e for e in store.items.events_for_item(item_id) if e["action"] == "approve"]
    assert approved["actor"] == LUCA and approved["detail"] == {"reason": "billing agreed"}


def test_approving_a_plain_draft_sends_at_once(desk: Any, store: Store, clock: Any, fake: Any) -> None:
    runtime, harness, connector = desk
    item_id = one_item(store, runtime, clock)
    runtime.queue.draft(item_id, ANA, "Hi, sorry: we are looking into it.")
    harness.click("approve", item_id, LUCA)
    assert fake.calls_to("views.open") == [] and runtime.queue.item(item_id).state == "replied"
