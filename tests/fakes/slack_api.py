"""A fake Slack Web API on 127.0.0.1 for the real slack-sdk WebClient.

Speaks Slack's JSON shapes for the methods the watcher uses, keeps the posted
messages (with their metadata) per channel and the files shared through the
external upload flow (files.getUploadURLExternal, a POST of the bytes to the URL it
hands out, files.completeUploadExternal), records every call, and can be told
to fail the next calls of a method: 429 with Retry-After, 500, or "post then 500"
(the message is stored but the client sees an error, like a crash mid-request).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

BOT_TOKEN = "xoxb-test-token"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    authorization: str


@dataclass
class Failure:
    status: int
    retry_after: int | None = None
    after_effect: bool = False
    body: str | None = None


@dataclass
class FakeSlack:
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=lambda: {"care": "CCARE", "care-vip": "CCAREVIP", "esc": "CESC"})
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> {filename, length, data}
    shared: list[dict[str, Any]] = field(default_factory=list)  # completed uploads
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def all_messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m for messages in self.messages.values() for m in messages]

    def fail(
        self,
        method: str,
        status: int,
        *,
        retry_after: int | None = None,
        times: int = 1,
        after_effect: bool = False,
        body: str | None = None,
    ) -> None:
        with self.lock:
            self.failures.setdefault(method, []).extend(
                Failure(status, retry_after, after_effect, body) for _ in range(times)
            )

    def calls_to(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages.get(channel, []))

    def find(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self.lock:
            return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    # --- the methods --------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        result: dict[str, Any] = handler(params)
        return result

    def m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "watcher",
            "team_id": "T1",
            "user_id": "UBOT",
            "bot_id": "BBOT",
        }

    def m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "")
        if not channel or channel == "CMISSING":
            return {"ok": False, "error": "channel_not_found"}
        if channel.startswith("#"):  # Slack accepts a name and answers with the id
            if channel[1:] not in self.channels:
                return {"ok": False, "error": "channel_not_found"}
            channel = self.channels[channel[1:]]
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        number = next(self._ts)
        message = {
            "type": "message",
            "ts": f"{1700000000 + number}.{number:06d}",
            "channel": channel,
            "text": params.get("text", ""),
            "blocks": _maybe_json(params.get("blocks")) or [],
            "user": "UBOT",
            "bot_id": "BBOT",
        }
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        metadata = _maybe_json(params.get("metadata"))
        if metadata:
            message["metadata"] = metadata
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                message["text"] = params.get("text", message["text"])
                message["blocks"] = _maybe_json(params.get("blocks")) or message["blocks"]
                message["edited"] = message.get("edited", 0) + 1
                return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    def m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000000"}

    def m_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), str(params.get("message_ts", ""))
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _listing(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        with_meta = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = int(params.get("limit", 100))
        shown = []
        for message in messages[:limit]:
            copy = dict(message)
            if not with_meta:
                copy.pop("metadata", None)
            shown.append(copy)
        return {"ok": True, "messages": shown, "has_more": len(messages) > limit}

    def m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "")
        top = [m for m in self.messages.get(channel, []) if "thread_ts" not in m]
        return self._listing(list(reversed(top)), params)

    def m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        thread = [m for m in self.messages.get(channel, []) if m["ts"] == ts or m.get("thread_ts") == ts]
        return self._listing(thread, params)

    def m_conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """Two pages, so callers must follow next_cursor."""
        names = sorted(self.channels)
        half = (len(names) + 1) // 2
        page, cursor = (names[half:], "") if params.get("cursor") == "page2" else (names[:half], "page2")
        channels = [{"id": self.channels[n], "name": n, "is_archived": False} for n in page]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": cursor}}

    def m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = _maybe_json(params.get("view")) or {}
        return {"ok": True, "view": {**view, "id": f"V{next(self._ts)}", "hash": "h1"}}

    def m_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = _maybe_json(params.get("view")) or {}
        return {"ok": True, "view": {**view, "id": params.get("view_id", "V0"), "hash": "h2"}}

    def m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):06d}"
        self.pending[file_id] = {"filename": params["filename"], "length": int(params["length"])}
        return {"ok": True, "file_id": file_id, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}"}

    def upload(self, file_id: str, data: bytes) -> bool:
        """The bytes POSTed to an upload URL (no token: the URL is the credential)."""
        pending = self.pending.get(file_id)
        if pending is None or len(data) != pending["length"]:
            return False
        pending["data"] = data
        return True

    def m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = _maybe_json(params.get("files")) or []
        channel = params.get("channel_id")
        if channel and channel not in self.channels.values():
            return {"ok": False, "error": "channel_not_found"}
        if any("data" not in self.pending.get(item.get("id", ""), {}) for item in files):
            return {"ok": False, "error": "file_not_found"}
        done = []
        for item in files:
            pending = self.pending.pop(item["id"])
            done.append({"id": item["id"], "title": item.get("title"), "name": pending["filename"]})
            self.shared.append(
                {
                    **done[-1],
                    "channel": channel,
                    "thread_ts": params.get("thread_ts"),
                    "initial_comment": params.get("initial_comment"),
                    "data": pending["data"],
                }
            )
        return {"ok": True, "files": done}

    def m_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("usergroup", "")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": self.usergroups[group]}


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._serve(self.rfile.read(length))

        def _serve(self, raw: bytes) -> None:
            url = urlparse(self.path)
            if url.path.startswith("/upload/"):
                with fake.lock:
                    fake.calls.append(Call("upload", {"file_id": url.path.rsplit("/", 1)[-1]}, ""))
                    ok = fake.upload(url.path.rsplit("/", 1)[-1], raw)
                self._plain(200 if ok else 400, f"OK - {len(raw)}" if ok else "bad upload")
                return
            method = url.path.removeprefix("/api/")
            params: dict[str, Any] = dict(parse_qsl(url.query))
            if raw:
                if "json" in (self.headers.get("Content-Type") or ""):
                    params.update(json.loads(raw))
                else:
                    params.update(parse_qsl(raw.decode("utf-8")))
            auth = self.headers.get("Authorization") or ""
            with fake.lock:
                fake.calls.append(Call(method, params, auth))
                queued = fake.failures.get(method)
                failure = queued.pop(0) if queued else None
                if auth != f"Bearer {BOT_TOKEN}":
                    status, body = 200, {"ok": False, "error": "invalid_auth"}
                elif failure is not None and not failure.after_effect:
                    status, body = (
                        failure.status,
                        {"ok": False, "error": "ratelimited" if failure.status == 429 else "fatal_error"},
                    )
                else:
                    status, body = 200, fake.handle(method, params)
                    if failure is not None:
                        status, body = failure.status, {"ok": False, "error": "fatal_error"}
            payload = (failure.body if failure and failure.body is not None else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if failure is not None and failure.retry_after is not None:
                self.send_header("Retry-After", str(failure.retry_after))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _plain(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def running_fake_slack(**kwargs: Any) -> Iterator[FakeSlack]:
    fake = FakeSlack(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
