"""Incidents end to end against the fake Slack: a burst becomes one suggested card,
opening it makes later posts join silently (a post urgent for another reason keeps its
card), a statement is approved by a second person (past a promise only with a reason),
and "answer everyone" answers each post once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient

from tests.fakes.slack_api import FakeSlack
from tests.watcher.slack.conftest import (
    ANA,
    LUCA,
    Clock,
    RecordingConnector,
    blocks_text,
    ingest,
    make_post,
    make_runtime,
)
from tests.watcher.slack.harness import Harness, block_action, view_submission
from watcher.config import Config
from watcher.core.incident import IncidentsConfig, IncidentState, StatementKind
from watcher.core.post import Post
from watcher.slack.incident_actions import incidents_of
from watcher.slack.incident_outbox import incident_card_key
from watcher.slack.jobs import run_slack_jobs
from watcher.slack.outbox import card_key, flush_slack
from watcher.store import Store


def outage(n: int, clock: Clock, *, lang: str = "en", platform: str = "x", **extra: Any) -> Post:
    post = make_post(
        f"o{n}",
        f"the app is down again {n}",
        handle=f"user{n}",
        platform=platform,
        created_at=clock.now - timedelta(minutes=30 - n),
        intents=extra.pop("intents", ["outage"]),
        priority=extra.pop("priority", "high"),
        **extra,
    )
    return replace(post, lang=lang)


def setup(
    config: Config, store: Store, client: WebClient, clock: Clock, late_joiners: str = "approve"
) -> tuple[Any, Harness, RecordingConnector]:
    config = replace(config, incidents=IncidentsConfig(min_posts=5, window_minutes=30, late_joiners=late_joiners))
    connector = RecordingConnector()
    runtime = make_runtime(store, config, client, clock, connector)
    return runtime, Harness(runtime), connector


def incident_cards(fake: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in fake.channel_messages("CCARE") if "incident" in blocks_text(m)]


def click(harness: Harness, action_id: str, incident_id: int, user: str) -> None:
    card = harness.runtime.store.slack.slack_message(incident_card_key(incident_id))
    harness.dispatch(block_action(action_id, user, value=str(incident_id), message_ts=card["ts"] if card else "1.0"))


def write_statement(harness: Harness, incident_id: int, user: str, texts: dict[str, str]) -> None:
    values = {f"lang:{lang}": {"text": {"type": "plain_text_input", "value": t}} for lang, t in texts.items()}
    harness.dispatch(
        view_submission("incident_statement_submit", user, metadata={"incident_id": incident_id}, values=values)
    )


def test_a_burst_becomes_one_suggested_card_and_joining_posts_get_none(
    fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    runtime, harness, _ = setup(config, store, client, clock)
    pipeline_config = runtime.config
    burst = [outage(n, clock, lang="it" if n % 2 else "en", platform="reddit" if n == 3 else "x") for n in range(5)]
    ingest(store, pipeline_config, clock, *burst[:4])
    assert store.incidents.active(("suggested",)) == []
    ingest(store, pipeline_config, clock, *burst)  # a re-fetch of the first four, and the fifth
    ingest(store, pipeline_config, clock, *burst)  # and again: nothing twice
    flush_slack(store, runtime.notifier, clock=clock)
    [incident] = store.incidents.active(("suggested",))
    [card] = incident_cards(fake)
    text = blocks_text(card)
    assert "Incident suggested" in card["text"] and "5 posts" in text
    assert "it 2" in text and "en 3" in text and "reddit 1" in text and "x 4" in text
    assert text.count("the app is down again") == 3  # three examples
    assert "incident_open" in text and "incident_ignore" in text

    click(harness, "incident_open", incident.id, ANA)
    assert store.incidents.get(incident.id).state == IncidentState.INVESTIGATING
    cards_before = len(fake.channel_messages("CCARE"))
    assert cards_before >= 6  # the burst's five cards came before detection, and the incident's

    later = [outage(n, clock) for n in range(5, 8)]
    vip = outage(8, clock, intents=["outage", "safety"], priority="urgent")
    ingest(store, pipeline_config, clock, *later, vip)
    flush_slack(store, runtime.notifier, clock=clock)
    # the three joiners made no card; the safety post kept its own and names the incident in its thread
    new = [m for m in fake.channel_messages("CCARE")[cards_before:] if not m.get("thread_ts")]
    assert len(new) == 1 and "@user8" in new[0]["text"]
    assert len(store.incidents.posts(incident.id)) == 9
    updated = fake.find("CCARE", card["ts"])
    assert updated is not None and "9 posts" in blocks_text(updated)
    thread = [m for m in fake.all_messages() if m.get("thread_ts") == new[0]["ts"]]
    assert any(f"incident #{incident.id}" in m.get("text", "") for m in thread)


def test_statement_four_eyes_promise_reason_and_answer_everyone_once(
    fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    runtime, harness, connector = setup(config, store, client, clock)
    posts = [outage(n, clock, lang="it" if n % 2 else "en") for n in range(6)]
    ingest(store, runtime.config, clock, *posts)
    flush_slack(store, runtime.notifier, clock=clock)
    [incident] = store.incidents.active(("suggested",))
    click(harness, "incident_open", incident.id, ANA)

    write_statement(
        harness,
        incident.id,
        ANA,
        {"en": "Hi {handle}, we will refund you by tomorrow.", "it": "Ciao {handle}, ci lavoriamo."},
    )
    click(harness, "incident_approve", incident.id, ANA)  # the writer cannot approve
    assert all(s.approved_by is None for s in store.incidents.statements(incident.id, StatementKind.FIRST).values())
    assert any("four eyes" in c.params.get("text", "") for c in fake.calls_to("chat.postEphemeral"))

    click(harness, "incident_approve", incident.id, LUCA)  # past a promise: the modal asks why
    [opened] = fake.calls_to("views.open")
    assert "by tomorrow" in json.dumps(opened.params) and "refund" in json.dumps(opened.params)
    metadata = {"incident_id": incident.id}
    reply = harness.dispatch(
        view_submission(
            "incident_approve_submit", LUCA, metadata=metadata, values={"reason": {"reason": {"value": ""}}}
        )
    )
    assert "reason" in reply.body
    harness.dispatch(
        view_submission(
            "incident_approve_submit",
            LUCA,
            metadata=metadata,
            values={"reason": {"reason": {"value": "billing agreed"}}},
        )
    )
    approved = [e for e in store.incidents.events(incident.id) if e.action == "first_statement_approved"]
    assert approved and approved[0].detail["reason"] == "billing agreed" and approved[0].actor == LUCA

    click(harness, "incident_answer", incident.id, LUCA)
    click(harness, "incident_answer", incident.id, LUCA)  # a second click answers no one twice
    assert sorted(key for key, _ in connector.replies) == sorted(p.key for p in posts)
    by_key = dict(connector.replies)
    assert by_key[posts[0].key] == "Hi @user0, we will refund you by tomorrow."
    assert by_key[posts[1].key] == "Ciao @user1, ci lavoriamo."
    flush_slack(store, runtime.notifier, clock=clock)
    card = store.slack.slack_message(incident_card_key(incident.id))
    assert "Answered 6 of 6" in blocks_text(fake.find("CCARE", card["ts"]) or {})


def test_resolve_with_a_closing_statement_follows_up_each_answered_post_once(
    fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    runtime, harness, connector = setup(config, store, client, clock)
    posts = [outage(n, clock) for n in range(5)]
    ingest(store, runtime.config, clock, *posts)
    flush_slack(store, runtime.notifier, clock=clock)
    [incident] = store.incidents.active(("suggested",))
    click(harness, "incident_open", incident.id, ANA)
    write_statement(harness, incident.id, ANA, {"en": "Hi {handle}, we are on it."})
    click(harness, "incident_approve", incident.id, LUCA)
    click(harness, "incident_answer", incident.id, LUCA)
    click(harness, "incident_resolve", incident.id, ANA)

    card = store.slack.slack_message(incident_card_key(incident.id))
    harness.dispatch(block_action("incident_statement", ANA, value=f"{incident.id}:closing", message_ts=card["ts"]))
    opened = fake.calls_to("views.open")[-1].params["view"]
    opened = json.loads(opened) if isinstance(opened, str) else opened
    assert opened["title"]["text"] == "Closing statement" and "kind" in opened["private_metadata"]
    values = {"lang:en": {"text": {"type": "plain_text_input", "value": "Hi {handle}, the app works again."}}}
    metadata = {"incident_id": incident.id, "kind": "closing"}
    harness.dispatch(view_submission("incident_statement_submit", ANA, metadata=metadata, values=values))
    closing = store.incidents.statements(incident.id, StatementKind.CLOSING)
    assert closing["en"].text == "Hi {handle}, the app works again."
    assert store.incidents.statements(incident.id, StatementKind.FIRST)["en"].text == "Hi {handle}, we are on it."

    def closing_click(action_id: str) -> None:
        harness.dispatch(block_action(action_id, LUCA, value=f"{incident.id}:closing", message_ts=card["ts"]))

    closing_click("incident_follow_up")  # not approved yet: nothing goes out
    assert not any("works again" in text for _, text in connector.replies)
    closing_click("incident_approve")
    closing_click("incident_follow_up")
    closing_click("incident_follow_up")  # a second click follows up no one twice
    followed = sorted(key for key, text in connector.replies if "works again" in text)
    assert followed == sorted(p.key for p in posts)
    flush_slack(store, runtime.notifier, clock=clock)
    assert "Follow-ups sent: 5" in blocks_text(fake.find("CCARE", card["ts"]) or {})


def card_of(fake: FakeSlack, store: Store, item_id: int) -> dict[str, Any]:
    ref = store.slack.slack_message(card_key(item_id))
    assert ref is not None
    message = fake.find("CCARE", ref["ts"])
    assert message is not None
    return message


def test_a_card_is_added_to_an_open_incident_and_taken_out_from_its_menu(
    fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    runtime, harness, _ = setup(config, store, client, clock)
    incident_id = open_incident(runtime, clock)
    billing = make_post("b1", "I was charged twice", handle="payer", created_at=clock.now, intents=["billing"])
    [item_id] = ingest(store, runtime.config, clock, billing)
    flush_slack(store, runtime.notifier, clock=clock)
    assert "Add to incident" in blocks_text(card_of(fake, store, item_id))

    harness.dispatch(block_action("incident_add", ANA, selected=f"{item_id}:{incident_id}"))
    assert store.incidents.incident_of(billing.key) == incident_id
    added = store.incidents.events(incident_id)[-1]
    assert (added.action, added.actor, added.detail["post_key"]) == ("post_added", ANA, billing.key)
    assert f"Take out of incident #{incident_id}" in blocks_text(card_of(fake, store, item_id))

    harness.dispatch(block_action("incident_remove", LUCA, value=f"{item_id}:{incident_id}"))
    assert store.incidents.incident_of(billing.key) is None
    removed = store.incidents.events(incident_id)[-1]
    assert (removed.action, removed.actor) == ("post_removed", LUCA)
    assert "Add to incident" in blocks_text(card_of(fake, store, item_id))


def test_a_card_cannot_join_an_incident_that_is_no_longer_open(
    fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    runtime, harness, _ = setup(config, store, client, clock)
    incident_id = open_incident(runtime, clock)
    parcel = make_post("b2", "late parcel", created_at=clock.now)
    [item_id] = ingest(store, runtime.config, clock, parcel)
    incidents_of(runtime).move(incident_id, IncidentState.RESOLVED, ANA)  # after the card's menu was drawn
    harness.dispatch(block_action("incident_add", ANA, selected=f"{item_id}:{incident_id}"))
    assert store.incidents.incident_of(parcel.key) is None
    assert any("only an open incident" in c.params.get("text", "") for c in fake.calls_to("chat.postEphemeral"))


def open_incident(runtime: Any, clock: Clock) -> int:
    incident_id = runtime.store.incidents.create(
        title="The app is down",
        intent="outage",
        state=IncidentState.SUGGESTED,
        actor="watcher",
        now=clock.now,
        detail={},
    )
    incidents_of(runtime).move(incident_id, IncidentState.INVESTIGATING, ANA)
    return int(incident_id)


def answered_incident(harness: Harness, runtime: Any, clock: Clock, posts: list[Post]) -> int:
    """An open incident whose statement (en) was approved and sent to `posts`."""
    ingest(runtime.store, runtime.config, clock, *posts)
    flush_slack(runtime.store, runtime.notifier, clock=clock)
    [incident] = runtime.store.incidents.active(("suggested",))
    click(harness, "incident_open", incident.id, ANA)
    write_statement(harness, incident.id, ANA, {"en": "Hi {handle}, we are on it."})
    click(harness, "incident_approve", incident.id, LUCA)
    click(harness, "incident_answer", incident.id, LUCA)
    return int(incident.id)


@pytest.mark.parametrize("mode", ["send", "approve"])
def test_posts_joining_after_the_statement_get_it_on_the_tick_once_or_wait_for_a_click(
    mode: str, fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    runtime, harness, connector = setup(config, store, client, clock, late_joiners=mode)
    first = [outage(n, clock) for n in range(5)]
    incident_id = answered_incident(harness, runtime, clock, first)
    assert len(connector.replies) == 5
    clock.advance(minutes=5)
    later = [outage(n, clock) for n in range(5, 8)]
    ingest(store, runtime.config, clock, *later)
    assert all(store.incidents.incident_of(p.key) == incident_id for p in later)

    run_slack_jobs(runtime)
    run_slack_jobs(runtime)  # a second tick sends no one the statement twice
    replied = [key for key, _ in connector.replies]
    if mode == "approve":
        assert sorted(replied) == sorted(p.key for p in first)
        click(harness, "incident_answer", incident_id, LUCA)  # the click answers them
        replied = [key for key, _ in connector.replies]
    assert sorted(replied) == sorted(p.key for p in first + later)
    assert dict(connector.replies)[later[0].key] == "Hi @user5, we are on it."
    answered = [e for e in store.incidents.events(incident_id) if e.action == "answered"]
    assert len(answered) == 8
    card = store.slack.slack_message(incident_card_key(incident_id))
    assert "Answered 8 of 8" in blocks_text(fake.find("CCARE", card["ts"]) or {})


def test_late_joiners_wait_while_the_statement_is_being_rewritten(
    fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    runtime, harness, connector = setup(config, store, client, clock, late_joiners="send")
    incident_id = answered_incident(harness, runtime, clock, [outage(n, clock) for n in range(5)])
    write_statement(harness, incident_id, ANA, {"en": "Hi {handle}, a fix is rolling out."})  # not approved yet
    clock.advance(minutes=5)
    ingest(store, runtime.config, clock, outage(6, clock))
    run_slack_jobs(runtime)
    assert len(connector.replies) == 5
    click(harness, "incident_approve", incident_id, LUCA)
    run_slack_jobs(runtime)
    assert connector.replies[-1] == (outage(6, clock).key, "Hi @user6, a fix is rolling out.")
