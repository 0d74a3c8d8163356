"""The replay connector streams its export: constant memory, newest-first exports read
from the bottom up, a record out of time order named, a half-written last line left
for later, and the read position in the cursor surviving a restart."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from connectors.replay import ReplayConnector
from tests.connectors.kit.contract import drain
from watcher.core.cursor import Cursor


def line(n: int, *, minute: int | None = None) -> str:
    at = minute if minute is not None else n
    return json.dumps(
        {
            "id": str(n),
            "text": f"post {n} " + "x" * 200,
            "created_at": f"2026-11-01T{9 + at // 60:02d}:{at % 60:02d}:00Z",
        }
    )


def ids(posts: object) -> list[str]:
    return [p.native_id for p in posts]  # type: ignore[attr-defined]


def test_a_fetch_holds_one_batch_not_the_file(tmp_path: Path) -> None:
    """The whole file was read into memory (issue #21: several GB for 1M lines)."""
    path = tmp_path / "big.jsonl"
    path.write_text("".join(line(n, minute=n % 600) + "\n" for n in range(20_000)), encoding="utf-8")
    connector = ReplayConnector(path, batch_size=50)
    tracemalloc.start()
    try:
        result = connector.fetch(None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.posts) == 50 and result.has_more
    assert peak < 2_000_000, peak  # the file is ~4.6 MB; its posts decoded would be far more


def test_a_newest_first_export_is_read_from_the_bottom_up_in_pages(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    rows = [line(n) for n in range(6)]
    rows.insert(3, "{broken")  # between records 3 and 2 of the newest-first file: line 4
    path.write_text("\n".join(reversed(rows)) + "\n", encoding="utf-8")
    got = drain(ReplayConnector(path, batch_size=2), None)
    assert ids(got.posts) == ["0", "1", "2", "3", "4", "5"]
    assert got.problems == [f"{path}:4: not valid JSON (Expecting property name enclosed in double quotes); "
                            "fix or remove the line"]  # fmt: skip


def test_a_record_appended_out_of_time_order_is_read_with_a_problem_line(tmp_path: Path) -> None:
    """Before, the whole file was sorted again and read from the start; now the late record
    is read where it is, once, and named."""
    path = tmp_path / "e.jsonl"
    path.write_text("".join(line(n, minute=10 + n) + "\n" for n in range(3)), encoding="utf-8")
    first = ReplayConnector(path).fetch(None)
    with path.open("a", encoding="utf-8") as out:
        out.write(line(9, minute=1) + "\n")
    late = ReplayConnector(path).fetch(first.cursor)
    assert ids(late.posts) == ["9"]
    assert len(late.problems) == 1 and late.problems[0].startswith(
        f"{path}:4: record 9 is older than a record read before it"
    )


def test_a_half_written_last_line_waits_until_it_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    whole = line(1)
    path.write_text(line(0) + "\n" + whole[:30], encoding="utf-8")
    connector = ReplayConnector(path)
    first = connector.fetch(None)
    assert ids(first.posts) == ["0"] and not first.has_more
    assert first.problems and "is not a whole record yet" in first.problems[0]
    path.write_text(line(0) + "\n" + whole + "\n", encoding="utf-8")
    second = connector.fetch(first.cursor)
    assert ids(second.posts) == ["1"] and second.problems == ()


def test_a_last_line_without_a_line_end_is_read_when_it_is_a_record(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(line(0) + "\n" + line(1), encoding="utf-8")
    assert ids(ReplayConnector(path).fetch(None).posts) == ["0", "1"]


def test_a_rewritten_export_of_the_same_size_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("".join(line(n) + "\n" for n in range(3)), encoding="utf-8")
    first = ReplayConnector(path).fetch(None)
    path.write_text("".join(line(n).replace("post", "PoSt") + "\n" for n in range(3)), encoding="utf-8")
    again = ReplayConnector(path).fetch(first.cursor)
    assert ids(again.posts) == ["0", "1", "2"] and "changed before the part already read" in again.problems[0]


def test_csv_rows_spanning_lines_resume_at_the_right_byte(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "id,text,created_at\n"
        '1,"two\nlines",2026-11-20T09:00:00Z\n'
        "2,plain,2026-11-20T09:01:00Z\n"
        "3,,2026-11-20T09:02:00Z\n"
        '4,"more\nlines",2026-11-20T09:03:00Z\n',
        encoding="utf-8",
    )
    first = ReplayConnector(path, batch_size=2).fetch(None)
    assert [p.text for p in first.posts] == ["two\nlines", "plain"] and first.has_more
    rest = drain(ReplayConnector(path, batch_size=2), first.cursor)
    assert ids(rest.posts) == ["4"]
    assert rest.problems == [f"{path}:5: record 3: missing required field 'text'"]


def test_progress_is_reported_in_bytes_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("".join(line(n) + "\n" for n in range(5)), encoding="utf-8")
    seen: list[tuple[int, int]] = []

    class Recorder:
        def update(self, done: int, total: int) -> None:
            seen.append((done, total))

        def close(self) -> None:
            seen.append((-1, -1))

    connector = ReplayConnector(path, batch_size=2, progress=Recorder())
    drain(connector, None)
    connector.close()
    size = path.stat().st_size
    assert [total for _, total in seen[:-1]] == [size] * 3
    assert [done for done, _ in seen] == sorted(done for done, _ in seen[:-1]) + [-1] and seen[-2][0] == size


def test_an_older_cursor_resumes_by_its_record_count(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("".join(line(n) + "\n" for n in range(4)), encoding="utf-8")
    resumed = ReplayConnector(path, batch_size=1).fetch(Cursor({"offset": 2, "consumed": 12345}))
    assert ids(resumed.posts) == ["2"] and resumed.cursor is not None and resumed.cursor.state["offset"] == 3
