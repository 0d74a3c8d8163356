"""The Slack app's entry points: `build_app` (the Bolt app with every listener) and
`start` (Socket Mode, the default, needs no public URL; HTTP mode verifies Slack's
signatures and refuses replayed requests). The parts: listeners.py (what each click
does, behind permissions.py), runtime.py (what they share), jobs.py (the scheduler's
Slack tick), http.py (HTTP mode), outbox.py (delivery) and cards.py (Block Kit).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from slack_bolt import App

from watcher.core.config import env_missing
from watcher.slack.http import ReplayGuard, serve_http
from watcher.slack.jobs import jobs_loop
from watcher.slack.listeners import register
from watcher.slack.runtime import SlackRuntime

log = logging.getLogger(__name__)


def build_app(
    runtime: SlackRuntime,
    *,
    signing_secret: str,
    process_before_response: bool = False,
    verify_requests: bool = True,
    replay_clock: Callable[[], float] = time.time,
) -> App:
    """The Bolt app with every listener wired to `runtime`. Its Web API calls go through
    `runtime.client`, which carries the bot token (so no token is given to Bolt too)."""
    app = App(
        signing_secret=signing_secret,
        client=runtime.client,
        token_verification_enabled=False,
        request_verification_enabled=verify_requests,
        process_before_response=process_before_response,
        name="watcher",
    )
    app.use(ReplayGuard(clock=replay_clock))
    register(app, runtime)
    return app


def start(runtime: SlackRuntime, env: Mapping[str, str], *, with_jobs: bool = True) -> None:
    """Run the Slack app until interrupted: Socket Mode (default, no public URL) or HTTP.
    With `with_jobs`, the Slack tick (cards, reminders, updates) runs beside it; turn
    it off when a scheduler in the same database already calls `run_slack_jobs`."""
    stop = threading.Event()
    if with_jobs:
        interval = runtime.config.scheduler.outbox_interval_seconds
        threading.Thread(
            target=jobs_loop,
            args=(runtime,),
            kwargs={"interval": interval, "stop": stop},
            daemon=True,
            name="slack-jobs",
        ).start()
    try:
        _serve(runtime, env)
    finally:
        stop.set()


def _serve(runtime: SlackRuntime, env: Mapping[str, str]) -> None:
    slack = runtime.config.slack
    if slack.mode == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        # Socket Mode messages arrive over an authenticated websocket: no signatures to check
        app = build_app(runtime, signing_secret="", verify_requests=False)
        SocketModeHandler(app, env.get(slack.app_token_env, "")).start()
        return
    secret = env.get(slack.signing_secret_env, "")
    if not secret:
        raise SystemExit(
            f"slack.signing_secret_env: {env_missing(slack.signing_secret_env, 'export the app signing secret in it')}"
            " (slack.mode is http)"
        )
    app = build_app(runtime, signing_secret=secret)
    server = serve_http(app, host=slack.http_host, port=slack.http_port, path=slack.http_path, signing_secret=secret)
    log.info("Slack HTTP endpoint on %s:%s%s", slack.http_host, slack.http_port, slack.http_path)
    try:
        server.serve_forever()
    finally:
        server.server_close()
