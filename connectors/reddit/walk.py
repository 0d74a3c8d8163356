"""One listing walked newest -> oldest down to the cursor, and the gap a walk that
stops early leaves for the next fetch (see the connector's docstring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.reddit.mapping import (
    MAX_REPORTED,
    Boundary,
    Stream,
    StreamState,
    advance,
    item_label,
    malformed,
    passing,
)


class BudgetSpent(Exception):
    """Stop walking: the rate-limit budget is at the reserve."""


@dataclass(frozen=True)
class Walk:
    """What one walk of a listing read: new items (newest first), the stream's next state,
    whether it got down to the cursor, and problem lines."""

    items: list[dict[str, Any]]
    state: StreamState
    complete: bool
    problems: list[str]


def walk(
    stream: Stream,
    state: StreamState,
    *,
    read_page: Callable[[Stream, dict[str, Any]], dict[str, Any]],
    spend: Callable[[], None],
    horizon: float,
    source: str,
    page_size: int,
    max_pages: int,
    lookback: float,
) -> Walk:
    """Newest -> oldest through the listing until the floor (the previous top, or the
    backfill horizon on a first run) is reached, the listing ends, the page cap
    hits or the budget runs out; the last two leave a gap for the next fetch.
    A gap whose resume point has vanished (removed by a moderator, or fallen out of
    Reddit's ~1000-item listing) is walked again from the top, once, skipping what
    the gap walk had already passed; when the listing ends before that walk gets below
    where the gap walk stood, what lay below may be gone, and a problem line says so."""
    if state.gap_after is not None and state.gap_floor is not None:
        floor, after, resuming = state.gap_floor, state.gap_after, True
    else:
        floor, after, resuming = state.top or Boundary(horizon), None, False
    passed = state.gap_passed if resuming else None
    rewalked = state.gap_rewalked if resuming else False
    stood = state.gap_stood if resuming else None
    items: list[dict[str, Any]] = []
    problems: list[str] = []
    reported = list(state.reported)
    reached = ended = cut_short = False
    met_stored = False  # the walk came down to an item already returned: the listing joins what we have
    pages = 0
    while pages < max_pages and not (reached or ended):
        try:
            spend()
        except BudgetSpent:
            if not items and not resuming:
                raise
            break
        params: dict[str, Any] = {**stream.params, "limit": page_size}
        if after:
            params["after"] = after
        listing = read_page(stream, params)
        children = [c for c in listing["data"]["children"] if isinstance(c, dict) and c.get("kind") in ("t1", "t3")]
        if resuming and after == state.gap_after and not children:
            if rewalked:  # walked again from the top already: never again; nothing after it is the end
                ended = cut_short = True
                continue
            problems.append(
                f"{source}: {stream.path}: Reddit listed nothing after {state.gap_after}, where the "
                f"previous fetch stopped (the item was removed, or fell out of Reddit's listing); walked the "
                f"listing again from the newest item down to where the unfinished walk began, skipping what it "
                f"had already read"
            )
            after = None  # this empty answer does not count against the page cap
            rewalked, stood = True, passed
            continue
        pages += 1
        for child in children:
            data = child["data"] if isinstance(child.get("data"), dict) else {}
            wrong = malformed(data, child["kind"])
            if wrong:
                label = item_label(data, child["kind"])
                if not label or label not in reported:
                    problems.append(
                        f"{source}: {stream.path}: skipped {label or 'an item without a name or id'}: "
                        f"{wrong}; the rest of the listing was read"
                    )
                    reported.extend([label] if label else [])
                continue
            if floor.below(data):
                reached = True
                break
            stored = floor.covers(data) or (state.top is not None and data["name"] in state.top.seen)
            met_stored = met_stored or stored
            already = stored or (passed is not None and passed.covers(data))
            passed = passing(passed, data)
            if not already:
                items.append(data)
        after = listing["data"].get("after")
        ended = not after or not children
    top = advance(state.top, items, lookback=lookback)
    reported = reported[-MAX_REPORTED:]
    if reached or ended:
        if ended and not reached and stood is not None and passed == stood:
            problems.append(
                f"{source}: {stream.path}: the listing ended before the walk started again from the newest "
                f"item got back down to where the unfinished walk had stopped (Reddit lists about 1000 items), so "
                f"items created before {datetime.fromtimestamp(stood.created, UTC):%Y-%m-%d %H:%M} UTC that it had "
                f"not read yet may be missing; poll this source more often"
            )
        elif cut_short:
            problems.append(
                f"{source}: {stream.path}: Reddit listed nothing after {state.gap_after}, where the previous "
                f"fetch stopped, and this unfinished walk was already walked again from the newest item once, so "
                f"it ends here; if {state.gap_after} was removed, older items not read yet may be missing"
            )
        elif ended and not reached and not met_stored and floor.seen and items:
            problems.append(
                f"{source}: {stream.path}: the listing ended before reaching the last stored item "
                f"(Reddit lists about 1000 items), so older new items may be missing; poll this source more often"
            )
        return Walk(items, StreamState(top=top, reported=tuple(reported)), True, problems)
    last = items[-1]["name"] if items else (after or state.gap_after)
    gap = StreamState(
        top=top,
        gap_after=last,
        gap_floor=floor,
        gap_passed=passed,
        gap_rewalked=rewalked,
        gap_stood=stood,
        reported=tuple(reported),
    )
    return Walk(items, gap, False, problems)
