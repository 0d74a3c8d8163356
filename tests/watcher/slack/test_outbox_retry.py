"""Outbox rows retried through the real WebClient against the fake Slack: an outage
or a bot not invited delays a card but never drops it, and a message Slack stored
before answering 500 is taken as posted: a card or escalation copy is redrawn (a card
is never also folded into the overflow summary), an overflow summary is not posted twice."""

from __future__ import annotations

import json
import logging

import pytest

from watcher.config import Config
from watcher.slack.jobs import run_slack_jobs
from watcher.slack.outbox import SlackNotifier, card_key, flush_slack
from watcher.store import Store

from .conftest import ANA, Clock, RecordingConnector, blocks_text, ingest, make_config, make_post, make_runtime
from .harness import Harness


def notifier(store: Store, client, config: Config, clock: Clock) -> SlackNotifier:
    return SlackNotifier(store, client, config, clock=clock, sleep=lambda s: None, monotonic=lambda: 0.0)


def card_row(store: Store) -> tuple[str, int, str]:
    status, attempts, error = store.db.execute(
        "SELECT status, attempts, last_error FROM outbox WHERE kind = 'card'"
    ).fetchone()
    return status, attempts, error


def top_messages(fake, channel: str = "CCARE") -> list[dict]:
    return [m for m in fake.channel_messages(channel) if "thread_ts" not in m]


def test_a_five_hour_slack_outage_delays_the_card_but_never_drops_it(store, config, client, fake, clock, caplog):
    (item_id,) = ingest(store, config, clock, make_post("1", "my card was charged twice"))
    fake.fail("chat.postMessage", 503, times=60)  # every try for five hours
    caplog.set_level(logging.WARNING, logger="watcher.notify.outbox")
    for _ in range(60):  # a `watcher poll` every 5 minutes (a fresh notifier, so no hold carried over)
        assert flush_slack(store, notifier(store, client, config, clock), clock=clock).retrying == 1
        clock.advance(minutes=5)
    assert card_row(store)[:2] == ("pending", 60)  # the old code gave up (status failed) after 20
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 60  # one per flush, naming how long the oldest row has waited
    assert "1 outbox message(s) waiting; the oldest (outbox row 1, card) has waited 4 h 55 min" in warnings[-1]
    assert "Slack answered 503" in warnings[-1]
    from watcher.notify.outbox import outbox_status  # imported here, so the tests above run (and fail) on older code

    line, healthy = outbox_status(store.outbox.outbox_backlog(), now=clock())
    assert not healthy and "0 delivered, 1 waiting, 0 failed" in line and "5 h 0 min (tried 60 time(s)" in line
    report = flush_slack(store, notifier(store, client, config, clock), clock=clock)  # Slack is back
    assert report.sent == 2 and report.failed == 0  # the card and its thread
    assert len(top_messages(fake)) == 1
    assert store.slack.slack_message(card_key(item_id))["ts"] == top_messages(fake)[0]["ts"]
    assert outbox_status(store.outbox.outbox_backlog(), now=clock()) == ("2 delivered, 0 waiting, 0 failed", True)


def test_a_bot_not_invited_over_a_weekend_keeps_the_card_until_someone_invites_it(store, config, client, fake, clock):
    ingest(store, config, clock, make_post("1"))
    not_in_channel = json.dumps({"ok": False, "error": "not_in_channel"})
    fake.fail("chat.postMessage", 200, body=not_in_channel, times=31)
    for _ in range(30):  # two and a half hours of not_in_channel (the old code gave up after 100 min)
        flush_slack(store, notifier(store, client, config, clock), clock=clock)
        clock.advance(seconds=301)
    clock.advance(hours=60)  # nobody looks until Monday
    assert flush_slack(store, notifier(store, client, config, clock), clock=clock).retrying == 1
    status, attempts, error = card_row(store)
    assert (status, attempts) == ("pending", 31) and "/invite @watcher" in error
    # Monday: someone invites the bot; the card goes out on the next tick
    clock.advance(minutes=5)
    assert flush_slack(store, notifier(store, client, config, clock), clock=clock).sent == 2
    assert len(top_messages(fake)) == 1


def test_a_retry_never_waits_longer_than_fifteen_minutes(store, config, client, fake, clock):
    ingest(store, config, clock, make_post("1"))
    fake.fail("chat.postMessage", 429, retry_after=7200)  # Slack asks for two hours
    assert flush_slack(store, notifier(store, client, config, clock), clock=clock).retrying == 1
    clock.advance(minutes=14)
    assert flush_slack(store, notifier(store, client, config, clock), clock=clock).sent == 0
    clock.advance(minutes=1)
    assert flush_slack(store, notifier(store, client, config, clock), clock=clock).sent == 2


def test_a_refused_message_fails_with_the_reason_and_check_names_it(store, config, client, fake, clock):
    from watcher.notify.outbox import outbox_status

    store.outbox.enqueue_outbox("digest", "digest:1", {"no": "text"}, now=clock(), channel="CCARE")
    assert flush_slack(store, notifier(store, client, config, clock), clock=clock).failed == 1
    line, healthy = outbox_status(store.outbox.outbox_backlog(), now=clock())
    assert healthy  # listed, not alarmed on forever: nothing is waiting
    assert line == "0 delivered, 0 waiting, 1 failed; last failed: outbox row 1 (digest): " + (
        "outbox row 1: kind 'digest' has no text for Slack"
    )


def test_a_card_slack_stored_before_a_500_is_redrawn_after_a_claim_from_it(store, config, client, fake, clock):
    runtime = make_runtime(store, config, client, clock, RecordingConnector())
    (item_id,) = ingest(store, config, clock, make_post("1"))
    fake.fail("chat.postMessage", 500, after_effect=True)  # Slack stored the card, answered 500
    run_slack_jobs(runtime)
    [card] = top_messages(fake)
    assert "Claim" in blocks_text(card)
    # the card is in the channel with its buttons: Ana claims from it before the retry
    from .harness import block_action

    Harness(runtime).dispatch(block_action("claim", ANA, value=str(item_id), message_ts=card["ts"]))
    assert store.items.get_item(item_id).state == "claimed"
    clock.advance(minutes=1)
    run_slack_jobs(runtime)
    [card] = top_messages(fake)  # not posted twice
    assert card.get("edited") == 1 and "Claimed by" in blocks_text(card)
    assert store.slack.slack_message(card_key(item_id))["ts"] == card["ts"]
    assert [m["metadata"]["event_payload"]["kind"] for m in fake.channel_messages("CCARE")] == ["card", "thread"]


@pytest.mark.parametrize("crash", [False, True], ids=["500 after storing", "crash before marking sent"])
def test_a_card_already_in_the_channel_is_not_folded_into_the_overflow_on_retry(tmp_path, fake, client, clock, crash):
    config = make_config(tmp_path, fake.base_url, hourly_cap=1)
    with Store(config.storage.path) as store:
        first, second = ingest(store, config, clock, make_post("1", "first"), make_post("2", "second", handle="dan"))
        if crash:  # the card is posted, then the process dies before anything is recorded
            notifier(store, client, config, clock).deliver(store.outbox.due_outbox(now=clock())[0])
            store.db.execute("DELETE FROM slack_messages")
            store.db.execute("DELETE FROM outbox WHERE kind != 'card'")
        else:
            fake.fail("chat.postMessage", 500, after_effect=True)
            flush_slack(store, notifier(store, client, config, clock), clock=clock)
        clock.advance(seconds=5)
        flush_slack(store, notifier(store, client, config, clock), clock=clock)  # card 2 fills the hour's cap
        clock.advance(minutes=3)  # the first card's retry (or the dead process's lease) comes due
        flush_slack(store, notifier(store, client, config, clock), clock=clock)
        kinds = [m["metadata"]["event_payload"]["kind"] for m in top_messages(fake)]
        assert kinds == ["card", "card"]  # no overflow summary announcing item 1 a second time
        saved = store.slack.slack_message(card_key(first))
        assert saved["kind"] == "card" and saved["ts"] == top_messages(fake)[0]["ts"]  # its card stays updatable
        assert store.outbox.outbox_counts() == {"sent": 4}  # two cards, two threads


def test_an_escalation_copy_slack_stored_before_a_500_is_redrawn_on_retry(store, config, client, fake, clock):
    from watcher.notify.outbox import flush_outbox

    runtime = make_runtime(store, config, client, clock, RecordingConnector())
    (item_id,) = ingest(store, config, clock, make_post("1", "I will call my lawyer", priority="urgent"))
    slack = notifier(store, client, config, clock)
    assert flush_outbox(store, slack, clock=clock, limit=1).sent == 1  # the card
    assert flush_outbox(store, slack, clock=clock, limit=1).sent == 1  # its thread
    fake.fail("chat.postMessage", 500, after_effect=True)  # Slack stores the escalation copy, answers 500
    assert flush_outbox(store, slack, clock=clock).retrying == 1
    [copy] = fake.channel_messages("CESC")
    assert "Unclaimed" in blocks_text(copy)
    Harness(runtime).click("claim", item_id, ANA)  # the card is redrawn; the copy has no address yet
    clock.advance(minutes=1)
    assert flush_outbox(store, slack, clock=clock).sent == 1
    [copy] = fake.channel_messages("CESC")  # not posted twice, and redrawn
    assert copy.get("edited") == 1 and "Claimed by" in blocks_text(copy)
    assert store.slack.slack_message(f"escalation:{item_id}")["ts"] == copy["ts"]


def test_an_overflow_summary_slack_stored_before_a_500_is_not_posted_again_by_the_next_row(
    tmp_path, fake, client, clock
):
    from watcher.notify.outbox import flush_outbox

    config = make_config(tmp_path, fake.base_url, hourly_cap=1)
    with Store(config.storage.path) as store:
        posts = [make_post(str(n), f"post number {n}", handle=f"h{n}") for n in range(3)]
        ingest(store, config, clock, *posts)
        slack = notifier(store, client, config, clock)
        assert flush_outbox(store, slack, clock=clock, limit=3).sent == 3  # one card, two items past the cap
        assert flush_outbox(store, slack, clock=clock, limit=1).sent == 1  # the card's thread
        fake.fail("chat.postMessage", 500, after_effect=True)  # Slack stores the summary, answers 500
        assert flush_outbox(store, slack, clock=clock).retrying == 1
        clock.advance(seconds=5)  # the second item's overflow row is due before the first one's retry
        # this process holds its outbox after the 500; another one (`watcher poll`) takes the row
        assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 1
        clock.advance(minutes=1)
        assert flush_outbox(store, slack, clock=clock).sent == 1
        summaries = [m for m in top_messages(fake) if m["metadata"]["event_payload"]["kind"] == "overflow"]
        assert len(summaries) == 1 and "2 more item(s)" in blocks_text(summaries[0])
        assert store.slack.slack_message("overflow:CCARE:2026-11-16T09")["ts"] == summaries[0]["ts"]
        assert store.outbox.outbox_counts() == {"sent": 6}
