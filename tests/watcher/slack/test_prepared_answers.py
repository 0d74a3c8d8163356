"""The draft modal preselects the prepared answer for the post's emotion (fake Slack)."""

from __future__ import annotations

from slack_sdk import WebClient

from tests.fakes.slack_api import FakeSlack
from tests.watcher.slack.conftest import ANA, Clock, RecordingConnector, ingest, make_post, make_runtime
from tests.watcher.slack.harness import Harness
from watcher.config import Config
from watcher.slack.jobs import run_slack_jobs
from watcher.store import Store


def draft_select_and_text(fake: FakeSlack) -> tuple[dict, str]:
    view = fake.calls_to("views.open")[-1].params["view"]
    [select] = next(b for b in view["blocks"] if b.get("block_id") == "templates")["elements"]
    reply = next(b for b in view["blocks"] if str(b.get("block_id", "")).startswith("reply:"))
    return select, reply["element"].get("initial_value", "")


def test_a_threat_to_leave_preselects_the_prepared_answer_with_name_and_case(
    fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    harness = Harness(make_runtime(store, config, client, clock, RecordingConnector()))
    (item_id,) = ingest(store, config, clock, make_post("1", "I'm closing my account", intents=["churn"]))
    run_slack_jobs(harness.runtime)
    harness.click("draft", item_id, ANA)
    select, text = draft_select_and_text(fake)
    assert select["initial_option"]["text"]["text"].startswith("Threat to leave, default (en)")
    assert select["initial_option"] == select["options"][0]
    assert text.startswith("Hi Carla, I'm sorry we let you down") and f"(case #{item_id})" in text
    # the config's templates are still offered after it
    assert any("question" in o["text"]["text"] or "default" in o["text"]["text"] for o in select["options"][1:])


def test_a_plain_question_keeps_the_configured_template_and_no_preselection(
    fake: FakeSlack, config: Config, store: Store, client: WebClient, clock: Clock
) -> None:
    harness = Harness(make_runtime(store, config, client, clock, RecordingConnector()))
    (item_id,) = ingest(store, config, clock, make_post("2"))
    run_slack_jobs(harness.runtime)
    harness.click("draft", item_id, ANA)
    select, text = draft_select_and_text(fake)
    assert "initial_option" not in select
    assert not select["options"][0]["text"]["text"].startswith(("Anger", "Disappointment", "Threat"))
