"""Recurring themes among negative posts: clustered key phrases, per language.

1. Key phrases are 1-3 word runs of a post's normalized text that neither start nor
   end with a stop word (watcher/data/digest_stopwords.toml) and contain no number
   and none of the brand's own names: "refund", "app keeps crashing", "delivery late".
   The brand is in nearly every mention, so its names would lead every digest.
2. A phrase must occur in at least `min_posts` posts. A phrase inside a longer one
   that occurs almost as often (80%) is dropped: the longer one says more.
3. Phrases are grouped when the sets of posts they occur in overlap (cosine of the
   post sets >= 0.5): "refund" and "waiting" become one theme, named after its most
   frequent phrase (or the few that occur about as often), with its posts counted
   once and the posts of largest reach as examples.
"""

from __future__ import annotations

import math
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from watcher.core.post import normalized_text
from watcher.core.settings import BrandConfig

MAX_WORDS = 3
KEEP_LONGER = 0.8
SIMILAR = 0.5
CANDIDATES = 40


@dataclass(frozen=True)
class Example:
    key: str
    text: str
    url: str
    platform: str
    handle: str
    reach: int


@dataclass(frozen=True)
class Theme:
    label: str
    phrases: tuple[str, ...]
    posts: int  # negative posts (in the sample) with any of the phrases
    sample: int  # negative posts of this language in the sample
    examples: tuple[Example, ...]

    @property
    def share(self) -> float:
        return self.posts / self.sample if self.sample else 0.0


@cache
def stop_words() -> Mapping[str, frozenset[str]]:
    data = tomllib.loads(files("watcher").joinpath("data/digest_stopwords.toml").read_text(encoding="utf-8"))
    return {lang: frozenset(normalized_text(words).split()) for lang, words in data.items()}


def stop_words_for(lang: str) -> frozenset[str]:
    """The language's list, or every list for a language without one."""
    lists = stop_words()
    return lists.get(lang) or frozenset().union(*lists.values())


def brand_terms(brand: BrandConfig) -> tuple[str, ...]:
    """What the brand is called: its name, aliases, handles, and its own and staff accounts."""
    own = (name for names in brand.own_accounts.values() for name in names)
    return (brand.name, *brand.aliases, *brand.handles, *own, *brand.staff_accounts)


def brand_word_runs(terms: Iterable[str]) -> frozenset[tuple[str, ...]]:
    """The terms as runs of normalized words ("@LumoBank" and "#lumobank" are both
    "lumobank"); a handle like "u/LumoOfficial" also as the name after the slash."""
    forms = {form for term in terms for form in (term, term.rsplit("/", 1)[-1])}
    return frozenset(run for run in (tuple(normalized_text(form).split()) for form in forms) if run)


def _brand_positions(words: Sequence[str], brand: frozenset[tuple[str, ...]]) -> set[int]:
    covered: set[int] = set()
    for run in brand:
        for start in range(len(words) - len(run) + 1):
            if tuple(words[start : start + len(run)]) == run:
                covered.update(range(start, start + len(run)))
    return covered


def key_phrases(norm_text: str, stop: frozenset[str], brand: frozenset[tuple[str, ...]] = frozenset()) -> set[str]:
    words = norm_text.split()
    # a word may start or end a phrase: 2+ letters, not a stop word, no digit; unigrams 3+ letters;
    # a digit or a brand name breaks a phrase
    banned = _brand_positions(words, brand) if brand else set()
    inner = [i not in banned and not any(ch.isdigit() for ch in w) for i, w in enumerate(words)]
    edge = [ok and len(w) > 1 and w not in stop for ok, w in zip(inner, words, strict=True)]
    phrases = set()
    for start, word in enumerate(words):
        if not edge[start]:
            continue
        if len(word) >= 3:
            phrases.add(word)
        for end in range(start + 1, min(start + MAX_WORDS, len(words))):
            if not inner[end]:
                break
            if edge[end]:
                phrases.add(" ".join(words[start : end + 1]))
    return phrases


def _contained(phrase: str) -> Iterable[str]:
    words = phrase.split()
    for length in range(1, len(words)):
        for start in range(len(words) - length + 1):
            yield " ".join(words[start : start + length])


def cluster_phrases(
    docs: Sequence[set[str]], *, min_posts: int = 2, candidates: int = CANDIDATES
) -> list[tuple[str, list[str], set[int]]]:
    """(label, phrases, post indices) per theme, largest first. Pure and deterministic."""
    df = Counter(p for doc in docs for p in doc)
    frequent = {p: n for p, n in df.items() if n >= min_posts}
    best_longer: dict[str, int] = defaultdict(int)
    for phrase, count in frequent.items():
        for inner in _contained(phrase):
            best_longer[inner] = max(best_longer[inner], count)
    kept = [p for p, n in frequent.items() if best_longer.get(p, 0) < KEEP_LONGER * n]
    kept.sort(key=lambda p: (-frequent[p], -len(p.split()), p))
    kept = kept[:candidates]
    where: dict[str, set[int]] = defaultdict(set)
    wanted = set(kept)
    for index, doc in enumerate(docs):
        for phrase in doc & wanted:
            where[phrase].add(index)
    themes: list[tuple[str, list[str], set[int]]] = []  # (head phrase, phrases, posts)
    for phrase in kept:
        posts = where[phrase]
        best, best_sim = None, SIMILAR
        for theme in themes:
            head = where[theme[0]]
            sim = len(posts & head) / math.sqrt(len(posts) * len(head))
            if sim >= best_sim:
                best, best_sim = theme, sim
        if best is None:
            themes.append((phrase, [phrase], set(posts)))
        else:
            best[1].append(phrase)
            best[2].update(posts)
    themes.sort(key=lambda t: (-len(t[2]), t[0]))
    return [(theme_label(phrases, frequent), phrases, posts) for _head, phrases, posts in themes]


def theme_label(phrases: Sequence[str], df: Mapping[str, int]) -> str:
    """The theme's name: its most frequent phrase, or up to three phrases that occur
    about as often (words that always come together: "waiting · refund · days"),
    longest first, as long as the name stays short."""
    top = max(df[p] for p in phrases)
    peers = sorted((p for p in phrases if df[p] >= 0.9 * top), key=lambda p: (-len(p), p))
    label = peers[0]
    for peer in peers[1:3]:
        if len(label) + len(peer) > 32:
            break
        label += " · " + peer
    return label


def find_themes(
    rows: Iterable[Mapping[str, Any]],
    *,
    brand_terms: Sequence[str] = (),
    min_posts: int = 2,
    max_themes: int = 6,
    examples: int = 3,
) -> dict[str, tuple[Theme, ...]]:
    """Themes per language from negative-post rows (key, text, norm_text, lang, url,
    platform, handle, reach), most posts first; languages with no theme are left out.
    `brand_terms` (see `brand_terms()`) never appear in a theme."""
    brand = brand_word_runs(brand_terms)
    by_lang: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_lang[row.get("lang") or "unknown"].append(row)
    result: dict[str, tuple[Theme, ...]] = {}
    for lang in sorted(by_lang, key=lambda lang: (-len(by_lang[lang]), lang)):
        posts = by_lang[lang]
        stop = stop_words_for(lang)
        docs = [key_phrases(p.get("norm_text") or normalized_text(p["text"]), stop, brand) for p in posts]
        themes = []
        for label, phrases, members in cluster_phrases(docs, min_posts=min_posts)[:max_themes]:
            ranked = sorted(members, key=lambda i: (-int(posts[i]["reach"]), posts[i]["key"]))
            themes.append(
                Theme(
                    label=label,
                    phrases=tuple(phrases),
                    posts=len(members),
                    sample=len(posts),
                    examples=tuple(
                        Example(
                            key=posts[i]["key"],
                            text=posts[i]["text"],
                            url=posts[i].get("url") or "",
                            platform=posts[i].get("platform") or "",
                            handle=posts[i].get("handle") or "",
                            reach=int(posts[i]["reach"]),
                        )
                        for i in ranked[:examples]
                    ),
                )
            )
        if themes:
            result[lang] = tuple(themes)
    return result
