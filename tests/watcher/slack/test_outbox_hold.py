"""The outbox with the scheduler's real tick (scheduler.outbox_interval_seconds = 5) and
one notifier, as `watcher run` has: rows for a channel the bot cannot post to never hold
up other channels; a Slack outage or 429 holds the whole outbox until the wait ends (one
probe per wait, not one per tick); warnings and channel look-ups are not repeated per tick."""

from __future__ import annotations

import json
import logging

from watcher.config import Config
from watcher.slack.outbox import SlackNotifier, flush_slack
from watcher.store import Store

from .conftest import Clock, ingest, make_post
from .test_outbox_retry import notifier, top_messages

TICK = 5  # seconds: the default scheduler.outbox_interval_seconds


def run_ticks(store: Store, slack: SlackNotifier, clock: Clock, *, seconds: int) -> None:
    for _ in range(seconds // TICK):
        flush_slack(store, slack, clock=clock)
        clock.advance(seconds=TICK)


def posts_to(fake, channel: str) -> int:
    return sum(1 for call in fake.calls_to("chat.postMessage") if call.params.get("channel") == channel)


def kinds_by_status(store: Store) -> dict[tuple[str, str], int]:
    rows = store.db.execute("SELECT kind, status, COUNT(*) FROM outbox GROUP BY kind, status").fetchall()
    return {(kind, status): count for kind, status, count in rows}


def test_cards_for_a_channel_the_bot_cannot_see_never_hold_up_a_card_for_another_channel(
    store: Store, config: Config, client, fake, clock: Clock
) -> None:
    # 61 cards routed to a private channel the bot is not in (Slack says channel_not_found)
    secret = [make_post(str(n), f"post {n}", handle=f"h{n}", channel="#secret") for n in range(61)]
    ingest(store, config, clock, *secret)
    ingest(store, config, clock, make_post("999", "the good one", handle="good"))
    slack = notifier(store, client, config, clock)
    flush_slack(store, slack, clock=clock)
    [card] = top_messages(fake)  # the good card went out on the first tick, its thread with it
    assert "the good one" in card["text"] or "the good one" in str(card["blocks"])
    run_ticks(store, slack, clock, seconds=600)
    # one refusal stands for the channel's rows: one try per 5 minutes, not one per row per tick
    assert posts_to(fake, "#secret") <= 3
    assert kinds_by_status(store)[("card", "pending")] == 61  # waiting, never given up
    # someone invites the bot: every card goes out (past the hourly cap, into the overflow summary)
    fake.channels["secret"] = "CSECRET"
    run_ticks(store, slack, clock, seconds=360)
    statuses = {status for (_, status) in kinds_by_status(store)}
    assert statuses == {"sent"}
    cards = [m for m in fake.channel_messages("CSECRET") if m["metadata"]["event_payload"]["kind"] == "card"]
    assert len(cards) == config.slack.hourly_cap


def test_an_hour_of_slack_503s_is_probed_once_per_wait_and_warned_about_every_fifteen_minutes(
    store: Store, config: Config, client, fake, clock: Clock, caplog
) -> None:
    ingest(store, config, clock, *[make_post(str(n), f"post {n}", handle=f"h{n}") for n in range(100)])
    fake.fail("chat.postMessage", 503, times=100_000)
    slack = notifier(store, client, config, clock)
    caplog.set_level(logging.WARNING, logger="watcher.notify.outbox")
    run_ticks(store, slack, clock, seconds=3600)
    # back-off 10, 20, ... 300 s after each probe: about 35 probes, where each 5 s tick used to ask
    assert 10 <= len(fake.calls_to("chat.postMessage")) <= 40
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 5  # one per 15 minutes while the count does not grow
    assert "100 outbox message(s) waiting" in warnings[-1] and "Slack answered 503" in warnings[-1]
    assert store.outbox.outbox_counts() == {"pending": 100}
    with fake.lock:  # Slack is back
        fake.failures.pop("chat.postMessage")
    run_ticks(store, slack, clock, seconds=600)
    assert set(store.outbox.outbox_counts()) == {"sent"}  # every card (or its overflow line), once
    cards = [m for m in top_messages(fake) if m["metadata"]["event_payload"]["kind"] == "card"]
    assert len(cards) == config.slack.hourly_cap


def test_a_429_holds_the_whole_outbox_until_its_retry_after_ends(
    store: Store, config: Config, client, fake, clock: Clock
) -> None:
    ingest(store, config, clock, *[make_post(str(n), f"post {n}", handle=f"h{n}") for n in range(3)])
    fake.fail("chat.postMessage", 429, retry_after=120)
    slack = notifier(store, client, config, clock)
    assert flush_slack(store, slack, clock=clock).retrying == 1
    run_ticks(store, slack, clock, seconds=115)  # 23 ticks inside the window
    assert len(fake.calls_to("chat.postMessage")) == 1  # the one that was told to wait
    assert flush_slack(store, slack, clock=clock).held
    clock.advance(seconds=5)  # the window has ended
    assert flush_slack(store, slack, clock=clock).sent == 6  # three cards, three threads
    assert len(top_messages(fake)) == 3


def test_a_channel_name_that_does_not_exist_is_not_looked_up_on_every_retry(
    store: Store, config: Config, client, fake, clock: Clock, caplog
) -> None:
    ingest(store, config, clock, make_post("1", channel="#nowhere"), make_post("2", handle="dan"))
    slack = notifier(store, client, config, clock)
    caplog.set_level(logging.WARNING)
    run_ticks(store, slack, clock, seconds=3600)
    assert len(top_messages(fake)) == 1  # the other card went out
    assert kinds_by_status(store)[("card", "pending")] == 1
    scans = [c for c in fake.calls_to("conversations.list") if not c.params.get("cursor")]  # first pages
    assert len(scans) <= 5  # once per 15 minutes, not on each retry
    assert posts_to(fake, "#nowhere") <= 13  # one try per 5 minutes
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) <= 10
    assert "channel #nowhere" in warnings[-1]


def test_cards_for_the_default_channel_the_bot_is_not_in_ask_slack_once_per_wait_not_once_each(
    store: Store, config: Config, client, fake, clock: Clock
) -> None:
    # unrouted cards: their outbox rows name no channel, they go to slack.channel
    ingest(store, config, clock, *[make_post(str(n), f"post {n}", handle=f"h{n}") for n in range(20)])
    fake.fail("chat.postMessage", 200, body=json.dumps({"ok": False, "error": "not_in_channel"}), times=100_000)
    slack = notifier(store, client, config, clock)
    run_ticks(store, slack, clock, seconds=600)
    assert len(fake.calls_to("chat.postMessage")) <= 3  # one per 5 minutes for the channel
    status, error = store.db.execute("SELECT status, last_error FROM outbox WHERE id = 20").fetchone()
    assert status == "pending" and "/invite @watcher" in error
    with fake.lock:  # someone types /invite @watcher
        fake.failures.pop("chat.postMessage")
    run_ticks(store, slack, clock, seconds=360)
    assert store.outbox.outbox_counts() == {"sent": 40}  # twenty cards, twenty threads
    assert len(top_messages(fake)) == 20
