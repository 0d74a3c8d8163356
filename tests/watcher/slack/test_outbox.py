"""Outbox -> Slack through the real WebClient against the fake Slack API."""

from __future__ import annotations

from watcher.config import Config
from watcher.slack.outbox import SlackNotifier, card_key
from watcher.slack.outbox import flush_slack as flush_outbox
from watcher.store import Store

from .conftest import Clock, blocks_text, ingest, make_config, make_post


def notifier(store: Store, client, config: Config, clock: Clock, sleeps: list[float] | None = None) -> SlackNotifier:
    recorded = sleeps if sleeps is not None else []
    return SlackNotifier(store, client, config, clock=clock, sleep=recorded.append, monotonic=lambda: 0.0)


def test_card_posted_once_with_thread_and_mapping(store, config, client, fake, clock):
    (item_id,) = ingest(store, config, clock, make_post("1", "Where is my refund <!channel> & co?"))
    report = flush_outbox(store, notifier(store, client, config, clock), clock=clock)
    assert report.sent == 2  # the card, then its context thread
    posts = fake.calls_to("chat.postMessage")
    card = posts[0].params
    assert card["channel"] == "CCARE"
    assert card["metadata"]["event_payload"]["outbox_id"] == 1
    text = blocks_text(card)
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text
    assert "@carla" in text and "1,234 followers" in text and "Claim" in text
    saved = store.slack.slack_message(card_key(item_id))
    assert saved["ts"] == fake.channel_messages("CCARE")[0]["ts"]
    thread = posts[1].params
    assert thread["thread_ts"] == saved["ts"] and "first contact" in blocks_text(thread)
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 0
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_rate_limit_429_is_retried_after_retry_after(store, config, client, fake, clock):
    ingest(store, config, clock, make_post("1"))
    fake.fail("chat.postMessage", 429, retry_after=7)
    report = flush_outbox(store, notifier(store, client, config, clock), clock=clock)
    assert report.retrying == 1 and report.sent == 0
    clock.advance(seconds=6)
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 0  # not due yet
    clock.advance(seconds=2)
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 2
    assert len([m for m in fake.channel_messages("CCARE") if "thread_ts" not in m]) == 1
    assert len(fake.calls_to("chat.postMessage")) == 3  # the refused one, the card, its thread


def test_500_after_slack_stored_the_message_does_not_post_twice(store, config, client, fake, clock):
    (item_id,) = ingest(store, config, clock, make_post("1"))
    fake.fail("chat.postMessage", 500, after_effect=True)
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).retrying == 1
    assert len(fake.channel_messages("CCARE")) == 1  # Slack has it; we do not know
    clock.advance(minutes=1)
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 2
    assert len([m for m in fake.channel_messages("CCARE") if "thread_ts" not in m]) == 1
    assert fake.calls_to("conversations.history")
    assert store.slack.slack_message(card_key(item_id))["ts"] == fake.channel_messages("CCARE")[0]["ts"]


def test_crash_between_post_and_mark_sent_is_found_by_metadata(store, config, client, fake, clock):
    ingest(store, config, clock, make_post("1"))
    slack = notifier(store, client, config, clock)
    row = store.outbox.due_outbox(now=clock())[0]
    ts = slack.deliver(row)  # posted, then the process "dies" before mark_outbox_sent
    with store.transaction():  # ... and before the card's address and follow-ups were committed
        store.db.execute("DELETE FROM slack_messages")
        store.db.execute("DELETE FROM outbox WHERE kind != 'card'")
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 0  # still taken
    clock.advance(seconds=121)  # the dead process's lease runs out
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 2
    assert [m["ts"] for m in fake.channel_messages("CCARE") if "thread_ts" not in m] == [ts]


def test_plain_500_is_retried_and_nothing_lost(store, config, client, fake, clock):
    ingest(store, config, clock, make_post("1"))
    fake.fail("chat.postMessage", 500, body="<html>oops</html>")
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).retrying == 1
    assert fake.channel_messages("CCARE") == []
    clock.advance(minutes=1)
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 2


def test_posts_are_paced_per_channel(store, config, client, fake, clock):
    ingest(store, config, clock, make_post("1"), make_post("2", handle="dan"))
    sleeps: list[float] = []
    flush_outbox(store, notifier(store, client, config, clock, sleeps), clock=clock)
    # four posts in one channel with a frozen monotonic clock: each waits a full second
    assert len(fake.calls_to("chat.postMessage")) == 4 and sleeps == [1.0, 1.0, 1.0]


def test_urgent_goes_to_escalation_channel_mentioning_group(store, config, client, fake, clock):
    ingest(store, config, clock, make_post("1", "I will call my lawyer", priority="urgent"))
    flush_outbox(store, notifier(store, client, config, clock), clock=clock)
    (escalation,) = fake.channel_messages("CESC")
    text = blocks_text(escalation)
    assert "<!subteam^SESC>" in text and "https://fake.slack.test/archives/CCARE/p" in text


def test_hourly_cap_folds_the_rest_into_one_overflow_summary(tmp_path, fake, client, clock):
    config = make_config(tmp_path, fake.base_url, hourly_cap=2)
    with Store(config.storage.path) as store:
        ingest(store, config, clock, *[make_post(str(n), f"post number {n}", handle=f"h{n}") for n in range(5)])
        ingest(store, config, clock, make_post("u", "fire!", priority="urgent", handle="hu"))
        flush_outbox(store, notifier(store, client, config, clock), clock=clock)
        top = [m for m in fake.channel_messages("CCARE") if "thread_ts" not in m]
        cards = [m for m in top if m["metadata"]["event_payload"]["kind"] == "card"]
        summaries = [m for m in top if m["metadata"]["event_payload"]["kind"] == "overflow"]
        assert len(cards) == 3  # two under the cap and the urgent one
        assert len(summaries) == 1
        assert "3 more item(s)" in blocks_text(summaries[0]) and summaries[0].get("edited") == 2


def test_unknown_channel_waits_for_a_fix_instead_of_failing(tmp_path, fake, client, clock):
    config = make_config(tmp_path, fake.base_url, channel="CMISSING")
    with Store(config.storage.path) as store:
        ingest(store, config, clock, make_post("1"))
        report = flush_outbox(store, notifier(store, client, config, clock), clock=clock)
        assert report.retrying == 1
        row = store.db.execute("SELECT status, last_error FROM outbox").fetchone()
        assert row[0] == "pending" and "invite the bot" in row[1]


def test_other_kinds_with_text_are_posted_as_written(store, config, client, fake, clock):
    store.outbox.enqueue_outbox(
        "digest", "digest:1", {"text": "Daily digest: 4 mentions"}, now=clock(), channel="CDIGEST"
    )
    assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 1
    assert fake.channel_messages("CDIGEST")[0]["text"] == "Daily digest: 4 mentions"


def test_hourly_cap_counts_cards_routed_by_channel_name(tmp_path, fake, client, clock):
    config = make_config(tmp_path, fake.base_url, hourly_cap=2)
    with Store(config.storage.path) as store:
        posts = [make_post(str(n), f"vip post {n}", handle=f"v{n}", channel="#care-vip") for n in range(3)]
        ingest(store, config, clock, *posts)
        flush_outbox(store, notifier(store, client, config, clock), clock=clock)
        top = [m for m in fake.channel_messages("CCAREVIP") if "thread_ts" not in m]
        kinds = [m["metadata"]["event_payload"]["kind"] for m in top]
        assert kinds == ["card", "card", "overflow"]


def test_thread_shows_the_stored_conversation_and_cross_platform_history(store, config, client, fake, clock):
    from watcher.queue.machine import Queue

    ingest(store, config, clock, make_post("p0", "Our new plan is live", handle="acme_fan"))
    (old_item,) = ingest(store, config, clock, make_post("r0", "Earlier complaint", platform="reddit", handle="Carla"))
    queue = Queue(store, clock=clock)
    queue.dismiss(old_item, "UANA", "handled_elsewhere")
    ingest(store, config, clock, make_post("1", "Is it live in Italy too?", conversation_id="p0"))
    flush_outbox(store, notifier(store, client, config, clock), clock=clock)
    thread = [m for m in fake.channel_messages("CCARE") if m.get("thread_ts")]
    text = blocks_text(thread[-1])
    assert "The conversation so far" in text and "Our new plan is live" in text
    assert "Earlier complaint" in text and "on reddit" in text and "dismissed (Handled elsewhere)" in text


def test_crash_retry_in_a_channel_given_by_name_finds_the_first_copy(tmp_path, fake, client, clock):
    fake.channels["vip-zone"] = "CVIPZONE"  # sorts onto the second page of conversations.list
    config = make_config(tmp_path, fake.base_url, channel="#vip-zone")
    with Store(config.storage.path) as store:
        ingest(store, config, clock, make_post("1"))
        fake.fail("chat.postMessage", 500, after_effect=True)
        assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).retrying == 1
        clock.advance(minutes=1)
        assert flush_outbox(store, notifier(store, client, config, clock), clock=clock).sent == 2
        assert len([m for m in fake.channel_messages("CVIPZONE") if "thread_ts" not in m]) == 1
        assert len(fake.calls_to("conversations.list")) == 2  # followed the cursor to the second page


def test_two_flushes_at_once_post_each_message_once(store, config, client, fake, clock):
    import threading

    from watcher.notify.outbox import flush_outbox as core_flush

    ingest(store, config, clock, *[make_post(str(n), f"post {n}", handle=f"h{n}") for n in range(4)])
    # two notifiers, as in two processes: no shared lock or memory, only the database
    notifiers = iter([notifier(store, client, config, clock), notifier(store, client, config, clock)] * 2)
    barrier = threading.Barrier(2)

    def flush() -> None:
        slack = next(notifiers)
        barrier.wait()
        for _ in range(4):
            core_flush(store, slack, clock=clock)

    threads = [threading.Thread(target=flush) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = [m["metadata"]["event_payload"]["kind"] for m in fake.channel_messages("CCARE")]
    assert kinds.count("card") == 4
    store.outbox.enqueue_outbox("digest", "digest:1", {"text": "Daily digest"}, now=clock(), channel="CCARE")
    barrier.reset()
    threads = [threading.Thread(target=flush) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = [m["metadata"]["event_payload"]["kind"] for m in fake.channel_messages("CCARE")]
    assert kinds.count("card") == 4 and kinds.count("thread") == 4 and kinds.count("digest") == 1
    assert store.outbox.outbox_counts() == {"sent": 9}
