"""Buttons and modals through the real Bolt app, Slack calls through the real
WebClient to the fake Slack API, replies through a connector."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import PostedReply, ReplyOutcomeUnknown, ReplyRejected, SourceUnavailable
from connectors.replay import ReplayConnector
from watcher.ingest.pipeline import Pipeline
from watcher.slack.jobs import run_slack_jobs
from watcher.slack.outbox import card_key
from watcher.slack.runtime import SlackRuntime
from watcher.store import Store

from .conftest import (
    ANA,
    EVE,
    LUCA,
    MIRA,
    START,
    RecordingConnector,
    blocks_text,
    ingest,
    make_config,
    make_post,
    make_runtime,
)
from .harness import Harness, template_pick


@pytest.fixture
def connector() -> RecordingConnector:
    return RecordingConnector()


@pytest.fixture
def runtime(store, config, client, clock, connector) -> SlackRuntime:
    return make_runtime(store, config, client, clock, connector)


@pytest.fixture
def harness(runtime) -> Harness:
    return Harness(runtime)


def posted_card(runtime, fake, item_id):
    saved = runtime.store.slack.slack_message(card_key(item_id))
    return fake.find(saved["channel"], saved["ts"])


def ephemerals(fake, user):
    return [c.params["text"] for c in fake.calls_to("chat.postEphemeral") if c.params["user"] == user]


def queued(runtime, clock, *posts):
    ids = ingest(runtime.store, runtime.config, clock, *posts)
    run_slack_jobs(runtime)
    return ids


def test_claim_updates_card_in_place(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    response = harness.click("claim", item_id, ANA)
    assert response.status == 200
    assert runtime.store.items.get_item(item_id).assignee == ANA
    card = posted_card(runtime, fake, item_id)
    assert card["edited"] == 1 and "Claimed by <@UANA> <!date^" in blocks_text(card) and "{ago}" in blocks_text(card)
    harness.click("claim", item_id, ANA)  # double click: no second claim
    assert [e["action"] for e in runtime.store.items.events_for_item(item_id)].count("claim") == 1


def test_member_of_moderator_group_may_act_others_are_refused(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    harness.click("claim", item_id, EVE)
    assert runtime.store.items.get_item(item_id).state == "new"
    assert "Only the care team's moderators" in ephemerals(fake, EVE)[0]
    harness.click("claim", item_id, MIRA)  # MIRA is in user group SMODS
    assert runtime.store.items.get_item(item_id).assignee == MIRA


def test_concurrent_claims_yield_one_winner(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    barrier = threading.Barrier(2)

    def click(user):
        barrier.wait()
        harness.click("claim", item_id, user)

    threads = [threading.Thread(target=click, args=(u,)) for u in (ANA, LUCA)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claims = [e for e in runtime.store.items.events_for_item(item_id) if e["action"] == "claim"]
    assert len(claims) == 1
    loser = LUCA if claims[0]["actor"] == ANA else ANA
    assert "claimed by" in ephemerals(fake, loser)[0] or "changed by someone else" in ephemerals(fake, loser)[0]


def test_draft_modal_offers_templates_and_checks_the_length(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    harness.click("draft", item_id, ANA)
    view = fake.calls_to("views.open")[0].params["view"]
    assert "Hi @carla, thanks for asking!" in json.dumps(view)
    view = {**view, "id": "V9", "hash": "h", "state": {"values": {"note": {"note": {"value": "keep"}}}}}
    harness.dispatch(template_pick(ANA, view, "1"))
    updated = fake.calls_to("views.update")[0].params
    assert (
        updated["view_id"] == "V9"
        and "Hello Carla" in json.dumps(updated["view"])
        and '"reply:1"' in json.dumps(updated["view"])
    )
    response = harness.submit_draft(item_id, ANA, "x" * 281)
    errors = json.loads(response.body)
    assert errors["response_action"] == "errors" and "x allows 280" in errors["errors"]["reply:0"]
    assert runtime.store.items.get_item(item_id).state == "new"


def test_end_to_end_replayed_post_to_public_reply(tmp_path, fake, client, clock):
    """Replay file -> pipeline (real triage) -> outbox -> card -> Claim -> Draft ->
    Approve -> the reply reaches the connector -> the card says who and when."""
    config = make_config(tmp_path, fake.base_url, four_eyes=True)
    export = tmp_path / "export.jsonl"
    record = {
        "id": "1001",
        "platform": "x",
        "text": "I was charged twice for my order! Can you help?",
        "created_at": (START - timedelta(minutes=5)).isoformat(),
        "author": {"id": "42", "handle": "carla", "name": "Carla", "followers": 1234},
        "lang": "en",
        "url": "https://x.com/carla/status/1001",
    }
    export.write_text(json.dumps(record) + "\n", encoding="utf-8")
    replay = ReplayConnector(export, source="replay", platform="x", replies_path=tmp_path / "replies.jsonl")
    with Store(config.storage.path) as store:
        Pipeline(store, config, clock=clock).ingest("replay", replay.fetch(None))
        runtime = make_runtime(store, config, client, clock, replay)
        harness = Harness(runtime)
        assert run_slack_jobs(runtime).sent >= 2
        item_id = store.items.item_for_post("x:1001").id
        card = blocks_text(posted_card(runtime, fake, item_id))
        assert "URGENT" in card and "double charge" in card and "@carla" in card
        harness.click("claim", item_id, ANA)
        clock.advance(minutes=3)
        harness.click("draft", item_id, ANA)
        assert fake.calls_to("views.open")[-1].params["view"]["callback_id"] == "draft_submit"
        response = harness.submit_draft(item_id, ANA, "Sorry @carla, the refund is on its way", note="checked billing")
        assert response.status == 200 and store.items.get_item(item_id).state == "drafted"
        card = blocks_text(posted_card(runtime, fake, item_id))
        assert "Approve & send" in card and "Internal note: checked billing" in card
        harness.click("approve", item_id, ANA)  # four-eyes: the drafter cannot approve
        assert "four-eyes" in ephemerals(fake, ANA)[-1]
        clock.advance(minutes=6)
        harness.click("approve", item_id, LUCA)
        harness.click("approve", item_id, LUCA)  # double submit
        replies = [json.loads(line) for line in (tmp_path / "replies.jsonl").read_text().splitlines()]
        assert [(r["in_reply_to"], r["text"]) for r in replies] == [
            ("x:1001", "Sorry @carla, the refund is on its way")
        ]
        item = store.items.get_item(item_id)
        assert item.state == "replied" and item.approved_by == LUCA
        final = blocks_text(posted_card(runtime, fake, item_id))
        assert "Replied by <@UANA>, approved by <@ULUCA>, 14 min after the post" in final
        assert "checked billing" not in final and "Claim" not in final


def test_reply_error_is_shown_on_the_card_and_retry_works(harness, runtime, fake, clock, connector):
    (item_id,) = queued(runtime, clock, make_post("1", priority="normal"))
    harness.submit_draft(item_id, ANA, "On it")
    connector.fail_with = ReplyRejected("the post was deleted by its author; dismiss the item")
    harness.click("send", item_id, ANA)
    assert runtime.store.items.get_item(item_id).state == "failed"
    card = blocks_text(posted_card(runtime, fake, item_id))
    assert "Sending failed: the post was deleted by its author" in card and "Retry send" in card
    run_slack_jobs(runtime)
    saved = runtime.store.slack.slack_message(card_key(item_id))
    notes = [m["text"] for m in fake.channel_messages("CCARE") if m.get("thread_ts") == saved["ts"]]
    assert any(n.startswith("<@UANA> the reply was not posted: the post was deleted") for n in notes)
    harness.click("send", item_id, ANA)
    assert runtime.store.items.get_item(item_id).state == "replied" and len(connector.replies) == 1
    assert "https://x.com/acme/status/r1" in blocks_text(posted_card(runtime, fake, item_id))


def test_non_moderator_clicking_approve_is_refused(harness, runtime, fake, clock, connector):
    (item_id,) = queued(runtime, clock, make_post("1", priority="high"))
    harness.submit_draft(item_id, ANA, "Reply")
    harness.click("approve", item_id, EVE)
    assert "Only the care team's moderators" in ephemerals(fake, EVE)[0]
    assert runtime.store.items.get_item(item_id).state == "drafted" and connector.replies == []


def test_send_without_approval_is_refused_for_high_priority(harness, runtime, fake, clock, connector):
    (item_id,) = queued(runtime, clock, make_post("1", priority="high"))
    harness.submit_draft(item_id, ANA, "Reply")
    harness.click("send", item_id, ANA)
    assert "Approve & send" in ephemerals(fake, ANA)[0] and connector.replies == []


def test_reject_returns_the_draft_to_its_drafter_with_a_note(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1", priority="high"))
    harness.submit_draft(item_id, ANA, "Reply")
    harness.click("reject", item_id, LUCA)
    assert fake.calls_to("views.open")[-1].params["view"]["callback_id"] == "reject_submit"
    harness.submit_reject(item_id, LUCA, "Too curt, apologise first")
    item = runtime.store.items.get_item(item_id)
    assert item.state == "claimed" and item.assignee == ANA
    assert "Returned to <@UANA> by <@ULUCA>" in blocks_text(posted_card(runtime, fake, item_id))
    run_slack_jobs(runtime)
    card = runtime.store.slack.slack_message(card_key(item_id))
    notes = [m["text"] for m in fake.channel_messages("CCARE") if m.get("thread_ts") == card["ts"]]
    assert "<@UANA> <@ULUCA> returned your draft: Too curt, apologise first" in notes


def test_dismiss_snooze_and_escalate(harness, runtime, fake, clock):
    first, second, third = queued(
        runtime, clock, make_post("1"), make_post("2", handle="b"), make_post("3", handle="c")
    )
    harness.click("dismiss", first, ANA, choice="spam")
    assert runtime.store.items.get_item(first).dismiss_reason == "spam"
    assert "Dismissed by <@UANA>: Spam" in blocks_text(posted_card(runtime, fake, first))
    clock.now = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # Friday 17:00 in Rome
    harness.click("snooze", second, ANA, choice="tomorrow")
    assert (
        runtime.store.items.get_item(second).snoozed_until.isoformat().startswith("2026-11-23T08:00:00")
    )  # Monday 09:00 Rome
    harness.click("escalate", third, LUCA)
    assert runtime.store.items.get_item(third).priority == "urgent"
    run_slack_jobs(runtime)
    (copy,) = fake.channel_messages("CESC")
    assert "<!subteam^SESC>" in blocks_text(copy)
    clock.now = datetime(2026, 11, 23, 8, 1, tzinfo=UTC)
    report = run_slack_jobs(runtime)
    assert report.woken == 1 and runtime.store.items.get_item(second).state == "new"
    harness.click("dismiss", third, LUCA, choice="handled_elsewhere")
    (copy,) = fake.channel_messages("CESC")
    assert "Dismissed by <@ULUCA>: Handled elsewhere" in blocks_text(copy)  # the copy follows the card


def test_brand_reply_made_natively_closes_the_item(harness, runtime, fake, clock, connector):
    (item_id,) = queued(runtime, clock, make_post("1"))
    connector.native["x:1"] = PostedReply("x", "n1", "https://x.com/acme/status/n1", START)
    assert run_slack_jobs(runtime).answered_elsewhere == 0  # checked at the first tick, found nothing then
    clock.advance(minutes=10)
    assert run_slack_jobs(runtime).answered_elsewhere == 1
    assert runtime.store.items.get_item(item_id).state == "answered_elsewhere"
    assert "replied natively" in blocks_text(posted_card(runtime, fake, item_id))


def test_native_check_asks_each_source_once_for_its_items_and_survives_a_failing_one(
    harness, runtime, fake, clock, connector, caplog
):
    first, second = queued(runtime, clock, make_post("1"), make_post("2", "My card was charged twice", handle="dan"))
    connector.native["x:2"] = PostedReply("x", "n2", "https://x.com/acme/status/n2", START)
    clock.advance(minutes=10)  # the first tick posted the cards; the next check is due now

    assert run_slack_jobs(runtime).answered_elsewhere == 1
    assert connector.batches == [["x:1", "x:2"]]  # one call for the batch, not one per item
    assert runtime.store.items.get_item(second).state == "answered_elsewhere"
    assert runtime.store.items.get_item(first).state == "new"

    def unavailable(posts):
        raise SourceUnavailable("X answered 503", source="x-mentions")

    connector.find_own_replies = unavailable
    clock.advance(minutes=10)
    assert run_slack_jobs(runtime).answered_elsewhere == 0  # logged and skipped until the next check
    assert runtime.store.items.get_item(first).state == "new"

    def no_source(post):
        raise LookupError(f"no source fetched {post.key}")

    runtime.connector_for = no_source
    clock.advance(minutes=10)
    with caplog.at_level(logging.WARNING, logger="watcher.slack.app"):
        assert run_slack_jobs(runtime).answered_elsewhere == 0  # the item is skipped, the tick goes on
    # one warning per source and reason, naming the items that stay open
    [warning] = [r.getMessage() for r in caplog.records if "native reply check cannot ask" in r.getMessage()]
    assert f"for item(s) {first}: no source fetched x:1" in warning


def test_unclaimed_item_past_its_sla_gets_one_reminder_in_its_thread(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1", priority="high"))
    clock.advance(minutes=61)
    assert run_slack_jobs(runtime).reminded == 1
    assert run_slack_jobs(runtime).reminded == 0
    card = runtime.store.slack.slack_message(card_key(item_id))
    reminders = [
        m for m in fake.channel_messages("CCARE") if m.get("thread_ts") == card["ts"] and "alarm_clock" in m["text"]
    ]
    assert len(reminders) == 1 and "<!subteam^SESC>" in reminders[0]["text"] and "1 min past" in reminders[0]["text"]
    assert "SLA missed" in blocks_text(posted_card(runtime, fake, item_id))


def test_repeats_from_the_same_author_collapse_into_the_card(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1", "Where is my REFUND??"))
    clock.advance(minutes=2)
    ingest(runtime.store, runtime.config, clock, make_post("2", "where is my refund", created_at=START))
    run_slack_jobs(runtime)
    assert runtime.store.items.count_items() == 1
    assert len([m for m in fake.channel_messages("CCARE") if "thread_ts" not in m]) == 1
    assert "+1 repeats" in blocks_text(posted_card(runtime, fake, item_id))


def test_card_update_during_a_429_waits_in_the_outbox(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    fake.fail("chat.update", 429, retry_after=3)
    harness.click("claim", item_id, ANA)
    assert runtime.store.items.get_item(item_id).state == "claimed"
    assert "Claimed by" not in blocks_text(posted_card(runtime, fake, item_id))
    clock.advance(seconds=2)
    run_slack_jobs(runtime)  # Retry-After is 3 s: not yet
    assert "Claimed by" not in blocks_text(posted_card(runtime, fake, item_id))
    clock.advance(seconds=2)
    run_slack_jobs(runtime)
    assert "Claimed by <@UANA>" in blocks_text(posted_card(runtime, fake, item_id))


def test_a_card_update_slack_asks_to_hold_for_hours_is_tried_again_within_15_minutes(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    fake.fail("chat.update", 429, retry_after=7200)  # two hours, once
    harness.click("claim", item_id, ANA)
    assert "Claimed by" not in blocks_text(posted_card(runtime, fake, item_id))
    clock.advance(minutes=15, seconds=1)
    run_slack_jobs(runtime)
    assert "Claimed by <@UANA>" in blocks_text(posted_card(runtime, fake, item_id))


def test_approvers_are_asked_in_the_thread_and_only_they_may_approve(tmp_path, fake, client, clock, connector):
    config = make_config(tmp_path, fake.base_url, approvers=[LUCA, "SESC"])
    with Store(config.storage.path) as store:
        runtime = make_runtime(store, config, client, clock, connector)
        harness = Harness(runtime)
        (item_id,) = queued(runtime, clock, make_post("1", priority="urgent"))
        harness.submit_draft(item_id, ANA, "We are on it")
        run_slack_jobs(runtime)
        card = store.slack.slack_message(card_key(item_id))
        notes = [m["text"] for m in fake.channel_messages("CCARE") if m.get("thread_ts") == card["ts"]]
        assert "<@ULUCA> <!subteam^SESC> <@UANA> drafted a reply: please review it." in notes
        harness.click("approve", item_id, MIRA)  # a moderator, not an approver
        assert "Only approvers can approve" in ephemerals(fake, MIRA)[0] and connector.replies == []
        harness.click("approve", item_id, LUCA)
        assert connector.replies == [("x:1", "We are on it")]


def test_timeout_after_the_platform_posted_yields_one_public_reply(harness, runtime, fake, clock, connector):
    (item_id,) = queued(runtime, clock, make_post("1"))
    harness.submit_draft(item_id, ANA, "On it")
    connector.fail_with, connector.posted_anyway = ReplyOutcomeUnknown("X did not answer in 10 s"), True
    harness.click("send", item_id, ANA)
    harness.click("send", item_id, ANA)
    assert connector.replies == [("x:1", "On it")]
    assert runtime.store.items.get_item(item_id).state == "replied"


def test_double_submitted_draft_is_one_draft_and_a_closed_item_refuses_inline(harness, runtime, fake, clock):
    (item_id,) = queued(runtime, clock, make_post("1"))
    assert harness.submit_draft(item_id, ANA, "Same words").status == 200
    assert harness.submit_draft(item_id, ANA, "Same words").status == 200
    assert [e["action"] for e in runtime.store.items.events_for_item(item_id)].count("draft") == 1
    harness.click("dismiss", item_id, ANA, choice="no_reply_needed")
    errors = json.loads(harness.submit_draft(item_id, ANA, "Too late").body)
    assert "it is dismissed" in errors["errors"]["reply:0"]


def test_without_moderators_nobody_may_act(tmp_path, fake, client, clock, connector):
    config = make_config(tmp_path, fake.base_url, moderators=[])
    with Store(config.storage.path) as store:
        runtime = make_runtime(store, config, client, clock, connector)
        (item_id,) = queued(runtime, clock, make_post("1"))
        Harness(runtime).click("claim", item_id, ANA)
        assert store.items.get_item(item_id).state == "new"
        assert "slack.moderators is empty" in ephemerals(fake, ANA)[0]


def test_jobs_loop_delivers_until_stopped(runtime, fake, clock):
    from watcher.slack.jobs import jobs_loop

    ingest(runtime.store, runtime.config, clock, make_post("1"))
    stop = threading.Event()
    worker = threading.Thread(target=jobs_loop, args=(runtime,), kwargs={"interval": 0.01, "stop": stop})
    worker.start()
    for _ in range(500):
        if runtime.store.outbox.outbox_counts().get("sent") == 2:
            break
        stop.wait(0.01)
    stop.set()
    worker.join()
    assert runtime.store.outbox.outbox_counts() == {"sent": 2}
    assert len(fake.calls_to("chat.postMessage")) == 2  # many ticks, still one card and one thread


def test_unexpected_error_is_told_without_a_traceback_and_retry_is_safe(harness, runtime, fake, clock, connector):
    (item_id,) = queued(runtime, clock, make_post("1"))
    harness.submit_draft(item_id, ANA, "On it")
    connector.fail_with = RuntimeError("socket closed in a weird way")
    harness.click("send", item_id, ANA)
    (told,) = ephemerals(fake, ANA)
    assert "Send on #1 failed on our side" in told and "Traceback" not in told and "socket closed" not in told
    assert runtime.store.items.get_item(item_id).state == "sending"
    assert "Check & retry send" in blocks_text(posted_card(runtime, fake, item_id))
    harness.click("send", item_id, ANA)  # looks on the platform first, finds nothing, posts once
    assert connector.replies == [("x:1", "On it")] and runtime.store.items.get_item(item_id).state == "replied"
