"""Slack's mrkdwn: escaping, cutting, quoting, mentions and links. Text only, no client."""

from __future__ import annotations

import re

SECTION_LIMIT = 3000


def escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int, *, escaped: bool = True) -> str:
    """Escape and cut to `limit` characters (counted after escaping), never inside an
    entity, ending with an ellipsis when cut."""
    done = escape(text) if escaped else text
    if len(done) <= limit:
        return done
    # the longest prefix whose escaped form leaves room for the ellipsis (escaping only grows text)
    low, high = 0, min(len(text), limit - 1)
    while low < high:
        middle = (low + high + 1) // 2
        if len(escape(text[:middle]) if escaped else text[:middle]) <= limit - 1:
            low = middle
        else:
            high = middle - 1
    cut = escape(text[:low]) if escaped else text[:low]
    return cut.rstrip() + "…"


def quote(text: str, limit: int = SECTION_LIMIT) -> str:
    """A customer's words as a block quote, escaped and within `limit`."""
    body = fit(text, limit - 2 * (text.count("\n") + 1))
    return "\n".join("> " + line for line in body.split("\n"))


MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def mention(actor: str | None) -> str:
    """A Slack member id renders as @name; anything else (watcher, cli) as itself."""
    if not actor:
        return "someone"
    return f"<@{actor}>" if MEMBER_ID.match(actor) else escape(actor)


def group_mention(group: str) -> str:
    return f"<!subteam^{group}>" if group else ""


def link(url: str, label: str) -> str:
    if not url:
        return escape(label)
    safe = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{escape(label)}>"
