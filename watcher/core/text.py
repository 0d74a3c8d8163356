"""Text hygiene for what strangers write, before anyone reads it: one place for the
characters that hide or reorder text, used by the Slack cards (through
watcher.slack.mrkdwn.escape), the terminal views and the reply templates.

- Bidi overrides and isolates (U+202A-202E, U+2066-2069) can make a card read
  differently from what was posted: shown visibly, as ⟨U+202E⟩.
- Control characters (except tab and newline) likewise.
- Zero-width spaces, joiners used to split words, and directional marks carry nothing
  a reader needs: stripped. The zero-width joiner stays (emoji sequences need it).
"""

from __future__ import annotations

import re
import unicodedata

_SHOWN = "".join(
    [
        *(chr(c) for c in range(0x00, 0x20) if chr(c) not in "\t\n"),
        *(chr(c) for c in range(0x7F, 0xA0)),
        *(chr(c) for c in range(0x202A, 0x202F)),
        *(chr(c) for c in range(0x2066, 0x206A)),
    ]
)
_STRIPPED = "\u200b\u200c\u200e\u200f\u061c\u2060\u180e\ufeff\u00ad"
_HIDDEN = re.compile(f"[{re.escape(_SHOWN + _STRIPPED)}]")
_ZWJ_AND_VARIATION = "\u200d\ufe0f"
_LINK_LIKE = re.compile(r"\w\.\w")  # a domain, as in "visit.example"


def _show(match: re.Match[str]) -> str:
    char = match.group()
    return "" if char in _STRIPPED else f"⟨U+{ord(char):04X}⟩"


def visible(text: str) -> str:
    """`text` with bidi controls and control characters shown as ⟨U+XXXX⟩ and zero-width
    characters removed; "\\r\\n" and a lone "\\r" become newlines first."""
    return _HIDDEN.sub(_show, text.replace("\r\n", "\n").replace("\r", "\n"))


def plain(text: str, limit: int) -> str:
    """A stranger's name as a reply template may copy it into the brand's public words:
    letters, digits, spaces, emoji and ' - . only (hidden characters dropped), no word
    that looks like a link or domain, at most `limit` characters. Empty when nothing is left."""
    kept = "".join(
        char
        for char in _HIDDEN.sub("", text)
        if char.isalnum() or char in " '-." + _ZWJ_AND_VARIATION or unicodedata.category(char) == "So"
    )
    words = [word for word in kept.split() if not _LINK_LIKE.search(word)]
    return " ".join(words)[:limit].strip()


def plain_handle(text: str, limit: int) -> str:
    """A stranger's handle as a reply template may copy it: word characters, dots and
    dashes only (what platforms allow in handles), at most `limit` characters."""
    return re.sub(r"[^\w.\-]", "", _HIDDEN.sub("", text))[:limit]
