"""Signed but odd payloads (a forged click from a moderator's stolen session, an old
card, a hand-made request): each gets an answer the user sees, never a 5xx or a
traceback, and changes nothing."""

from __future__ import annotations

import json
import logging

import pytest

from watcher.slack.jobs import run_slack_jobs

from .conftest import ANA, RecordingConnector, ingest, make_config, make_post, make_runtime
from .harness import Harness, block_action, template_pick, view_submission


@pytest.fixture
def harness(store, config, client, clock) -> Harness:
    return Harness(make_runtime(store, config, client, clock, RecordingConnector()))


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("value", [str(10**23), "-1", "0", "1e3", "9" * 5000, "١٢"])
def test_a_button_with_an_impossible_item_id_is_told(harness, fake, caplog, value):
    response = harness.dispatch(block_action("claim", ANA, value=value))
    assert response.status == 200 and no_tracebacks(caplog)
    assert fake.calls_to("chat.postEphemeral")  # told, not silently dropped


DRAFT_VALUES = {"reply:0": {"text": {"value": "Hello"}}, "note": {"note": {"value": ""}}}
BAD_METADATA = ["", "not json", "[1]", '{"item_id": "x"}', '{"item_id": 1e23}', '{"item_id": null}', "{}"]


@pytest.mark.parametrize("callback", ["draft_submit", "reject_submit"])
@pytest.mark.parametrize("metadata", BAD_METADATA)
def test_a_modal_with_bad_private_metadata_is_answered_inline(harness, caplog, callback, metadata):
    payload = view_submission(callback, ANA, metadata={}, values=DRAFT_VALUES)
    payload["view"]["private_metadata"] = metadata
    response = harness.dispatch(payload)
    assert response.status == 200 and no_tracebacks(caplog)
    assert json.loads(response.body)["response_action"] == "errors"


def test_a_template_pick_with_bad_metadata_or_option_is_told(harness, store, config, clock, fake, caplog):
    caplog.set_level(logging.INFO)
    (item_id,) = ingest(store, config, clock, make_post("1"))
    view = {"id": "V1", "hash": "h", "private_metadata": json.dumps({"item_id": item_id, "revision": "x"})}
    for option in ("99", "-1", "x"):
        assert harness.dispatch(template_pick(ANA, view, option)).status == 200
    view["private_metadata"] = "not json"
    assert harness.dispatch(template_pick(ANA, view, "0")).status == 200
    assert no_tracebacks(caplog) and fake.calls_to("views.update") == []
    assert len(fake.calls_to("chat.postMessage")) == 4  # each told to the user


def test_a_template_pick_without_templates_is_told(tmp_path, fake, client, clock, caplog):
    from watcher.store import Store

    config = make_config(tmp_path, fake.base_url, templates={})
    with Store(config.storage.path) as store:
        harness = Harness(make_runtime(store, config, client, clock, RecordingConnector()))
        (item_id,) = ingest(store, config, clock, make_post("1"))
        run_slack_jobs(harness.runtime)
        view = {"id": "V1", "hash": "h", "private_metadata": json.dumps({"item_id": item_id})}
        assert harness.dispatch(template_pick(ANA, view, "0")).status == 200
    assert no_tracebacks(caplog) and fake.calls_to("views.update") == []
