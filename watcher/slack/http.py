"""HTTP mode: Slack POSTs interactions to a public URL.

A stranger can knock on this door, so `RequestGuard` checks every request before any
work is spent on its body: the size (refused unread past MAX_BODY_BYTES), the
timestamp and Slack's signature over the raw bytes, then the encoding and the payload's
shape. Each refusal is a 4xx and one short log line naming the size, never the body.
Bolt checks the signature again and `ReplayGuard` refuses a signed request seen before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App, BoltRequest, BoltResponse

log = logging.getLogger(__name__)

SIGNATURE_WINDOW_SECONDS = 300
# Slack's interaction payloads are a few kB (a full modal's state stays well under this)
MAX_BODY_BYTES = 1_000_000
# a client that stops sending mid-request frees its thread after this long
READ_TIMEOUT_SECONDS = 10


class ReplayGuard:
    """Bolt middleware: a signed HTTP request is accepted once. Bolt has already
    checked the signature and the 5-minute window; this refuses the same signature
    seen again inside that window (a captured request replayed)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, window: int = SIGNATURE_WINDOW_SECONDS) -> None:
        self.clock = clock
        self.window = window
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def __call__(self, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        if req.mode != "http":
            return next()
        signature = (req.headers.get("x-slack-signature") or [""])[0]
        if not signature:
            return next()
        now = self.clock()
        with self.lock:
            for old in [s for s, at in self.seen.items() if now - at > self.window + 60]:
                del self.seen[old]
            if signature in self.seen:
                log.warning("refused a replayed Slack request (signature seen %.0f s ago)", now - self.seen[signature])
                return BoltResponse(status=401, body="replayed request")
            self.seen[signature] = now
        return next()


class Refused(Exception):
    """A request answered with `status` before Bolt sees it; the message is the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class RequestGuard:
    """The checks a request passes before Bolt sees it, cheapest first."""

    signing_secret: str
    clock: Callable[[], float] = time.time
    window: int = SIGNATURE_WINDOW_SECONDS

    @staticmethod
    def length(header: str | None) -> int:
        """The announced body size; Slack always sends Content-Length (no chunked bodies)."""
        if header is None:
            raise Refused(411, "no Content-Length")
        text = header.strip()
        if not text.isascii() or not text.isdigit():
            raise Refused(400, "bad Content-Length")
        size = int(text[:20])  # 20 digits: more than any real length, and int() stays cheap
        if size > MAX_BODY_BYTES:
            raise Refused(413, f"request body over {MAX_BODY_BYTES} bytes")
        return size

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Slack's v0 signature over the raw bytes, inside the 5-minute window."""
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not signature:
            raise Refused(401, "unsigned request")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise Refused(401, "bad X-Slack-Request-Timestamp")
        if abs(self.clock() - int(timestamp)) > self.window:
            raise Refused(401, "stale X-Slack-Request-Timestamp")
        digest = hmac.new(self.signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
        if not hmac.compare_digest(("v0=" + digest.hexdigest()).encode(), signature.encode("utf-8", "replace")):
            raise Refused(401, "bad signature")

    @staticmethod
    def decode(content_type: str, body: bytes) -> str:
        """The body as text, refused unless it is UTF-8 and a payload it carries is a JSON object
        (Bolt would fail on anything else before a listener could answer)."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "body is not UTF-8") from None
        if content_type.startswith("application/json"):
            payloads = [text]
        else:
            try:
                payloads = parse_qs(text, max_num_fields=100).get("payload", [])
            except ValueError:
                raise Refused(400, "body is not a form") from None
        for payload in payloads:
            try:
                parsed = json.loads(payload)
            except ValueError:
                raise Refused(400, "payload is not JSON") from None
            if not isinstance(parsed, dict):
                raise Refused(400, "payload is not a JSON object")
        return text


def serve_http(app: App, *, host: str, port: int, path: str, signing_secret: str) -> ThreadingHTTPServer:
    """A threaded HTTP server handing Slack's POSTs on `path` to Bolt once `RequestGuard`
    passed them. Call `serve_forever()` on it; `server_address` has the real port.

    Bolt's own servers do not fit: `App.start()` is its single-threaded development
    server, and its WSGI/ASGI adapters need a server we would add as a dependency."""
    guard = RequestGuard(signing_secret)

    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_SECONDS

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("slack http: " + format, *args)

        def do_GET(self) -> None:
            self._reply(405, {"Allow": "POST"}, "POST only")

        def do_POST(self) -> None:
            announced = (self.headers.get("Content-Length") or "none")[:20]
            try:
                size = self._admit()
                body = self.rfile.read(size)
                if len(body) < size:
                    raise Refused(400, "body shorter than its Content-Length")
                headers = {k.lower(): v for k, v in self.headers.items()}
                guard.verify(headers, body)
                text = guard.decode(headers.get("content-type", ""), body)
            except Refused as refused:
                log.info(
                    "refused a Slack request from %s: %s (Content-Length %s)",
                    self.client_address[0],
                    refused.reason,
                    announced,
                )
                self.close_connection = True  # a body left unread must not be taken for the next request
                self._reply(refused.status, {}, refused.reason)
                return
            except TimeoutError:
                log.info("dropped a Slack request from %s: its body did not arrive", self.client_address[0])
                self.close_connection = True
                return
            bolt_headers: dict[str, str | Sequence[str]] = {k: [v] for k, v in headers.items()}
            query = self.path.partition("?")[2]
            try:
                response = app.dispatch(BoltRequest(body=text, query=query, headers=bolt_headers))
            except Exception as exc:  # a bug of ours: one line here, the traceback only with -vv
                log.error("a signed Slack request failed: %s: %s (%d bytes)", type(exc).__name__, exc, size)
                log.debug("the failed Slack request's traceback", exc_info=True)
                self._reply(500, {}, "internal error")
                return
            self._reply(response.status, response.headers, response.body)

        def _admit(self) -> int:
            if self.path.partition("?")[0] != path:
                raise Refused(404, "not found")
            return guard.length(self.headers.get("Content-Length"))

        def _reply(self, status: int, headers: Mapping[str, Any], body: str) -> None:
            payload = body.encode("utf-8")
            try:
                self.send_response(status)
                for name, values in headers.items():
                    for value in values if isinstance(values, list | tuple) else [values]:
                        if name.lower() != "content-length":
                            self.send_header(name, str(value))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError as exc:  # the client hung up (say, on a refusal before its body was read)
                log.debug("slack http: the answer %s did not reach %s: %s", status, self.client_address[0], exc)
                self.close_connection = True

    return ThreadingHTTPServer((host, port), Handler)
