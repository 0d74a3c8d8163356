"""One bad line of a replay export costs that line (a problem naming file and line),
never the file; a byte order mark on line 1 is no part of the first record."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.replay import ReplayConnector

RECORDS = [{"id": str(n), "text": f"post {n}", "created_at": f"2026-11-20T09:0{n}:00Z"} for n in range(3)]


def jsonl(records: list[dict[str, object]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")


def fetch(path: Path, data: bytes) -> tuple[list[str], tuple[str, ...]]:
    path.write_bytes(data)
    result = ReplayConnector(path).fetch(None)
    return [p.native_id for p in result.posts], result.problems


def test_a_bom_on_line_1_of_a_jsonl_export_is_skipped(tmp_path: Path) -> None:
    assert fetch(tmp_path / "e.jsonl", b"\xef\xbb\xbf" + jsonl(RECORDS)) == (["0", "1", "2"], ())


def test_a_bom_on_line_1_of_a_csv_export_is_skipped(tmp_path: Path) -> None:
    rows = "".join(f"{r['id']},{r['text']},{r['created_at']}\r\n" for r in RECORDS)
    data = b"\xef\xbb\xbf" + ("id,text,created_at\r\n" + rows).encode("utf-8")
    assert fetch(tmp_path / "e.csv", data) == (["0", "1", "2"], ())


def test_a_created_at_out_of_range_costs_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    records = [RECORDS[0], {**RECORDS[1], "created_at": 1e300}, RECORDS[2]]
    ids, problems = fetch(path, jsonl(records))
    assert ids == ["0", "2"]
    assert problems == (
        f"{path}:2: record 1: created_at: 1e+300 is out of range for epoch seconds (milliseconds? divide by 1000)",
    )


def test_a_byte_that_is_not_utf8_costs_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    lines = jsonl(RECORDS).splitlines(keepends=True)
    ids, problems = fetch(path, lines[0] + lines[1].replace(b"post", b"p\xffst") + lines[2])
    assert ids == ["0", "2"]
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2: not UTF-8")
