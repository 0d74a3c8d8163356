"""One reply on the platform, exactly once: the idempotency key of a draft, how long a
send may hold its item, and posting or finding what an earlier attempt left."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from connectors.base import Connector, PostedReply, ReplyOutcomeUnknown
from watcher.core.post import Post

# how long one send may call the platform before another may take over: at least this,
# and always above the send's worst case at the connector's request timeout (see send_lease)
SEND_LEASE = timedelta(minutes=3)
# a send's most requests: a look-up (two requests), the post, a look-up after a timeout (two);
# each may take twice the connector's timeout, which bounds its connect and its read apart
SEND_REQUESTS = 5
SEND_LEASE_MARGIN = timedelta(minutes=1)
LOOK_FIRST = "sending again will check the platform first"


def post_or_find(
    connector: Connector, post: Post, text: str, *, look_first: bool, match: str | None
) -> tuple[PostedReply, bool]:
    """Post `text`, or find the reply an earlier attempt left (`match`: the words to look
    for, None for any brand reply): looking first when an earlier outcome is unknown,
    and again when this call's is. Returns the reply and whether it was found."""
    if look_first:
        existing = connector.find_own_reply(post, match)
        if existing is not None:
            return existing, True
    try:
        return connector.reply(post, text), False
    except ReplyOutcomeUnknown:
        existing = connector.find_own_reply(post, match)
        if existing is None:
            raise
        return existing, True


def send_lease(connector: Connector) -> timedelta:
    """How long a send through `connector` may hold the item: SEND_LEASE, or longer when the
    connector's `request_timeout` (seconds per request; X and Reddit set it from
    timeout_seconds, up to 300) lets a slow send run past it. A lease that ran out while
    the send still waited on the platform would let a second send post beside it."""
    timeout = connector.request_timeout
    if timeout is None or timeout <= 0:
        return SEND_LEASE
    return max(SEND_LEASE, timedelta(seconds=SEND_REQUESTS * 2 * float(timeout)) + SEND_LEASE_MARGIN)


def reply_key(item_id: int, text: str) -> str:
    """Same item and same words -> same key, so a retry can never post a second copy."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"item{item_id}-{digest}"
