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
from .harness import SECRET, Harness, block_action, form, signed_headers


@pytest.fixture
def endpoint(store, config, client, clock) -> Iterator[tuple[str, Harness]]:
    from .conftest import RecordingConnector

    harness = Harness(make_runtime(store, config, client, clock, RecordingConnector()))
    server = serve_http(harness.app, host="127.0.0.1", port=0, path="/slack/events", signing_secret=SECRET)
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


# --- malformed requests: a 4xx and one log line, never a traceback or a dropped connection ----


def send_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST `body` as given (no re-encoding), with `headers` and its true Content-Length
    unless one is given."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.putrequest("POST", parts.path, skip_accept_encoding=True)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def signed_raw(body: bytes, **kwargs: object) -> dict[str, str]:
    """Slack's signature over raw bytes (the harness signs text)."""
    import hashlib
    import hmac

    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest}


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if r.exc_info]


MALFORMED = {
    "a non-numeric timestamp, unsigned": (b"payload=x", {"X-Slack-Request-Timestamp": "abc"}),
    "a non-numeric timestamp, signed": (
        b"payload=x",
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=0"},
    ),
    "a non-ASCII signature": (
        b"payload=x",
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=\xe9"},
    ),
    "a huge timestamp": (b"payload=x", {"X-Slack-Request-Timestamp": "9" * 4000, "X-Slack-Signature": "v0=0"}),
    "a non-UTF-8 body, unsigned": (b"payload=\xff\xfe", {}),
    "Content-Length: abc": (b"payload=x", {"Content-Length": "abc"}),
    "Content-Length: -1": (b"payload=x", {"Content-Length": "-1"}),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_request_gets_a_4xx(endpoint, caplog, fake, case):
    url, _ = endpoint
    body, headers = MALFORMED[case]
    status, _ = send_raw(url, body, headers)
    assert 400 <= status < 500
    assert no_tracebacks(caplog)
    assert fake.calls_to("chat.postEphemeral") == []


SIGNED_ODD = {
    "a non-UTF-8 body": (b"payload=\xff\xfe", "application/x-www-form-urlencoded"),
    "a payload that is not JSON": (b"payload=notjson", "application/x-www-form-urlencoded"),
    "a payload that is an array": (b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    "a JSON body that is an array": (b"[1]", "application/json"),
    "a JSON body that is not JSON": (b"{", "application/json"),
}


@pytest.mark.parametrize("case", SIGNED_ODD)
def test_a_signed_but_odd_body_gets_a_400(endpoint, caplog, case):
    url, _ = endpoint
    body, content_type = SIGNED_ODD[case]
    status, _ = send_raw(url, body, {**signed_raw(body), "Content-Type": content_type})
    assert status == 400
    assert no_tracebacks(caplog)


def test_an_unknown_view_callback_gets_a_4xx(endpoint, caplog):
    from .harness import view_submission

    url, _ = endpoint
    body = form(view_submission("no_such_view", ANA, metadata={}, values={})).encode()
    status, _ = send_raw(url, body, signed_raw(body))
    assert 400 <= status < 500 and no_tracebacks(caplog)


def test_a_missing_content_length_is_refused(endpoint):
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint[0])
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.0 411")


def test_a_bad_signature_is_one_short_line_without_the_body(endpoint, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="watcher")  # Bolt sets the level of its app's name
    url, _ = endpoint
    body = b"payload=" + b"SECRET-CUSTOMER-TEXT" * 5000
    status, _ = send_raw(url, body, {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=0"})
    assert status == 401
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and str(len(body)) in refusals[0]
    assert not [r for r in caplog.records if "SECRET-CUSTOMER-TEXT" in r.getMessage()]
