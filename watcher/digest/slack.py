"""Digests and spike alerts to Slack through slack_sdk's WebClient.

A digest is a chat.postMessage with the figures (it accepts a channel name and
answers with the channel id), then the charts uploaded beneath it with files
upload v2 (files.getUploadURLExternal, the upload URL, files.completeUploadExternal),
which needs that id. Spike alerts are not posted here: they are outbox rows (kind
"spike_alert", payload text + blocks) that the Slack notifier posts as messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from watcher.config import Config
from watcher.core.config import env_missing
from watcher.digest.figures import Digest
from watcher.digest.text import digest_text
from watcher.slack.client import channel_id_by_name, make_client
from watcher.store import Store

log = logging.getLogger(__name__)

METADATA_EVENT = "watcher_digest"  # message metadata naming the scheduled run a digest was posted for
HISTORY_PAGES = 10  # pages of 200 messages searched for an earlier attempt's digest
# history is read from this long before the run started: a host clock ahead of Slack's
# by less than this still finds the message an earlier attempt posted
CLOCK_MARGIN = timedelta(hours=1)

CHART_TITLES = {
    "volume.png": "Mentions by sentiment",
    "response_times.png": "First response time",
    "themes.png": "Themes in negative posts",
}


class DigestPostError(Exception):
    """Posting to Slack failed; the message says where and what to do."""


def slack_client(config: Config, env: Mapping[str, str]) -> WebClient:
    """The WebClient for config.slack, with the bot token from the named env var."""
    var = config.slack.bot_token_env
    token = env.get(var, "")
    if not token:
        raise DigestPostError(
            f"{config.file}: slack.bot_token_env: {env_missing(var, 'export the bot token in it to post digests')}"
        )
    return make_client(config, env)


def _slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown_error")) if exc.response is not None else "unknown_error"


HINTS = {
    "channel_not_found": "check the channel name and invite the app to it",
    "not_in_channel": "invite the app to the channel (/invite @app)",
    "invalid_auth": "check the bot token in the environment variable named by slack.bot_token_env",
    "missing_scope": (
        "add the chat:write, files:write, channels:history, groups:history, channels:read and groups:read "
        "scopes to the Slack app"
    ),
}


def _refused(exc: SlackApiError, what: str) -> DigestPostError:
    error = _slack_error(exc)
    hint = HINTS.get(error, "see the Slack API documentation for this error")
    return DigestPostError(f"Slack refused {what}: {error}; {hint}")


def post_digest(
    client: WebClient, channel: str, digest: Digest, charts: Mapping[str, bytes], *, run_key: str = ""
) -> str:
    """Post the digest text, then its charts beneath it; return the message ts.

    `run_key` names a scheduled run in the message metadata, so a retry after an
    unclear outcome finds the message (`find_posted_digest`) instead of posting it
    again. Once the text is posted the digest is delivered: a chart upload that
    fails is logged, never raised (a retry would post the text twice)."""
    if not channel:
        raise DigestPostError("no Slack channel for the digest; pass --channel or set slack.channel in the config")
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"run": run_key}} if run_key else None
    try:
        message = client.chat_postMessage(
            channel=channel, text=digest_text(digest), unfurl_links=False, metadata=metadata
        )
    except SlackApiError as exc:
        raise _refused(exc, f"the digest for channel {channel}") from None
    except (SlackClientError, OSError) as exc:
        raise DigestPostError(f"cannot reach Slack at {client.base_url} to post the digest: {exc}") from None
    channel_id, ts = str(message["channel"]), str(message["ts"])
    if charts:
        try:
            client.files_upload_v2(
                file_uploads=[
                    {"content": png, "filename": name, "title": CHART_TITLES.get(name, name)}
                    for name, png in charts.items()
                ],
                channel=channel_id,
                initial_comment=f"Charts for {digest.window.label()}",
            )
        except SlackApiError as exc:
            log.error(
                "the digest for %s is posted in %s (ts %s); %s",
                digest.window.label(),
                channel,
                ts,
                _refused(exc, "its charts"),
            )
        except (SlackClientError, OSError) as exc:
            log.error(
                "the digest for %s is posted in %s (ts %s) but its charts could not reach Slack: %s",
                digest.window.label(),
                channel,
                ts,
                exc,
            )
    return ts


def find_posted_digest(
    client: WebClient, store: Store, channel: str, *, run_key: str, title: str, since: datetime, now: datetime
) -> str | None:
    """The ts of the message an earlier attempt of the scheduled run `run_key` left in
    `channel` (posted at or after `since`: a 500 after Slack stored it, a crash before it
    was recorded), or None when the channel has none.

    A message is the run's when its metadata names `run_key`, or when it has no metadata
    and its first line is `title` (older watchers posted digests without metadata). Raises
    DigestPostError (the run is tried again later) when Slack cannot be read or the channel
    has more messages since CLOCK_MARGIN before `since` than are searched."""
    where = f"reading channel {channel} for a digest an earlier attempt may have posted"
    try:
        channel_id = channel_id_by_name(client, store, channel, now=now)
        if not channel_id:
            raise DigestPostError(f"channel {channel} is not visible to the bot; invite the app to it")
        cursor = None
        for _ in range(HISTORY_PAGES):
            page = client.conversations_history(
                channel=channel_id,
                oldest=f"{(since - CLOCK_MARGIN).timestamp():.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for message in page.get("messages") or []:
                if _is_run(message, run_key, title):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
    except SlackApiError as exc:
        raise _refused(exc, where) from None
    except (SlackClientError, OSError) as exc:
        raise DigestPostError(f"cannot reach Slack at {client.base_url} to read channel {channel}: {exc}") from None
    raise DigestPostError(
        f"{where}: it has more than {HISTORY_PAGES * 200} messages since {(since - CLOCK_MARGIN).isoformat()}, "
        "more than are "
        "searched, so the digest is not posted again blindly; it is tried again later"
    )


def digest_title(digest: Digest) -> str:
    """The digest message's first line: brand, period and date."""
    return digest_text(digest).split("\n", 1)[0]


def _is_run(message: Mapping[str, Any], run_key: str, title: str) -> bool:
    """The run's message: its metadata names the run, or it has none (an older watcher's
    digest, or one posted with `watcher digest --post`) and its first line is the title."""
    meta = message.get("metadata")
    if meta:
        return meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("run") == run_key
    return str(message.get("text") or "").split("\n", 1)[0] == title
