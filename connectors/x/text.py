"""Post length the way X counts it, so an over-long reply is refused before it is sent.

X weighs characters rather than counting them (twitter-text, config v3): most
Latin, Greek, Cyrillic, Hebrew, Arabic and common punctuation weigh 1, every
other code point (CJK, Hangul, emoji, ...) weighs 2, an emoji sequence joined
with ZWJ, skin tones or variation selectors weighs 2 as a whole, and every link
weighs 23 whatever its length. The weighted total may not exceed 280.
"""

from __future__ import annotations

import html
import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23

# twitter-text v3 "ranges" of weight 100 (= 1 character); everything else weighs 200 (= 2)
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_TLDS = (
    "com|org|net|edu|gov|io|co|ai|app|dev|info|biz|me|tv|ly|gl|gg|uk|de|fr|it|es|nl|eu|us|ca|au|jp|cn|in|br|ru|ch|"
    "se|no|fi|dk|pl|be|at|ie|pt|mx|ar|nz|za|kr|shop|store|xyz|online|site|link|news|blog"
)
_URL = re.compile(
    r"(?:https?://[^\s<>\"]+)"
    r"|(?:(?<![\w@.])(?:www\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:" + _TLDS + r")\b(?:/[^\s<>\"]*)?)",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""
_ZWJ = 0x200D
_VARIATION_SELECTORS = (0xFE0E, 0xFE0F)
_KEYCAP = 0x20E3


def weighted_length(text: str) -> int:
    """The length X checks against 280: links count 23, wide characters and emoji 2."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING_PUNCTUATION)
        total += _weigh_plain(text[position : match.start()]) + URL_WEIGHT
        position = match.start() + len(url)
    return total + _weigh_plain(text[position:])


def reply_length_problem(text: str) -> str | None:
    """None when X will accept the text; otherwise what is wrong and what to do."""
    if not text.strip():
        return "the reply is empty; write the public reply first"
    length = weighted_length(text)
    if length <= MAX_WEIGHTED_LENGTH:
        return None
    return (
        f"the reply is {length} characters as X counts them (limit {MAX_WEIGHTED_LENGTH}; every link counts "
        f"{URL_WEIGHT}, emoji and CJK characters count 2); shorten it by {length - MAX_WEIGHTED_LENGTH}"
    )


def _is_light(code: int) -> bool:
    return any(low <= code <= high for low, high in _LIGHT_RANGES)


def _is_emoji(code: int) -> bool:
    return (
        0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2B00 <= code <= 0x2BFF or code in (0x00A9, 0x00AE)
    )


def _is_modifier(code: int) -> bool:
    return code in _VARIATION_SELECTORS or code == _KEYCAP or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


def _weigh_plain(text: str) -> int:
    codes = [ord(ch) for ch in text]
    total = 0
    i = 0
    while i < len(codes):
        code = codes[i]
        keycap = code < 0x80 and (chr(code).isdigit() or chr(code) in "#*") and _KEYCAP in codes[i + 1 : i + 3]
        if not (_is_emoji(code) or keycap):
            total += 1 if _is_light(code) else 2
            i += 1
            continue
        total += 2
        regional = 0x1F1E6 <= code <= 0x1F1FF
        i += 1
        if regional and i < len(codes) and 0x1F1E6 <= codes[i] <= 0x1F1FF:
            i += 1  # a flag is a pair of regional indicators
        while i < len(codes):
            if _is_modifier(codes[i]):
                i += 1
            elif codes[i] == _ZWJ and i + 1 < len(codes) and _is_emoji(codes[i + 1]):
                i += 2
            else:
                break
    return total


_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+)+\s*")


def comparable_reply_text(text: str) -> str:
    """Reply text reduced so ours and the copy X returns compare equal: X returns &, <
    and > as HTML entities, may prefix the replied-to handles and wraps links in t.co."""
    text = html.unescape(text)
    text = _LEADING_MENTIONS.sub("", text)
    text = _URL.sub("<link>", text)
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())
