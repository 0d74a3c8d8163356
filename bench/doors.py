"""A stranger at the Slack HTTP endpoint: does a huge or unsigned POST hold up the team?

    .venv/bin/python bench/doors.py [--source DIR] [--big-mb 10] [--timeout 30]

Starts `watcher -vv slack serve` in HTTP mode on loopback (verbose logging on, as when
someone is debugging), then prints, beside a baseline of a normal signed request alone:
- a 10 MB unsigned POST: the time until it is refused, and the answer time of a normal
  request sent meanwhile;
- a 900 kB unsigned POST (under the size cap, so it is read and its signature checked):
  the same two times.
Targets: every figure under a second. `--source DIR` runs the watcher from another
checkout (say, the main branch before a change; its .venv is used when it has one).
Nothing leaves the machine; the Slack API URL points at a closed local port.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

SECRET = "bench-signing-secret"
PATH = "/slack/events"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, port: int) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"""
[brand]
name = "Bench"

[storage]
path = "{folder / "w.db"}"

[slack]
enabled = true
mode = "http"
http_host = "127.0.0.1"
http_port = {port}
http_path = "{PATH}"
api_base_url = "http://127.0.0.1:9/api/"
channel = "CBENCH"
moderators = ["UBENCH"]
""",
        encoding="utf-8",
    )
    return config


def start_server(source: Path, config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "COLUMNS": "120",
    }
    # the checkout's own environment when it has one (an editable install wins over PYTHONPATH)
    python = source / ".venv" / "bin" / "python"
    command = [str(python if python.exists() else sys.executable), "-c", "from watcher.cli.main import main; main()"]
    args = ["-vv", "--config", str(config), "slack", "serve", "--no-jobs"]
    output = log.open("wb")
    server = subprocess.Popen([*command, *args], env=env, cwd=source, stdout=output, stderr=subprocess.STDOUT)
    output.close()  # the child has its own copy
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the server did not start; see {log}")


def normal_request(port: int, timeout: float) -> float:
    """A signed url_verification (Slack's own handshake, answered without any API call):
    the seconds until its answer."""
    body = json.dumps({"type": "url_verification", "challenge": "bench", "token": "t"}).encode()
    ts = str(int(time.time()))
    signature = "v0=" + hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", PATH, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"the normal request got {response.status}")
    finally:
        conn.close()
    return time.monotonic() - started


def unsigned_post(port: int, size: int, timeout: float) -> float:
    """POST `size` bytes with no signature, sending the body while waiting for the answer:
    the seconds until the status line arrives (the server may answer before reading it)."""
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    answered = threading.Event()

    def send_body() -> None:
        # a well-formed interaction payload padded to `size`, as a forger would send it
        head, tail = b'payload={"type":"block_actions","pad":"', b'"}'
        body = head + b"x" * max(0, size - len(head) - len(tail)) + tail
        try:
            for start in range(0, len(body), 65_536):
                if answered.is_set():
                    break
                sock.sendall(body[start : start + 65_536])
        except OSError:
            pass  # refused unread: the server closed the connection

    try:
        head = f"POST {PATH} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        sock.sendall((head + f"Content-Length: {size}\r\n\r\n").encode())
        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        status = sock.recv(64)
        answered.set()
        if not status.startswith(b"HTTP/"):
            raise SystemExit(f"no answer to the unsigned POST: {status!r}")
        return time.monotonic() - started
    finally:
        sock.close()


def attack(port: int, size: int, timeout: float) -> tuple[str, str]:
    """The unsigned POST and, 50 ms into it, a normal request: both times, or "> timeout"."""
    results: dict[str, str] = {}

    def run(name: str, work: Callable[[], float]) -> None:
        try:
            results[name] = f"{work():.3f} s"
        except (TimeoutError, OSError) as exc:
            results[name] = f"> {timeout:.0f} s ({type(exc).__name__})"

    big = threading.Thread(target=run, args=("refused", lambda: unsigned_post(port, size, timeout)))
    big.start()
    time.sleep(0.05)
    run("normal", lambda: normal_request(port, timeout))
    big.join()
    return results["refused"], results["normal"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--big-mb", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        log = folder / "server.log"
        server = start_server(args.source.resolve(), write_config(folder, port), port, log)
        try:
            normal_request(port, args.timeout)  # warm-up: the first request imports Bolt's parts
            baseline = statistics.median(normal_request(port, args.timeout) for _ in range(5))
            rows = [("normal signed request alone (median of 5)", f"{baseline:.3f} s", "")]
            rows.append((f"{args.big_mb:g} MB unsigned POST", *attack(port, int(args.big_mb * 1e6), args.timeout)))
            rows.append(("900 kB unsigned POST (read, then refused)", *attack(port, 900_000, args.timeout)))
        finally:
            server.terminate()
            server.wait(timeout=10)
            if os.environ.get("DOORS_KEEP_LOG"):
                print(log.read_text(encoding="utf-8", errors="replace")[-3000:])
        print(f"source: {args.source.resolve()}  (server log: {log.stat().st_size:,} bytes)")
        print(f"{'':44}{'refused after':>16}{'normal request':>18}")
        for label, refused, normal in rows:
            if normal:
                print(f"{label:44}{refused:>16}{normal:>18}")
            else:
                print(f"{label:44}{'':>16}{refused:>18}")


if __name__ == "__main__":
    main()
