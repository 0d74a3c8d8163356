"""HTTP mode: Slack POSTs interactions to a public URL. Bolt checks each request's
signature and 5-minute window; `ReplayGuard` refuses a signed request seen before;
the server refuses bodies past MAX_BODY_BYTES before reading them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

log = logging.getLogger(__name__)

SIGNATURE_WINDOW_SECONDS = 300
# Slack's interaction payloads are a few kB (a full modal's state stays well under this)
MAX_BODY_BYTES = 1_000_000


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


def serve_http(app: App, *, host: str, port: int, path: str) -> ThreadingHTTPServer:
    """A threaded HTTP server handing Slack's POSTs on `path` to Bolt (which checks
    signatures). Call `serve_forever()` on it; `server_address` has the real port.

    Bolt's own servers do not fit: `App.start()` is its single-threaded development
    server, and its WSGI/ASGI adapters need a server we would add as a dependency."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("slack http: " + format, *args)

        def do_POST(self) -> None:
            request_path, _, query = self.path.partition("?")
            if request_path != path:
                self._reply(404, {}, "not found")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self._reply(400, {}, "bad Content-Length")
                return
            if length > MAX_BODY_BYTES or length < 0:  # refused unread: a big body must not fill memory
                self.close_connection = True
                self._reply(413, {}, f"request body over {MAX_BODY_BYTES} bytes")
                return
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            headers: dict[str, str | Sequence[str]] = {k.lower(): [v] for k, v in self.headers.items()}
            response = app.dispatch(BoltRequest(body=body, query=query, headers=headers))
            self._reply(response.status, response.headers, response.body)

        def _reply(self, status: int, headers: Mapping[str, Any], body: str) -> None:
            payload = body.encode("utf-8")
            self.send_response(status)
            for name, values in headers.items():
                for value in values if isinstance(values, list | tuple) else [values]:
                    if name.lower() != "content-length":
                        self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return ThreadingHTTPServer((host, port), Handler)
