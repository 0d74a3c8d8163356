"""Digests and spike alerts to Slack through slack_sdk's WebClient.

A digest is a chat.postMessage with the figures (it accepts a channel name and
answers with the channel id), then the charts uploaded beneath it with files
upload v2 (files.getUploadURLExternal, the upload URL, files.completeUploadExternal),
which needs that id. Spike alerts are not posted here: they are outbox rows (kind
"spike_alert", payload text + blocks) that the Slack notifier posts as messages.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from watcher.config import Config, env_missing
from watcher.digest import Digest
from watcher.digest_format import digest_text
from watcher.slack.outbox import make_client

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


def post_digest(client: WebClient, channel: str, digest: Digest, charts: Mapping[str, bytes]) -> str:
    """Post the digest text, then its charts beneath it; return the message ts."""
    if not channel:
        raise DigestPostError("no Slack channel for the digest; pass --channel or set slack.channel in the config")
    try:
        message = client.chat_postMessage(channel=channel, text=digest_text(digest), unfurl_links=False)
        channel_id, ts = str(message["channel"]), str(message["ts"])
        if charts:
            client.files_upload_v2(
                file_uploads=[
                    {"content": png, "filename": name, "title": CHART_TITLES.get(name, name)}
                    for name, png in charts.items()
                ],
                channel=channel_id,
                initial_comment=f"Charts for {digest.window.label()}",
            )
    except SlackApiError as exc:
        error = _slack_error(exc)
        hint = {
            "channel_not_found": "check the channel name and invite the app to it",
            "not_in_channel": "invite the app to the channel (/invite @app)",
            "invalid_auth": "check the bot token in the environment variable named by slack.bot_token_env",
            "missing_scope": "add the chat:write and files:write scopes to the Slack app",
        }.get(error, "see the Slack API documentation for this error")
        raise DigestPostError(f"Slack refused the digest for channel {channel}: {error}; {hint}") from None
    except (SlackClientError, OSError) as exc:
        raise DigestPostError(f"cannot reach Slack at {client.base_url} to post the digest: {exc}") from None
    return ts
