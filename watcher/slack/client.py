"""The Slack Web API client: the one place it is built, what Slack's refusals mean,
and channel names resolved to ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from watcher.config import Config
from watcher.core.item import OutboxRow
from watcher.notify.outbox import DeliveryFailed, DeliveryRetry
from watcher.store import Store

# Slack errors that a person can fix: keep the row and retry slowly. A token error holds the
# whole outbox (every row would get it); a channel error only that channel's rows
FIXABLE_ERRORS = {
    "invalid_auth": "the bot token is invalid; check the environment variable named by slack.bot_token_env",
    "not_authed": "no bot token was sent; export the variable named by slack.bot_token_env",
    "token_revoked": "the bot token was revoked; reinstall the app and export the new token",
    "account_inactive": "the bot token belongs to a deactivated app; reinstall it",
    "channel_not_found": (
        "the channel does not exist or the bot cannot see it (a private channel it is not in); "
        "check the channel name (slack.channel, or the routing rule's channel) and invite the bot"
    ),
    "not_in_channel": "the bot is not in the channel; type /invite @watcher in it",
    "missing_scope": "the app lacks a scope; reinstall it from docs/slack manifest",
}
# of those, the ones about one channel: only that channel's rows wait, the others go out
CHANNEL_ERRORS = {"channel_not_found", "not_in_channel"}
FIXABLE_RETRY_SECONDS = 300


def make_client(config: Config, env: Any) -> WebClient:
    """The one place a real WebClient is built: bot token from the environment,
    the API host from config (GovSlack and tests use their own)."""
    token = env.get(config.slack.bot_token_env, "")
    return WebClient(token=token, base_url=config.slack.api_base_url, timeout=15, retry_handlers=[])


def channel_id_by_name(client: WebClient, store: Store, channel: str, *, now: datetime) -> str:
    """The id of the channel named `channel` (#care), or "" when the bot cannot see it; an
    id is returned as it is. Known from an earlier post or look-up (kept in the store as
    slack message `channel:#care`), else looked up among the channels the bot sees and kept."""
    if not channel.startswith("#"):
        return channel
    known = store.slack.slack_message(f"channel:{channel}")
    if known is not None:
        return str(known["channel"])
    cursor = None
    for _ in range(50):  # pages of 200: 10,000 channels
        page = client.conversations_list(
            types="public_channel,private_channel", exclude_archived=True, limit=200, cursor=cursor
        )
        for found in page.get("channels") or []:
            if found.get("name") == channel[1:]:
                store.slack.save_slack_message(
                    f"channel:{channel}", item_id=None, kind="channel", channel=found["id"], ts="", now=now
                )
                return str(found["id"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return ""


def addressed_channel(response: Any) -> str:
    """The channel a failed Web API call was addressed to (chat.postMessage sends it as
    JSON, conversations.history as a query parameter), or ""."""
    for part in ("json", "params", "data"):
        args = (response.req_args or {}).get(part)
        if isinstance(args, dict) and args.get("channel"):
            return str(args["channel"])
    return ""


def retry_after(headers: Any) -> float:
    for name in ("Retry-After", "retry-after"):
        value = (headers or {}).get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            try:
                return max(1.0, float(value))
            except ValueError:
                break
    return 30.0


def classify(exc: SlackApiError, row: OutboxRow, *, default_channel: str) -> DeliveryRetry | DeliveryFailed:
    """What a Slack refusal of outbox `row` means: wait (for the whole service, or, with a
    `channel`, for that channel only) or give up on the row."""
    response = exc.response
    status = response.status_code
    error = slack_error(exc)
    where = f"outbox row {row.id} ({row.kind}, item {row.item_id})"
    if status == 429 or error == "ratelimited":
        after = retry_after(response.headers)
        return DeliveryRetry(f"Slack rate limit on {where}; retrying after {after:.0f} s", after_seconds=after)
    if status >= 500:
        return DeliveryRetry(
            f"Slack answered {status} for {where}; will retry",
            after_seconds=min(300, 10 * (row.attempts + 1)),
        )
    if error in CHANNEL_ERRORS:
        # Slack answers channel_not_found for a private channel the bot is not in, too:
        # inviting the bot fixes it, so the rows wait (never blocking other channels)
        channel = addressed_channel(response) or row.channel or default_channel
        return DeliveryRetry(
            f"Slack refused {where} in channel {channel}: {FIXABLE_ERRORS[error]}",
            after_seconds=FIXABLE_RETRY_SECONDS,
            channel=channel,
        )
    if error in FIXABLE_ERRORS:
        return DeliveryRetry(f"Slack refused {where}: {FIXABLE_ERRORS[error]}", after_seconds=FIXABLE_RETRY_SECONDS)
    return DeliveryFailed(f"Slack refused {where}: {error or status}; this message cannot be delivered as it is")


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code ("not_in_channel"), or "" when the answer was not JSON."""
    response = exc.response
    return str(response.get("error", "")) if isinstance(response.data, dict) else ""
