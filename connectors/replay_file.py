"""An export file read as a stream, in constant memory: lines forward from a byte
position or backward from the end, the records on them with their line numbers, and a
fingerprint of the part already read (connectors/replay.py keeps it in the cursor).

Positions are counted in *reading order* over the body of the file (everything after
a CSV header): forward from the body's start for an oldest-first export, backward from
the file's end for a newest-first one. A newest-first export that grows at the top
keeps its read part at the end, so a position counted from the end stays true.
"""

from __future__ import annotations

import csv
import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from connectors.records import RecordError, record_to_post
from watcher.core.post import Post

BLOCK = 64 * 1024  # bytes read at a time walking backward
WINDOW = 64 * 1024  # bytes of each end of the read part that the fingerprint covers
PROBE = 1000  # lines looked at from each end to find the first and last readable record
BOM = b"\xef\xbb\xbf"

# json.loads without its wrapper (two more calls and two whitespace matches per line); a line
# the decoder does not take in full goes through json.loads, for json.loads' own error
_DECODER = json.JSONDecoder()


class Order(StrEnum):
    OLDEST_FIRST = "oldest-first"
    NEWEST_FIRST = "newest-first"


@dataclass(slots=True)
class LoadedRecord:
    line: int
    post: Post | None
    error: str = ""


@dataclass(frozen=True)
class Entry:
    """One step of reading: `size` bytes and `lines` physical lines, holding a record
    (None for a blank line). `torn`: the file's last line, without a line end, that is
    not a whole record yet (an export being written)."""

    size: int
    lines: int
    record: LoadedRecord | None
    torn: bool = False


@dataclass(frozen=True)
class Layout:
    """What reading needs to know of the file as it is now."""

    size: int
    body_start: int  # after the CSV header; 0 for JSONL
    header: tuple[str, ...]  # CSV column names
    header_bytes: bytes
    header_lines: int

    @property
    def body(self) -> int:
        return self.size - self.body_start


def _parse_json(text: str) -> Any:
    """json.loads(text) for a line already trimmed of JSON whitespace."""
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        return json.loads(text)  # raises json.loads' own error
    return value if end == len(text) else json.loads(text)


def _is_json(text: str) -> bool:
    try:
        _parse_json(text)
    except json.JSONDecodeError:
        return False
    return True


def _not_utf8(text: str) -> str:
    """What is wrong with text read with surrogateescape, or "" when it was all UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not UTF-8 (character {exc.start + 1} of the line); save the file as UTF-8"
    return ""


def _decode(data: bytes, at_start: bool) -> str:
    # a byte that is not UTF-8 costs its record, not the file: it is read as a lone
    # surrogate and that record is reported (see _not_utf8)
    return (data[len(BOM) :] if at_start and data.startswith(BOM) else data).decode("utf-8", "surrogateescape")


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


class ExportFile:
    """One open export (binary handle); reads entries from a reading-order position."""

    def __init__(self, path: Path, handle: BinaryIO, *, platform: str, source: str) -> None:
        self.path = path
        self.handle = handle
        self.platform = platform
        self.source = source
        self.is_csv = path.suffix.lower() == ".csv"
        self.layout = self._layout()
        self._total_lines: int | None = None

    def _layout(self) -> Layout:
        size = self.handle.seek(0, 2)
        if not self.is_csv:
            return Layout(size, 0, (), b"", 0)
        self.handle.seek(0)
        raw = b""
        lines = 0
        header: list[str] = []
        while not header:  # the first row that is not blank (as csv.DictReader does)
            line = self.handle.readline()
            if not line:
                break
            raw += line
            lines += 1
            header = next(csv.reader([_decode(line, lines == 1)]), [])
        return Layout(size, len(raw), tuple(header), raw, lines)

    # --- reading order <-> file offsets ---------------------------------------------
    def span(self, order: Order, start: int, end: int) -> tuple[int, int]:
        """File offsets of reading positions [start, end)."""
        if order is Order.OLDEST_FIRST:
            return self.layout.body_start + start, self.layout.body_start + end
        return self.layout.size - end, self.layout.size - start

    def fingerprint(self, order: Order, pos: int) -> int:
        """crc32 of the CSV header and of both ends of the part read (up to WINDOW bytes
        each): a replaced or rewritten export changes one of them; one that only grew
        past the part read does not."""
        crc = zlib.crc32(self.layout.header_bytes)
        for start, end in ((0, min(WINDOW, pos)), (max(0, pos - WINDOW), pos)):
            lo, hi = self.span(order, start, end)
            self.handle.seek(lo)
            crc = zlib.crc32(self.handle.read(hi - lo), crc)
        return crc

    def total_lines(self) -> int:
        """Physical lines in the file (to number lines read backward); counted once."""
        if self._total_lines is None:
            self.handle.seek(0)
            count, last = 0, b"\n"
            while block := self.handle.read(1 << 20):
                count += block.count(b"\n")
                last = block[-1:]
            self._total_lines = count + (last != b"\n")
        return self._total_lines

    # --- entries ------------------------------------------------------------------------
    def entries(self, order: Order, pos: int, lines_before: int) -> Iterator[Entry]:
        """Entries from reading position `pos`, `lines_before` lines having been read."""
        if order is Order.OLDEST_FIRST:
            if self.is_csv:
                return self._csv_forward(pos, lines_before)
            return self._jsonl_forward(pos, lines_before)
        return self._backward(pos, lines_before)

    def _lines_forward(self, pos: int) -> Iterator[tuple[int, bytes]]:
        """(file offset, line with its line end) from reading position `pos` to the end."""
        offset, end = self.span(Order.OLDEST_FIRST, pos, self.layout.body)
        while offset < end:
            self.handle.seek(offset)  # the handle is shared: a fingerprint may have moved it
            line = self.handle.readline(end - offset)  # never past the size read at the start
            if not line:
                return
            yield offset, line
            offset += len(line)

    def _lines_backward(self, pos: int) -> Iterator[tuple[int, bytes]]:
        """(file offset, line with its line end) from reading position `pos` back to the
        body's start; holds one block and the longest line at most."""
        low, end = self.layout.body_start, self.span(Order.NEWEST_FIRST, pos, pos)[0]
        buf, buf_start = b"", end  # buf == file[buf_start:end]
        while end > low:
            cut = buf.rfind(b"\n", 0, max(0, len(buf) - 1))  # the line end before this line
            while cut < 0 and buf_start > low:
                size = min(BLOCK, buf_start - low)
                buf_start -= size
                self.handle.seek(buf_start)
                buf = self.handle.read(size) + buf
                cut = buf.rfind(b"\n", 0, max(0, len(buf) - 1))
            start = buf_start + cut + 1 if cut >= 0 else low
            yield start, buf[start - buf_start :]
            buf, end = buf[: start - buf_start], start

    def _jsonl_forward(self, pos: int, lines_before: int) -> Iterator[Entry]:
        number = lines_before
        for offset, line in self._lines_forward(pos):
            number += 1
            # the last line without a line end may be a record still being written: a
            # line that is not yet JSON waits for the next fetch
            text = _decode(line, offset == 0).strip()
            if not line.endswith(b"\n") and text and not _is_json(text):
                yield Entry(len(line), 1, None, torn=True)
                return
            yield Entry(len(line), 1, self._jsonl_record(line, number, offset == 0))

    def _backward(self, pos: int, lines_before: int) -> Iterator[Entry]:
        total = self.total_lines()
        for k, (offset, line) in enumerate(self._lines_backward(pos)):
            number = total - lines_before - k
            if self.is_csv:
                record = self._csv_record(next(csv.reader([_decode(line, False)]), []), number)
            else:
                record = self._jsonl_record(line, number, offset == 0)
            yield Entry(len(line), 1, record)

    def _csv_forward(self, pos: int, lines_before: int) -> Iterator[Entry]:
        pulled: list[bytes] = []  # the lines of the row csv.reader is reading (it never reads ahead)

        def lines() -> Iterator[str]:
            for _, line in self._lines_forward(pos):
                pulled.append(line)
                yield _decode(line, False)

        number = self.layout.header_lines + lines_before
        for values in csv.reader(lines()):
            record = self._csv_record(values, number + 1)
            yield Entry(sum(map(len, pulled)), len(pulled), record)
            number += len(pulled)
            pulled.clear()

    def _jsonl_record(self, data: bytes, number: int, at_start: bool) -> LoadedRecord | None:
        path = self.path
        # the JSON text exactly: only JSON whitespace can surround an accepted object
        text = _decode(data, at_start).strip(" \t\n\r")
        if not text or text.isspace():  # a blank line (any Unicode whitespace)
            return None
        bad = _not_utf8(text)
        if bad:
            return LoadedRecord(number, None, f"{path}:{number}: {bad}")
        try:
            record = _parse_json(text)
        except json.JSONDecodeError as exc:
            return LoadedRecord(number, None, f"{path}:{number}: not valid JSON ({exc.msg}); fix or remove the line")
        if not isinstance(record, dict):
            return LoadedRecord(number, None, f"{path}:{number}: expected a JSON object per line")
        return _load(record, path, number, self.platform, self.source, json_text=text)

    def _csv_record(self, values: list[str], number: int) -> LoadedRecord | None:
        if not values:  # a blank row
            return None
        bad = next((_not_utf8(v) for v in values if _not_utf8(v)), "")
        if bad:
            return LoadedRecord(number, None, f"{self.path}:{number}: {bad}")
        row: dict[str, str | None] = dict.fromkeys(self.layout.header)  # short rows: None, as csv.DictReader
        row.update(zip(self.layout.header, values, strict=False))
        return _load(row, self.path, number, self.platform, self.source)

    # --- the file's order -------------------------------------------------------------
    def detect_order(self) -> Order | None:
        """Newest-first when the first readable record is newer than the last one,
        oldest-first when older; None when they tie (one record, or none yet)."""
        first = self.first_post(Order.OLDEST_FIRST)
        last = self.first_post(Order.NEWEST_FIRST)
        if first is None or last is None or first.created_at == last.created_at:
            return None
        return Order.NEWEST_FIRST if first.created_at > last.created_at else Order.OLDEST_FIRST

    def first_post(self, order: Order) -> Post | None:
        """The first readable post in `order`, among the first PROBE lines."""
        if order is Order.OLDEST_FIRST:
            lines: Iterator[tuple[int, bytes]] = self._lines_forward(0)
        else:
            lines = self._lines_backward(0)
        for n, (offset, line) in enumerate(lines):
            if n >= PROBE:
                return None
            if self.is_csv:
                record = self._csv_record(next(csv.reader([_decode(line, False)]), []), 0)
            else:
                record = self._jsonl_record(line, 0, offset == 0)
            if record is not None and record.post is not None:
                return record.post
        return None
