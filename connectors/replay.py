"""Replay a JSONL or CSV export of posts: history import and the offline demo.

The cursor is the number of records consumed (in time order) and a checksum of
their keys, so a restart resumes exactly where the last stored batch ended. A file
that changes (a refreshed export) is read again; when a record appeared or vanished
before the part already read, the file is read again from the start, with a problem
line saying so: the pipeline skips the posts it has stored, and nothing is lost.
In drip mode records are released at their original pace divided by `speed`, like
live traffic.

JSONL records carry the fields of `watcher.core.post.Post` (`id`, `text` and
`created_at` are required; `author` is an object). CSV files use flat columns:
id, text, created_at, platform, kind, lang, url, author_id, author_handle,
author_name, followers, verified, parent_id, conversation_id, likes, reposts,
replies, is_own, is_repost. connectors/records.py maps both (the one mapper,
shared with `watcher score`). A byte order mark at the start of the file is skipped.
"""

from __future__ import annotations

import csv
import json
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from connectors.base import Connector, FetchResult, PostedReply, ReplyRejected, SourceMisconfigured
from connectors.records import RecordError, record_to_post
from watcher.core.config import SourceConfig, SourceOptions
from watcher.core.cursor import Cursor
from watcher.core.post import Post, parse_timestamp

__all__ = ["RecordError", "ReplayConnector", "read_records", "record_to_post"]  # the mapper lives in records.py

# json.loads without its wrapper (two more calls and two whitespace matches per line); a line
# the decoder does not take in full goes through json.loads, for json.loads' own error
_DECODER = json.JSONDecoder()


def _parse_json(text: str) -> Any:
    """json.loads(text) for a line already trimmed of JSON whitespace."""
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        return json.loads(text)  # raises json.loads' own error
    return value if end == len(text) else json.loads(text)


# one per record: slots rather than frozen (a frozen dataclass pays a setattr call per
# field); nothing changes a LoadedRecord once made
@dataclass(slots=True)
class LoadedRecord:
    line: int
    post: Post | None
    error: str = ""


def read_records(path: Path, *, default_platform: str = "import", source: str = "") -> Iterator[LoadedRecord]:
    """Every record of a .jsonl/.json-lines or .csv file, with its line number; a bad
    record yields an error naming file, line and field instead of stopping."""
    suffix = path.suffix.lower()
    try:
        # a byte that is not UTF-8 costs its record, not the file: it is read as a lone
        # surrogate and that record is reported (see _not_utf8)
        # utf-8-sig: the byte order mark Notepad and Excel write is no part of line 1
        handle = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as exc:
        raise SourceMisconfigured(f"cannot read {path}: {exc.strerror}; check the path option") from None
    with handle:
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            for number, row in enumerate(reader, start=2):
                bad = next((_not_utf8(v) for v in row.values() if isinstance(v, str) and _not_utf8(v)), "")
                if bad:
                    yield LoadedRecord(number, None, f"{path}:{number}: {bad}")
                    continue
                yield _load(row, path, number, default_platform, source)
            return
        for number, line in enumerate(handle, start=1):
            # the JSON text exactly: only JSON whitespace can surround an accepted object
            text = line.strip(" \t\n\r")
            if not text or text.isspace():  # a blank line (any Unicode whitespace)
                continue
            bad = _not_utf8(text)
            if bad:
                yield LoadedRecord(number, None, f"{path}:{number}: {bad}")
                continue
            try:
                record = _parse_json(text)
            except json.JSONDecodeError as exc:
                yield LoadedRecord(number, None, f"{path}:{number}: not valid JSON ({exc.msg}); fix or remove the line")
                continue
            if not isinstance(record, dict):
                yield LoadedRecord(number, None, f"{path}:{number}: expected a JSON object per line")
                continue
            yield _load(record, path, number, default_platform, source, json_text=text)


def _not_utf8(text: str) -> str:
    """What is wrong with text read with surrogateescape, or "" when it was all UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not UTF-8 (character {exc.start + 1} of the line); save the file as UTF-8"
    return ""


def _load(
    record: Mapping[str, Any], path: Path, number: int, platform: str, source: str, *, json_text: str | None = None
) -> LoadedRecord:
    try:
        return LoadedRecord(
            number, record_to_post(record, default_platform=platform, source=source, json_text=json_text)
        )
    except RecordError as exc:
        ident = record.get("id") or "?"
        return LoadedRecord(number, None, f"{path}:{number}: record {ident}: {exc}")


_NO_TIME = datetime.min.replace(tzinfo=UTC)


def _sort_key(record: LoadedRecord) -> datetime:
    post = record.post
    return _NO_TIME if post is None else post.created_at


class ReplayConnector(Connector):
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
        self._stamp: tuple[int, int] = (-1, -1)  # the file's size and mtime when read
        self._checksum: tuple[int, int] = (0, 0)  # (end, crc32 of the keys of records[:end]) last computed
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
        if not resolved.is_file():
            from watcher.core.config import ConfigError, ConfigProblem

            what = "is a directory; give the export file in it" if resolved.is_dir() else "does not exist"
            raise ConfigError([ConfigProblem(cfg.file, f"sources.{cfg.name}.path", f"file {resolved} {what}")])
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
        """The file's records, oldest to newest; read again when the file has changed."""
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise SourceMisconfigured(f"cannot read {self.path}: {exc.strerror}; check the path option") from None
        stamp = (stat.st_size, stat.st_mtime_ns)
        if self._records is None or stamp != self._stamp:
            records = list(read_records(self.path, default_platform=self.platform, source=self.source))
            # oldest -> newest; records come in line order and sorted() is stable, so equal
            # times keep it; bad records (no time) sort first, in line order
            self._records = sorted(records, key=_sort_key)
            self._stamp = stamp
            self._checksum = (0, 0)
        return self._records

    def _consumed(self, records: list[LoadedRecord], end: int) -> int:
        """crc32 of the keys of the readable records in records[:end]: what a cursor remembers
        of the part already read. Unreadable records (no key) sort first, so one added or
        fixed still moves a readable one in or out of the part; a line that only moves (a
        newest-first export growing at the top) changes nothing. Extends the last sum when it can."""
        start, crc = self._checksum if self._checksum[0] <= end else (0, 0)
        keys = "".join(f"{r.post.key}\n" for r in records[start:end] if r.post is not None)
        crc = zlib.crc32(keys.encode("utf-8", "surrogatepass"), crc)
        self._checksum = (end, crc)
        return crc

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
        problems: list[str] = []
        remembered = cursor.state.get("consumed") if cursor else None  # cursors stored by older versions have none
        if offset > len(records) or (remembered is not None and self._consumed(records, offset) != remembered):
            problems.append(
                f"{self.path} changed before the part already read (records added, removed or re-timed); "
                "reading it again from the start: posts already stored are skipped"
            )
            offset = 0
        end = min(len(records), offset + self.batch_size)
        if self.drip:
            end = min(end, offset + self._released(records, offset))
        batch = records[offset:end]
        posts = tuple(r.post for r in batch if r.post is not None)
        problems += [r.error for r in batch if r.error]
        return FetchResult(
            posts=posts,
            cursor=Cursor({"offset": end, "consumed": self._consumed(records, end)}),
            has_more=end < len(records) and not self.drip,
            requests_made=1 if batch else 0,
            problems=tuple(problems),
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
        torn = False  # a line cut short by a crash mid-write: the next one must not be glued to it
        if self.replies_path.exists() and self.replies_path.stat().st_size:
            with self.replies_path.open("rb") as existing:
                existing.seek(-1, 2)
                torn = existing.read(1) != b"\n"
        with self.replies_path.open("a", encoding="utf-8") as out:
            out.write(
                ("\n" if torn else "")
                + json.dumps(
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
        for line in self.replies_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
                if row["in_reply_to"] == post.key and (text is None or row["text"] == text):
                    return PostedReply(post.platform, row["id"], "", parse_timestamp(row["posted_at"]))
            except (ValueError, TypeError, KeyError):
                continue  # a line cut short by a crash mid-write, or edited by hand: that reply was not recorded
        return None


CONNECTOR = ReplayConnector
