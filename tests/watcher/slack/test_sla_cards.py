"""Pure parts: business-hours SLA clock, snooze times, escaping and truncation,
templates, status lines, and the config keys' validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from watcher.config import SlackConfig, parse_config
from watcher.core.config import ConfigError
from watcher.core.item import QueueItem
from watcher.core.vocab import Priority, QueueState
from watcher.slack.cards import escape, fit, link, mention, quote
from watcher.slack.modals import length_error, render_template, templates_for
from watcher.slack.sla import BusinessHours, sla_due, sla_state, snooze_until

from .conftest import make_post

HOURS = BusinessHours.from_config(SlackConfig(), "Europe/Rome")  # Mon-Fri 09:00-18:00


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "priority", "due"),
    [
        ("2026-11-16T09:00", "high", "2026-11-16T10:00"),  # Monday 10:00 Rome + 1 h
        ("2026-11-20T16:30", "high", "2026-11-23T08:30"),  # Friday 17:30 Rome -> Monday 09:30 Rome
        ("2026-11-21T12:00", "normal", "2026-11-23T12:00"),  # Saturday -> Monday 09:00 + 4 h
        ("2026-11-16T05:00", "high", "2026-11-16T09:00"),  # before opening: clock starts at 09:00 Rome
        ("2026-11-21T12:00", "urgent", "2026-11-21T12:15"),  # urgent runs around the clock
    ],
)
def test_sla_due_counts_business_minutes(start, priority, due):
    assert sla_due(utc(start), priority, slack=SlackConfig(), hours=HOURS) == utc(due)


def test_sla_state_running_breached_met():
    item = QueueItem(1, "x:1", QueueState.NEW, Priority.HIGH, 70, "", utc("2026-11-16T09:00"), 1)
    assert (
        sla_state(item, slack=SlackConfig(), hours=HOURS, now=utc("2026-11-16T09:20")).describe()
        == "claim within 40 min"
    )
    late = sla_state(item, slack=SlackConfig(), hours=HOURS, now=utc("2026-11-16T11:30"))
    assert late.status == "breached" and late.describe() == "SLA missed by 1 h 30 min"
    assert (
        sla_state(
            replace(item, state=QueueState.CLAIMED), slack=SlackConfig(), hours=HOURS, now=utc("2026-11-17T00:00")
        ).status
        == "met"
    )


@pytest.mark.parametrize(
    ("choice", "now", "until"),
    [
        ("1h", "2026-11-16T09:00", "2026-11-16T10:00"),
        ("4h", "2026-11-16T09:00", "2026-11-16T13:00"),
        ("tomorrow", "2026-11-16T20:00", "2026-11-17T08:00"),  # Tuesday 09:00 Rome
        ("tomorrow", "2026-11-20T15:00", "2026-11-23T08:00"),  # Friday -> Monday 09:00 Rome
    ],
)
def test_snooze_choices(choice, now, until):
    assert snooze_until(choice, now=utc(now), hours=HOURS) == utc(until)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("<!channel> hi", 100, "&lt;!channel&gt; hi"),
        ("a & b & c & d", 10, "a &amp; b…"),
        ("x" * 20, 10, "x" * 9 + "…"),
        ("<<<<<", 9, "&lt;&lt;…"),
    ],
)
def test_fit_escapes_then_cuts_without_breaking_entities(text, limit, expected):
    result = fit(text, limit)
    assert result == expected and len(result) <= limit


def test_quote_keeps_every_line_quoted_and_within_limit():
    text = "line one\n<@U123> two\n" + "z" * 5000
    result = quote(text, 3000)
    assert len(result) <= 3000 and all(line.startswith("> ") for line in result.split("\n"))
    assert "&lt;@U123&gt;" in result and escape("<@U1>") == "&lt;@U1&gt;"


def test_templates_by_intent_and_language_with_placeholders():
    templates = {"question": {"en": ["Hi {handle}"], "it": ["Ciao {name}"]}, "default": {"any": ["{brand} here"]}}
    found = templates_for(templates, intents=["question"], lang="it")
    assert [t.text for t in found] == ["Ciao {name}", "{brand} here"]
    post = make_post("1", handle="carla")
    assert (
        render_template("Ciao {name}, {brand} - {agent}", post=post, brand="Acme", agent="ana")
        == "Ciao Carla, Acme - ana"
    )


def test_length_errors_name_platform_and_excess():
    assert length_error("x" * 290, 280, "x") == "290 characters: x allows 280. Cut 10."
    assert length_error("   ", 280, "x") == "The reply is empty; write the public reply."
    assert length_error("fine", 280, "x") is None
    weighted = length_error("see https://example.com/" + "a" * 300, 280, "x", measure=lambda t: 23 + 4)
    assert weighted is None  # the connector's count wins: a link is 23 on X


@pytest.mark.parametrize(
    ("actor", "shown"),
    [
        ("UANA", "<@UANA>"),
        ("W123", "<@W123>"),
        ("watcher", "watcher"),
        ("Ulrich", "Ulrich"),
        ("<!here>", "&lt;!here&gt;"),
    ],
)
def test_mentions_only_for_member_ids(actor, shown):
    assert mention(actor) == shown


def test_links_cannot_break_out_of_their_brackets():
    assert link("https://a.test/?q=1&b=<x>|y", "a <b>") == "<https://a.test/?q=1&amp;b=%3Cx%3E%7Cy|a &lt;b&gt;>"


@pytest.mark.parametrize(
    ("slack", "key", "reason"),
    [
        ({"moderators": ["@ana"]}, "slack.moderators", "not a member or user-group id"),
        ({"channel": "care"}, "slack.channel", "nor a name like #care"),
        ({"channel": ""}, "slack.channel", "missing: the channel"),
        ({"escalation_group": "care-leads"}, "slack.escalation_group", "not a user-group id"),
        ({"sla_minutes": {"critical": 5}}, "slack.sla_minutes.critical", "not a priority"),
        ({"sla_minutes": {"high": 0}}, "slack.sla_minutes.high", "at least 1 minute"),
        ({"business_hours": "18:00-09:00"}, "slack.business_hours", "start before end"),
        ({"business_days": ["monday"]}, "slack.business_days", "'monday' is not a day"),
        ({"approval_required": ["hi"]}, "slack.approval_required", "'hi' is not a priority"),
        (
            {"templates": {"question": {"en": ["Hi {user}"]}}},
            "slack.templates.question.en",
            "unknown placeholder {user}",
        ),
        ({"templates": {"question": {"en": ["Hi {"]}}}, "slack.templates.question.en", "literal brace"),
        ({"api_base_url": "https://slack.com/api"}, "slack.api_base_url", 'ending in "/"'),
        ({"hourly_cap": 0}, "slack.hourly_cap", "at least 1"),
        ({"bot_token": "xoxb-1"}, "slack.bot_token", "secrets must not be written"),
    ],
)
def test_slack_config_problems_name_key_and_reason(slack, key, reason):
    table = {"enabled": True, "channel": "CCARE", "moderators": ["UANA"], **slack}
    with pytest.raises(ConfigError) as caught:
        parse_config({"brand": {"name": "Acme"}, "slack": table}, file="care.toml")
    assert any(p.file == "care.toml" and p.key == key and reason in p.reason for p in caught.value.problems), (
        caught.value
    )


def test_slack_config_defaults_are_valid_and_templates_become_tuples():
    config = parse_config(
        {
            "brand": {"name": "Acme"},
            "slack": {"templates": {"question": {"en": "Hi {handle}"}}, "sla_minutes": {"high": 30}},
        }
    )
    assert config.slack.templates == {"question": {"en": ("Hi {handle}",)}}
    assert config.slack.sla_minutes == {"high": 30} and config.slack.approval_required == ("urgent", "high")


def test_the_sla_sweep_reaches_every_unclaimed_item_not_the_first_thousand(tmp_path):
    from watcher.slack.jobs import sla_sweep
    from watcher.store import NewItem, NewPost, Store

    config = parse_config({"brand": {"name": "Acme", "timezone": "Europe/Rome"}}, file=str(tmp_path / "c.toml"))
    with Store(tmp_path / "w.db") as store:
        created = utc("2026-11-16T09:00")
        posts = [make_post(str(n), created_at=created) for n in range(1001)]
        store.posts.insert_posts([NewPost(p, None) for p in posts], fetched_at=created)
        store.items.create_queue_items([NewItem(p.key, "urgent", 90) for p in posts], now=created)
        report = sla_sweep(store, config, now=created + timedelta(hours=2))
        assert len(report.reminded) == 1001
