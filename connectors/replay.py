"""Replay a JSONL or CSV export of posts: history import and the offline demo.

The cursor is the number of records consumed, so a restart resumes exactly
where the last stored batch ended. In drip mode records are released at their
original pace divided by `speed`, like live traffic.

JSONL records carry the fields of `watcher.post.Post` (`id`, `text` and
`created_at` are required; `author` is an object). CSV files use flat columns:
id, text, created_at, platform, kind, lang, url, author_id, author_handle,
author_name, followers, verified, parent_id, conversation_id, likes, reposts,
replies, is_own, is_repost.
"""

from __future__ import annotations

import csv
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from connectors.base import Cursor, FetchResult, PostedReply, ReplyRejected, SourceMisconfigured
from watcher.config import SourceConfig, SourceOptions
from watcher.post import Author, Metrics, Post, PostKind, parse_timestamp

TRUE_WORDS = {"1", "true", "yes", "y", "t"}


class RecordError(ValueError):
    """A record that cannot become a Post; the message names the field."""


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in TRUE_WORDS


def _count(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        raise RecordError(f"{name} must be a whole number, got {value!r}") from None


def record_to_post(record: Mapping[str, Any], *, default_platform: str = "import", source: str = "") -> Post:
    """One exported record (JSONL object or CSV row) -> Post. Pure."""
    for required in ("id", "text", "created_at"):
        if record.get(required) in (None, ""):
            raise RecordError(f"missing required field {required!r}")
    try:
        created = parse_timestamp(record["created_at"])
    except (ValueError, TypeError) as exc:
        raise RecordError(f"created_at: {exc}") from None
    raw_author = record.get("author")
    if isinstance(raw_author, Mapping):
        author_fields = raw_author
    else:
        author_fields = {
            "id": record.get("author_id"),
            "handle": record.get("author_handle"),
            "name": record.get("author_name"),
            "followers": record.get("followers"),
            "verified": record.get("verified"),
        }
    handle = str(author_fields.get("handle") or author_fields.get("id") or "unknown")
    author = Author(
        id=str(author_fields.get("id") or handle),
        handle=handle,
        display_name=str(author_fields.get("name") or ""),
        followers=_count(author_fields.get("followers"), "followers"),
        verified=_flag(author_fields.get("verified")),
    )
    raw_metrics = record.get("metrics")
    metric_fields: Mapping[str, Any] = raw_metrics if isinstance(raw_metrics, Mapping) else record
    kind_text = str(record.get("kind") or "post")
    try:
        kind = PostKind(kind_text)
    except ValueError:
        raise RecordError(f"kind {kind_text!r} is not one of {', '.join(k.value for k in PostKind)}") from None
    return Post(
        platform=str(record.get("platform") or default_platform),
        native_id=str(record["id"]),
        kind=kind,
        text=str(record["text"]),
        created_at=created,
        author=author,
        url=str(record.get("url") or ""),
        lang=str(record["lang"]) if record.get("lang") else None,
        parent_id=str(record["parent_id"]) if record.get("parent_id") else None,
        conversation_id=str(record["conversation_id"]) if record.get("conversation_id") else None,
        parent_text=str(record["parent_text"]) if record.get("parent_text") else None,
        metrics=Metrics(
            likes=_count(metric_fields.get("likes"), "likes"),
            reposts=_count(metric_fields.get("reposts"), "reposts"),
            replies=_count(metric_fields.get("replies"), "replies"),
        ),
        is_own=_flag(record.get("is_own")),
        is_repost=_flag(record.get("is_repost")),
        source=str(record.get("source") or source),
        raw=dict(record),
    )


@dataclass(frozen=True)
class LoadedRecord:
    line: int
    post: Post | None
    error: str = ""


def read_records(path: Path, *, default_platform: str = "import", source: str = "") -> Iterator[LoadedRecord]:
    """Every record of a .jsonl/.json-lines or .csv file, with its line number; a bad
    record yields an error naming file, line and field instead of stopping."""
    suffix = path.suffix.lower()
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise SourceMisconfigured(f"cannot read {path}: {exc.strerror}; check the path option") from None
    with handle:
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            for number, row in enumerate(reader, start=2):
                yield _load(row, path, number, default_platform, source)
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield LoadedRecord(number, None, f"{path}:{number}: not valid JSON ({exc.msg}); fix or remove the line")
                continue
            if not isinstance(record, dict):
                yield LoadedRecord(number, None, f"{path}:{number}: expected a JSON object per line")
                continue
            yield _load(record, path, number, default_platform, source)


def _load(record: Mapping[str, Any], path: Path, number: int, platform: str, source: str) -> LoadedRecord:
    try:
        return LoadedRecord(number, record_to_post(record, default_platform=platform, source=source))
    except RecordError as exc:
        ident = record.get("id") or "?"
        return LoadedRecord(number, None, f"{path}:{number}: record {ident}: {exc}")


class ReplayConnector:
    """A connector over an export file. Replies go to a local JSONL file when
    `replies_path` is set (a dry-run outbox for demos and training)."""

    name: ClassVar[str] = "replay"

    def __init__(
        self,
        path: Path,
        *,
        source: str = "replay",
        platform: str = "import",
        batch_size: int = 50,
        drip: bool = False,
        speed: float = 60.0,
        replies_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.source = source
        self.platform = platform
        self.batch_size = batch_size
        self.drip = drip
        self.speed = speed
        self.replies_path = replies_path
        self.clock = clock
        self._records: list[LoadedRecord] | None = None
        self._started_at: float | None = None

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        path = opts.get("path", str)
        platform = opts.get("platform", str, "import")
        batch_size = opts.get("batch_size", int, 50)
        drip = opts.get("drip", bool, False)
        speed = opts.get("speed", float, 60.0)
        replies_path = opts.get("replies_path", str, "")
        opts.finish()
        base = Path(cfg.file).parent
        resolved = Path(path) if Path(path).is_absolute() else base / path
        if not resolved.exists():
            from watcher.config import ConfigError, ConfigProblem

            raise ConfigError([ConfigProblem(cfg.file, f"sources.{cfg.name}.path", f"file {resolved} does not exist")])
        replies = (
            (Path(replies_path) if Path(replies_path).is_absolute() else base / replies_path) if replies_path else None
        )
        return cls(
            resolved,
            source=cfg.name,
            platform=platform,
            batch_size=batch_size,
            drip=drip,
            speed=speed,
            replies_path=replies,
        )

    def _load(self) -> list[LoadedRecord]:
        if self._records is None:
            records = list(read_records(self.path, default_platform=self.platform, source=self.source))
            # oldest -> newest, stable for equal times; bad records keep their place
            self._records = sorted(
                records, key=lambda r: (r.post.created_at if r.post else datetime.min.replace(tzinfo=UTC), r.line)
            )
        return self._records

    def total(self) -> int:
        return len(self._load())

    def time_span(self) -> tuple[datetime, datetime]:
        """The oldest and newest post times in the file (the demo paces its drip by them)."""
        times = [r.post.created_at for r in self._load() if r.post is not None]
        if not times:
            raise SourceMisconfigured(f"{self.path} holds no readable posts")
        return times[0], times[-1]

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        records = self._load()
        offset = int(cursor.state.get("offset", 0)) if cursor else 0
        end = min(len(records), offset + self.batch_size)
        if self.drip:
            end = min(end, offset + self._released(records, offset))
        batch = records[offset:end]
        posts = tuple(r.post for r in batch if r.post is not None)
        problems = tuple(r.error for r in batch if r.error)
        return FetchResult(
            posts=posts,
            cursor=Cursor({"offset": end}),
            has_more=end < len(records) and not self.drip,
            requests_made=1 if batch else 0,
            problems=problems,
        )

    def _released(self, records: list[LoadedRecord], offset: int) -> int:
        """How many records after `offset` are due by now at the replay speed."""
        first = next((r.post.created_at for r in records if r.post), None)
        if first is None:
            return len(records) - offset
        if self._started_at is None:
            self._started_at = self.clock()
        elapsed = (self.clock() - self._started_at) * self.speed
        due = 0
        for record in records[offset:]:
            if record.post is not None and (record.post.created_at - first).total_seconds() > elapsed:
                break
            due += 1
        return due

    def reply(self, post: Post, text: str) -> PostedReply:
        if self.replies_path is None:
            raise ReplyRejected(
                f"source {self.source!r} replays a file and cannot post replies; set replies_path to record them",
                source=self.source,
            )
        reply = PostedReply(
            platform=post.platform, native_id=f"replay-{uuid.uuid4().hex[:12]}", url="", posted_at=datetime.now(UTC)
        )
        self.replies_path.parent.mkdir(parents=True, exist_ok=True)
        with self.replies_path.open("a", encoding="utf-8") as out:
            out.write(
                json.dumps(
                    {
                        "id": reply.native_id,
                        "in_reply_to": post.key,
                        "text": text,
                        "posted_at": reply.posted_at.isoformat(),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        return reply

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        if self.replies_path is None or not self.replies_path.exists():
            return None
        for line in self.replies_path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["in_reply_to"] == post.key and (text is None or row["text"] == text):
                return PostedReply(post.platform, row["id"], "", parse_timestamp(row["posted_at"]))
        return None
