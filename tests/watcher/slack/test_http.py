"""HTTP mode: Slack's signed POSTs to the endpoint; forged, stale and replayed
requests are refused before any listener runs."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from watcher.slack.http import serve_http

from .conftest import ANA, make_runtime
from .harness import Harness, block_action, form, signed_headers


@pytest.fixture
def endpoint(store, config, client, clock) -> Iterator[tuple[str, Harness]]:
    from .conftest import RecordingConnector

    harness = Harness(make_runtime(store, config, client, clock, RecordingConnector()))
    server = serve_http(harness.app, host="127.0.0.1", port=0, path="/slack/events")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slack/events", harness
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def post(url: str, body: str, headers: dict[str, list[str]]) -> int:
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    for name, values in headers.items():
        request.add_header(name, values[0])
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def claim_body(item_id: int = 999) -> str:
    return form(block_action("claim", ANA, value=str(item_id)))


def test_valid_signature_is_accepted(endpoint):
    url, _ = endpoint
    body = claim_body()
    assert post(url, body, signed_headers(body)) == 200


def test_forged_signature_is_refused(endpoint, fake):
    url, _ = endpoint
    body = claim_body()
    assert post(url, body, signed_headers(body, secret="not-the-secret")) == 401
    assert fake.calls_to("chat.postEphemeral") == []  # no listener ran


def test_stale_timestamp_is_refused(endpoint):
    url, _ = endpoint
    body = claim_body()
    assert post(url, body, signed_headers(body, timestamp=int(time.time()) - 301)) == 401


def test_replayed_request_is_refused(endpoint):
    url, _ = endpoint
    body = claim_body()
    headers = signed_headers(body)
    assert post(url, body, headers) == 200
    assert post(url, body, headers) == 401


def test_tampered_body_is_refused(endpoint):
    url, _ = endpoint
    headers = signed_headers(claim_body(1))
    assert post(url, claim_body(2), headers) == 401


def test_other_paths_are_not_found(endpoint):
    url, _ = endpoint
    body = claim_body()
    assert post(url.replace("/slack/events", "/other"), body, signed_headers(body)) == 404


def test_socket_mode_requests_need_no_signature(store, config, client, clock, fake):
    from slack_bolt import BoltRequest

    from watcher.slack.app import build_app

    from .conftest import ingest, make_post

    runtime = make_runtime(store, config, client, clock, None)
    (item_id,) = ingest(store, config, clock, make_post("1"))
    app = build_app(runtime, signing_secret="", verify_requests=False, process_before_response=True)
    payload = block_action("claim", ANA, value=str(item_id))
    response = app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
    assert response.status == 200 and store.items.get_item(item_id).assignee == ANA


def test_http_request_without_signature_is_refused(endpoint):
    url, _ = endpoint
    assert post(url, claim_body(), {"content-type": ["application/x-www-form-urlencoded"]}) == 401


def test_a_body_over_the_cap_is_refused_unread(endpoint, fake):
    import http.client
    from urllib.parse import urlsplit

    from watcher.slack.http import MAX_BODY_BYTES

    url, _ = endpoint
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        # the headers announce a huge body; the answer comes before any of it is sent
        conn.putrequest("POST", parts.path)
        conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
        response.read()
    finally:
        conn.close()
    assert fake.calls_to("chat.postEphemeral") == []  # no listener ran
