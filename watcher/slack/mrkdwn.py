"""Slack's mrkdwn: escaping, cutting, quoting, mentions and links. Text only, no client."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from watcher.core.text import visible

SECTION_LIMIT = 3000


def escape(text: str) -> str:
    """Slack's three control characters escaped, and what hides or reorders text shown
    visibly (watcher.core.text); everything else is shown as written."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int, *, escaped: bool = True) -> str:
    """Escape and cut to `limit` characters (counted after escaping), never inside an
    entity, ending with an ellipsis when cut."""
    done = escape(text) if escaped else text
    if len(done) <= limit:
        return done
    # the longest prefix whose escaped form leaves room for the ellipsis (searched among the first
    # `limit` characters: escaping grows text, and what `visible` strips is rarely that long)
    low, high = 0, min(len(text), limit - 1)
    while low < high:
        middle = (low + high + 1) // 2
        if len(escape(text[:middle]) if escaped else text[:middle]) <= limit - 1:
            low = middle
        else:
            high = middle - 1
    cut = escape(text[:low]) if escaped else text[:low]
    return cut.rstrip() + "…"


def _quoted(body: str) -> str:
    return "\n".join("> " + line for line in body.split("\n"))


def quote(text: str, limit: int = SECTION_LIMIT) -> str:
    """A customer's words as a block quote, escaped and within `limit`: as many of them
    as fit once every line carries its "> " (runs of blank lines count as one)."""
    text = re.sub(r"\n[ \t]*(?:\n[ \t]*)+\n", "\n\n", visible(text))
    whole = _quoted(escape(text))
    if len(whole) <= limit:
        return whole
    # the longest prefix whose quote, with an ellipsis, fits (cut before escaping: never inside an entity)
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_quoted(escape(text[:middle]).rstrip() + "…")) <= limit:
            low = middle
        else:
            high = middle - 1
    return _quoted(escape(text[:low]).rstrip() + "…")


MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def mention(actor: str | None) -> str:
    """A Slack member id renders as @name; anything else (watcher, cli) as itself."""
    if not actor:
        return "someone"
    return f"<@{actor}>" if MEMBER_ID.match(actor) else escape(actor)


def group_mention(group: str) -> str:
    return f"<!subteam^{group}>" if group else ""


@cache
def _post_hosts() -> dict[str, tuple[str, ...]]:
    data = tomllib.loads(resources.files("watcher").joinpath("data/post_hosts.toml").read_text(encoding="utf-8"))
    return {platform: tuple(hosts) for platform, hosts in data.items()}


def post_url(platform: str, url: str) -> str:
    """`url` when it is a web address on one of `platform`'s hosts (watcher/data/post_hosts.toml),
    else "": a card links only where the post lives."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return ""
    if parts.scheme not in ("https", "http") or not host:
        return ""
    hosts = _post_hosts().get(platform, ())
    if "*" in hosts or any(host == h or host.endswith("." + h) for h in hosts):
        return url.strip()
    return ""


def link(url: str, label: str) -> str:
    if not url:
        return escape(label)
    safe = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{escape(label)}>"
