"""Replay a JSONL or CSV export of posts: history import and the offline demo.

The file is read as a stream (connectors/replay_file.py), `batch_size` records a
fetch, in constant memory whatever its size. An export is read in its own order:
oldest-first from the top, newest-first (its first record newer than its last) from
the bottom up, so every fetch is oldest -> newest. A record older than one read
before it (an export not sorted by time) is still returned, with a problem line.

The cursor is the reading position in bytes, lines and records, and a fingerprint of
the part already read, so a restart resumes exactly where the last stored batch ended.
A file that grows (appended to, or a newest-first export growing at the top) is read
on from there; one replaced or rewritten before that point is read again from the
start, with a problem line saying so: the pipeline skips the posts it has stored, and
nothing is lost. In drip mode records are released at their original pace divided by
`speed`, like live traffic.

JSONL records carry the fields of `watcher.core.post.Post` (`id`, `text` and
`created_at` are required; `author` is an object). CSV files use flat columns:
id, text, created_at, platform, kind, lang, url, author_id, author_handle,
author_name, followers, verified, parent_id, conversation_id, likes, reposts,
replies, is_own, is_repost. connectors/records.py maps both (the one mapper,
shared with `watcher score`). A byte order mark at the start of the file is skipped.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

from connectors.base import Connector, FetchResult, PostedReply, ReplyRejected, SourceMisconfigured
from connectors.records import RecordError, record_to_post
from connectors.replay_file import ExportFile, LoadedRecord, Order
from connectors.replay_file import _parse_json as _parse_json  # tests check it against json.loads
from watcher.core.config import SourceConfig, SourceOptions
from watcher.core.cursor import Cursor
from watcher.core.post import Post, parse_timestamp

__all__ = ["LoadedRecord", "RecordError", "ReplayConnector", "record_to_post"]  # the mapper lives in records.py

PROGRESS_BYTES = 4 << 20  # exports from this size get a progress bar on a terminal


@dataclass(frozen=True)
class ReplayState:
    """The cursor of a replay source. `pos` and `lines` count in reading order (see
    replay_file.py); `records` is the number of records consumed (the demo's progress,
    and all a cursor of an older version holds: then `pos` is None)."""

    records: int = 0
    pos: int | None = 0
    lines: int = 0
    fingerprint: int = 0
    order: Order | None = None  # None until the file shows its order (two records of different times)
    newest: datetime | None = None  # the newest post returned so far

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> ReplayState:
        state = cursor.state if cursor else {}
        records = int(state.get("offset", 0))
        if "pos" not in state:
            return cls(records=records, pos=None if records else 0)
        return cls(
            records=records,
            pos=int(state["pos"]),
            lines=int(state.get("line", 0)),
            fingerprint=int(state.get("crc", 0)),
            order=Order(state["order"]) if state.get("order") else None,
            newest=parse_timestamp(state["newest"]) if state.get("newest") else None,
        )

    def to_cursor(self) -> Cursor:
        state: dict[str, Any] = {"offset": self.records, "pos": self.pos or 0, "line": self.lines}
        state["crc"] = self.fingerprint
        if self.order is not None:
            state["order"] = self.order.value
        if self.newest is not None:
            state["newest"] = self.newest.isoformat()
        return Cursor(state)


class Progress(Protocol):
    def update(self, done: int, total: int) -> None: ...

    def close(self) -> None: ...


class TerminalProgress:
    """A rich progress bar of the bytes of an export read, for a long import on a
    terminal (`watcher poll --once` of a large file); nothing when stdout is not one."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._task: Any = None

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            if total < PROGRESS_BYTES or done >= total or not sys.stdout.isatty():
                return
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), transient=True
            )
            self._task = self._bar.add_task(self.label, total=total)
            self._bar.start()
        self._bar.update(self._task, completed=done, total=total)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


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
        progress: Progress | None = None,
    ) -> None:
        self.path = path
        self.source = source
        self.platform = platform
        self.batch_size = max(1, batch_size)
        self.drip = drip
        self.speed = speed
        self.replies_path = replies_path
        self.clock = clock
        self.progress = progress
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
            progress=TerminalProgress(f"reading {resolved.name}"),
        )

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()

    @contextmanager
    def _open(self) -> Iterator[ExportFile]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise SourceMisconfigured(f"cannot read {self.path}: {exc.strerror}; check the path option") from None
        with handle:
            yield ExportFile(self.path, handle, platform=self.platform, source=self.source)

    def _records(self) -> Iterator[LoadedRecord]:
        """Every record of the file in reading order (a whole pass, constant memory)."""
        with self._open() as export:
            for entry in export.entries(export.detect_order() or Order.OLDEST_FIRST, 0, 0):
                if entry.record is not None:
                    yield entry.record

    def total(self) -> int:
        """How many records the file holds (one pass over it)."""
        return sum(1 for _ in self._records())

    def time_span(self) -> tuple[datetime, datetime]:
        """The oldest and newest post times in the file (the demo paces its drip by them)."""
        first = last = None
        for record in self._records():
            if record.post is not None:
                at = record.post.created_at
                first, last = min(first or at, at), max(last or at, at)
        if first is None or last is None:
            raise SourceMisconfigured(f"{self.path} holds no readable posts")
        return first, last

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        with self._open() as export:
            return self._fetch(export, ReplayState.from_cursor(cursor))

    def _fetch(self, export: ExportFile, state: ReplayState) -> FetchResult:
        problems: list[str] = []
        if state.pos is None:  # a cursor of an older version: its count of records read
            state = self._skip(export, state.records)
        order = state.order or export.detect_order() or Order.OLDEST_FIRST
        pos = state.pos or 0
        if pos and (pos > export.layout.body or export.fingerprint(order, pos) != state.fingerprint):
            problems.append(
                f"{self.path} changed before the part already read (records added, removed or re-timed); "
                "reading it again from the start: posts already stored are skipped"
            )
            state = ReplayState()
            order = export.detect_order() or Order.OLDEST_FIRST
        posts: list[Post] = []
        late: list[LoadedRecord] = []  # records older than one read before them
        count, more, torn = 0, False, False
        lines, newest = state.lines, state.newest
        first_time = self._first_time(export, order) if self.drip else None
        pos = state.pos or 0
        for entry in export.entries(order, pos, lines):
            if entry.torn:
                torn = True
                problems.append(
                    f"{self.path}:{lines + 1}: the last line has no line end and is not a whole record yet "
                    "(the export is still being written?); it is read once it is complete"
                )
                break
            record = entry.record
            if record is not None:
                if count >= self.batch_size:
                    more = True
                    break
                if first_time is not None and record.post is not None and not self._due(record.post, first_time):
                    break
                count += 1
                if record.post is None:
                    problems.append(record.error)
                else:
                    if newest is not None and record.post.created_at < newest:
                        late.append(record)
                    newest = max(newest or record.post.created_at, record.post.created_at)
                    posts.append(record.post)
            pos += entry.size
            lines += entry.lines
        if late:
            problems.append(self._out_of_order(late, order))
        posts.sort(key=lambda p: p.created_at)  # a page is oldest -> newest even when the file is not
        # with the order not known yet (one record so far), the part read is at most a
        # window long, so its fingerprint holds for whichever order the file shows later
        new_state = ReplayState(
            records=state.records + count,
            pos=pos,
            lines=lines,
            fingerprint=export.fingerprint(order, pos),
            order=state.order or export.detect_order(),
            newest=newest,
        )
        if self.progress is not None:
            self.progress.update(pos, export.layout.body)
        return FetchResult(
            posts=tuple(posts),
            cursor=new_state.to_cursor(),
            has_more=more and not self.drip and not torn,
            requests_made=1 if count else 0,
            problems=tuple(problems),
        )

    def _skip(self, export: ExportFile, records: int) -> ReplayState:
        """Where a cursor of an older version (`records` consumed) stands in the file now."""
        detected = export.detect_order()
        order = detected or Order.OLDEST_FIRST
        pos = lines = seen = 0
        for entry in export.entries(order, 0, 0):
            if seen >= records and entry.record is not None:
                break
            if entry.torn:
                break
            seen += entry.record is not None
            pos, lines = pos + entry.size, lines + entry.lines
        return ReplayState(seen, pos, lines, export.fingerprint(order, pos), detected)

    def _out_of_order(self, late: list[LoadedRecord], order: Order) -> str:
        first = late[0]
        assert first.post is not None
        return (
            f"{self.path}:{first.line}: record {first.post.native_id} is older than a record read before it"
            + (f" ({len(late)} records in this batch)" if len(late) > 1 else "")
            + f"; the export is read {order.value}, so sort it by created_at: they are stored anyway, "
            "but an author's earlier posts may count after their later ones"
        )

    def _first_time(self, export: ExportFile, order: Order) -> datetime | None:
        """The time the drip counts from: the first readable post in reading order."""
        post = export.first_post(order)
        return post.created_at if post is not None else None

    def _due(self, post: Post, first: datetime) -> bool:
        """Whether `post` is due by now at the replay speed."""
        if self._started_at is None:
            self._started_at = self.clock()
        elapsed = (self.clock() - self._started_at) * self.speed
        return (post.created_at - first).total_seconds() <= elapsed

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
