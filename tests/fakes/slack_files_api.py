"""A loopback fake of the Slack Web API methods the digest uses: chat.postMessage,
files.getUploadURLExternal, the upload URL it hands out, files.completeUploadExternal.

Real `slack_sdk.WebClient(base_url=fake.base_url)` talks to it over HTTP; it checks
the bot token, speaks Slack's JSON shapes (ok/error) and records what arrived.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class SlackState:
    token: str
    channels: dict[str, str]  # name or id -> channel id
    messages: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> {filename, length, data}
    shared: list[dict[str, Any]] = field(default_factory=list)  # completed uploads
    calls: list[str] = field(default_factory=list)
    fail_post_with: str = ""  # an error code chat.postMessage returns, e.g. "ratelimited"
    next_id: int = 1

    def new_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id:06d}"


class FakeSlack:
    def __init__(self, *, token: str = "xoxb-test", channels: dict[str, str] | None = None) -> None:
        self.state = SlackState(token=token, channels=channels or {"#care": "C0CARE", "C0CARE": "C0CARE"})
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return self.root + "/api/"

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, payload: dict[str, Any]) -> None:
                self._send(200, json.dumps(payload).encode())

            def do_POST(self) -> None:
                url = urlparse(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.state.calls.append(url.path)
                    if url.path.startswith("/upload/"):
                        self._upload(url.path.rsplit("/", 1)[-1], raw)
                        return
                    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(url.query).items()}
                    if "json" in (self.headers.get("Content-Type") or ""):
                        params.update(json.loads(raw or b"{}"))
                    else:
                        params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                    if self.headers.get("Authorization") != f"Bearer {fake.state.token}":
                        self._json({"ok": False, "error": "invalid_auth"})
                        return
                    method = url.path.removeprefix("/api/")
                    handler = {
                        "chat.postMessage": self._post_message,
                        "files.getUploadURLExternal": self._get_upload_url,
                        "files.completeUploadExternal": self._complete_upload,
                    }.get(method)
                    if handler is None:
                        self._json({"ok": False, "error": "unknown_method"})
                        return
                    handler(params)

            def _post_message(self, params: dict[str, Any]) -> None:
                state = fake.state
                if state.fail_post_with:
                    self._json({"ok": False, "error": state.fail_post_with})
                    return
                channel = state.channels.get(str(params.get("channel", "")))
                if channel is None:
                    self._json({"ok": False, "error": "channel_not_found"})
                    return
                if not params.get("text") and not params.get("blocks"):
                    self._json({"ok": False, "error": "no_text"})
                    return
                ts = f"1700000000.{state.new_id('')}"
                message = {"channel": channel, "ts": ts, "text": params.get("text", ""), "blocks": params.get("blocks")}
                state.messages.append(message)
                self._json({"ok": True, "channel": channel, "ts": ts, "message": {"text": message["text"], "ts": ts}})

            def _get_upload_url(self, params: dict[str, Any]) -> None:
                if not params.get("filename") or not str(params.get("length", "")).isdigit():
                    self._json({"ok": False, "error": "invalid_arguments"})
                    return
                file_id = fake.state.new_id("F")
                fake.state.pending[file_id] = {"filename": params["filename"], "length": int(params["length"])}
                self._json({"ok": True, "file_id": file_id, "upload_url": f"{fake.root}/upload/{file_id}"})

            def _upload(self, file_id: str, data: bytes) -> None:
                pending = fake.state.pending.get(file_id)
                if pending is None or len(data) != pending["length"]:
                    self._send(400, b"bad upload", "text/plain")
                    return
                pending["data"] = data
                self._send(200, f"OK - {len(data)}".encode(), "text/plain")

            def _complete_upload(self, params: dict[str, Any]) -> None:
                state = fake.state
                files = json.loads(params.get("files") or "[]")
                channel = params.get("channel_id")
                if channel and channel not in state.channels.values():
                    self._json({"ok": False, "error": "channel_not_found"})
                    return
                done = []
                for item in files:
                    pending = state.pending.get(item.get("id", ""))
                    if pending is None or "data" not in pending:
                        self._json({"ok": False, "error": "file_not_found"})
                        return
                    done.append({"id": item["id"], "title": item.get("title"), "name": pending["filename"]})
                for item, info in zip(files, done, strict=True):
                    state.shared.append(
                        {
                            **info,
                            "channel": channel,
                            "thread_ts": params.get("thread_ts"),
                            "initial_comment": params.get("initial_comment"),
                            "data": state.pending.pop(item["id"])["data"],
                        }
                    )
                self._json({"ok": True, "files": done})

        return Handler
