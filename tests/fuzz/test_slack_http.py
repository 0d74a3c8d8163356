"""Fuzz the Slack HTTP endpoint as a stranger would: random headers, bodies and payloads.
Nothing may get a 5xx or a dropped connection, nothing changes the queue without a
valid signature from a moderator, and each request is answered within hypothesis's
deadline (no wall-clock assertion)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient

from tests.fakes.slack_api import BOT_TOKEN, running_fake_slack
from tests.watcher.slack.conftest import (
    ANA,
    EVE,
    Clock,
    RecordingConnector,
    ingest,
    make_config,
    make_post,
    make_runtime,
)
from tests.watcher.slack.harness import SECRET, Harness, block_action, view_submission
from watcher.slack.http import serve_http
from watcher.store import Store

ACTIONS = ["claim", "unclaim", "dismiss", "escalate", "snooze", "send", "approve", "draft", "pick_template", "reject"]


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Store, int]]:
    """(port, store, id of a queued item) of a running endpoint, shared by every example."""
    tmp: Path = tmp_path_factory.mktemp("door")
    with running_fake_slack(usergroups={}) as fake:
        config = make_config(tmp, fake.base_url)
        with Store(config.storage.path) as store:
            clock = Clock()
            client = WebClient(token=BOT_TOKEN, base_url=fake.base_url, retry_handlers=[])
            harness = Harness(make_runtime(store, config, client, clock, RecordingConnector()))
            (item_id,) = ingest(store, config, clock, make_post("1"))
            server = serve_http(harness.app, host="127.0.0.1", port=0, path="/slack/events", signing_secret=SECRET)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            try:
                yield server.server_address[1], store, item_id
            finally:
                server.shutdown()
                server.server_close()


def snapshot(store: Store, item_id: int) -> tuple[Any, ...]:
    item = store.items.get_item(item_id)
    assert item is not None
    return (item.state, item.assignee, item.draft_text, len(store.items.events_for_item(item_id)))


def post(port: int, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("POST", "/slack/events", skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(body)
        assert conn.sock is not None
        with contextlib.suppress(OSError):  # the server may have answered and closed already
            conn.sock.shutdown(socket.SHUT_WR)  # a body shorter than announced ends here, not in a wait
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def sign(body: bytes, timestamp: str) -> str:
    return "v0=" + hmac.new(SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
item_values = st.one_of(st.integers().map(str), st.text(max_size=25), st.just("1"), st.just(str(10**23)))


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """Slack-shaped payloads with odd values, or anything JSON at all."""
    user = draw(st.sampled_from([ANA, EVE, ""]))
    kind = draw(st.sampled_from(["action", "view", "anything"]))
    if kind == "action":
        payload = block_action(draw(st.sampled_from(ACTIONS)), user, value=draw(item_values))
        if draw(st.booleans()):
            payload["view"] = {"id": "V1", "private_metadata": draw(st.text(max_size=30) | item_values)}
        return payload
    if kind == "view":
        callback = draw(st.sampled_from(["draft_submit", "reject_submit", "no_such_view"]))
        values = draw(
            st.dictionaries(
                st.text(max_size=8),
                st.dictionaries(st.text(max_size=8), st.dictionaries(st.just("value"), json_values)),
                max_size=2,
            )
        )
        payload = view_submission(callback, user, metadata={}, values=values)
        payload["view"]["private_metadata"] = draw(
            st.text(max_size=30) | item_values.map(lambda v: json.dumps({"item_id": v}))
        )
        return payload
    return {str(k): v for k, v in draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4)).items()}


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str], bool]:
    """(body, headers, whether the request carries a valid signature)."""
    shape = draw(st.sampled_from(["form", "json", "bytes"]))
    if shape == "bytes":
        body = draw(st.binary(max_size=300))
    else:
        payload = draw(payloads())
        body = (urlencode({"payload": json.dumps(payload)}) if shape == "form" else json.dumps(payload)).encode()
    content_type = "application/json" if shape == "json" else "application/x-www-form-urlencoded"
    now = str(int(time.time()))
    timestamp = draw(st.sampled_from([now, "", "abc", "-1", "1" * 30, str(int(time.time()) - 400)]))
    signed = draw(st.booleans())
    signature = sign(body, timestamp) if signed else draw(st.text(max_size=70))
    headers = {
        "Content-Type": draw(st.sampled_from([content_type, "text/plain", "application/json; charset=x"])),
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Length": draw(st.sampled_from([str(len(body))] * 4 + ["abc", "", str(len(body) + 5), "-3"])),
    }
    headers = {
        k: v.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")
        for k, v in headers.items()
    }
    valid = signed and timestamp == now and headers["Content-Length"] == str(len(body))
    return body, headers, valid


@settings(
    max_examples=250, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(request=requests())
def test_no_5xx_and_no_change_without_a_moderators_valid_signature(door, request) -> None:
    port, store, item_id = door
    body, headers, valid = request
    before = snapshot(store, item_id)
    status = post(port, body, headers)
    assert status < 500
    if not valid or ANA.encode() not in body:
        assert snapshot(store, item_id) == before
