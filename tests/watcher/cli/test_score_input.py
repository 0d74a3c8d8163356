"""`watcher score` on awkward input: every line is answered in its place (a bad one with
an error line naming its number), nothing of the batch is lost, and every output line
is valid JSON. Run through the real command (CliRunner, and once as a process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from watcher.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
GOOD = {"id": "g", "text": "your app is broken, I need help"}


def strict_json(line: str) -> Any:
    """json.loads that refuses NaN and Infinity, which are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in the output")

    return json.loads(line, parse_constant=refuse)


def run_score(tmp_path: Path, data: bytes, *, as_file: bool = False) -> Result:
    args = ["--config", str(tmp_path / "none.toml"), "score"]
    if as_file:
        source = tmp_path / "in.jsonl"
        source.write_bytes(data)
        return CliRunner().invoke(cli, [*args, str(source)])
    return CliRunner().invoke(cli, [*args, "-"], input=data)


def lines_of(*records: Any) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def outputs(result: Result) -> list[dict[str, Any]]:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return [strict_json(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("as_file", [False, True])
def test_a_line_that_is_not_utf8_is_an_error_line_and_the_rest_is_scored(tmp_path: Path, as_file: bool) -> None:
    data = lines_of({**GOOD, "id": "a"}, b'{"id": "x", "text": "caf\xe9 broken"}', {**GOOD, "id": "b"})
    result = run_score(tmp_path, data, as_file=as_file)
    out = outputs(result)
    assert result.exit_code == 1
    assert [o["id"] for o in out] == ["a", "x", "b"]
    assert out[1]["line"] == 2 and out[1]["error"] == "line 2: not UTF-8 (byte 25 of the line); save the file as UTF-8"
    assert "score" in out[0] and "score" in out[2]
    assert "1 line(s) could not be scored" in result.stderr


def test_a_byte_order_mark_on_line_1_is_skipped(tmp_path: Path) -> None:
    result = run_score(tmp_path, b"\xef\xbb\xbf" + lines_of({**GOOD, "id": "a"}, {**GOOD, "id": "b"}))
    out = outputs(result)
    assert result.exit_code == 0, result.output
    assert [o["id"] for o in out] == ["a", "b"] and all("score" in o for o in out)


@pytest.mark.parametrize(
    ("author", "error"),
    [
        ({"handle": "a", "followers": "many"}, "author.followers must be a whole number from 0 to"),
        ({"handle": "a", "followers": "1,000"}, "got '1,000'"),
        ({"handle": "a", "followers": [1]}, "got [1]"),
        ({"handle": "a", "followers": -5}, "got -5"),
        ({"handle": "a", "followers": True}, "got True"),
        ({"handle": "a", "followers": 1.5}, "got 1.5"),
        ({"handle": "a", "verified": "maybe"}, "author.verified must be true or false, got 'maybe'"),
        ({"handle": ["a"]}, "author.handle must be a string or a whole number, got ['a']"),
        (["a", "list"], "author must be a string or a whole number"),
    ],
)
def test_author_fields_of_the_wrong_type_are_that_lines_error(tmp_path: Path, author: Any, error: str) -> None:
    data = lines_of({**GOOD, "id": "a"}, {**GOOD, "id": "x", "author": author}, {**GOOD, "id": "b"})
    result = run_score(tmp_path, data)
    out = outputs(result)
    assert result.exit_code == 1
    assert [o["id"] for o in out] == ["a", "x", "b"]
    assert out[1]["line"] == 2 and error in out[1]["error"], out[1]
    assert "score" in out[0] and "score" in out[2]


def test_followers_overflowing_to_infinity_is_an_error_line(tmp_path: Path) -> None:
    data = lines_of({**GOOD, "id": "a"}, b'{"id": "x", "text": "help", "author": {"followers": 1e400}}')
    out = outputs(run_score(tmp_path, data))
    assert [o["id"] for o in out] == ["a", "x"]
    assert "author.followers must be a whole number" in out[1]["error"] and "got inf" in out[1]["error"]


def test_follower_counts_written_as_numbers_or_digit_strings_are_read(tmp_path: Path) -> None:
    counts: list[Any] = [1000, 1000.0, "1000", " 1000 ", 0, None]
    data = lines_of(*({**GOOD, "id": str(i), "author": {"handle": "a", "followers": c}} for i, c in enumerate(counts)))
    result = run_score(tmp_path, data)
    out = outputs(result)
    assert result.exit_code == 0, result.output
    assert len(out) == len(counts) and all("score" in o for o in out)


@pytest.mark.parametrize(
    ("created_at", "error"),
    [
        ([1], 'created_at must be a time like "2026-11-20T10:00:00Z" or epoch seconds, got [1]'),
        ({"t": 1}, "created_at must be a time like"),
        (True, "created_at must be a time like"),
        (1e20, "created_at: 1e+20 is out of range for epoch seconds"),
        (1763632800000, "is out of range for epoch seconds (milliseconds? divide by 1000)"),
        ("yesterday", "created_at: Invalid isoformat string"),
        ("0001-01-01T00:00:00+14:00", "created_at: '0001-01-01T00:00:00+14:00' is out of range"),
    ],
)
def test_created_at_of_the_wrong_type_or_range_is_that_lines_error(tmp_path: Path, created_at: Any, error: str) -> None:
    data = lines_of({**GOOD, "id": "a"}, {**GOOD, "id": "x", "created_at": created_at}, {**GOOD, "id": "b"})
    out = outputs(run_score(tmp_path, data))
    assert [o["id"] for o in out] == ["a", "x", "b"]
    assert error in out[1]["error"], out[1]


def test_platform_and_lang_hint_must_be_strings(tmp_path: Path) -> None:
    data = lines_of({**GOOD, "id": "p", "platform": ["x"]}, {**GOOD, "id": "l", "lang_hint": ["en"]})
    out = outputs(run_score(tmp_path, data))
    assert out[0]["error"] == "line 1: platform must be a string, got ['x']"
    assert out[1]["error"] == "line 2: lang_hint must be a string, got ['en']"


def test_a_lone_surrogate_in_the_id_is_echoed_as_valid_json(tmp_path: Path) -> None:
    data = lines_of({**GOOD, "id": "a"}, b'{"id": "\\ud800", "text": "broken help"}', {**GOOD, "id": "é"})
    result = run_score(tmp_path, data)
    out = outputs(result)
    assert result.exit_code == 0, result.output
    assert [o["id"] for o in out] == ["a", "\ud800", "é"]
    assert "\\ud800" in result.stdout.splitlines()[1]
    assert '"id": "é"' in result.stdout.splitlines()[2]  # other text is not escaped


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_rejected_and_never_echoed(tmp_path: Path, constant: bytes) -> None:
    data = lines_of(
        {**GOOD, "id": "a"},
        b'{"id": ' + constant + b', "text": "x"}',
        b'{"id": "n", "text": "x", "extra": ' + constant + b"}",
    )
    result = run_score(tmp_path, data)
    out = outputs(result)  # strict: a NaN in the output would fail here
    assert result.exit_code == 1
    assert [o.get("line") for o in out] == [None, 2, 3]
    assert out[1]["id"] is None and constant.decode() + " is not valid JSON" in out[1]["error"]


@pytest.mark.parametrize("ident", [[1], {"a": 1}, 1.5, True])
def test_an_id_that_is_not_a_string_or_whole_number_is_an_error(tmp_path: Path, ident: Any) -> None:
    out = outputs(run_score(tmp_path, lines_of({**GOOD, "id": ident})))
    assert out == [{"id": None, "line": 1, "error": out[0]["error"]}]
    assert "id must be a string or a whole number" in out[0]["error"]


def test_blank_lines_are_skipped_and_line_numbers_still_count_them(tmp_path: Path) -> None:
    data = lines_of({**GOOD, "id": "a"}, b"", b"   \r", b"{oops", {**GOOD, "id": "b"})
    result = run_score(tmp_path, data)
    out = outputs(result)
    assert [o["id"] for o in out] == ["a", None, "b"]
    assert out[1]["line"] == 4


def test_deeply_nested_or_huge_numbers_are_error_lines(tmp_path: Path) -> None:
    data = lines_of(b"[" * 100_000, b'{"id": 1' + b"0" * 5000 + b', "text": "x"}', {**GOOD, "id": "b"})
    out = outputs(run_score(tmp_path, data))
    assert out[0]["error"] == "line 1: not valid JSON (nested too deeply)"
    assert out[1]["error"] == "line 2: not valid JSON (a number too long to read)"
    assert out[2]["id"] == "b" and "score" in out[2]


def test_bad_lines_spread_over_several_batches_lose_nothing(tmp_path: Path) -> None:
    bad: list[bytes] = [
        b'{"id": "x", "text": "caf\xe9"}',
        json.dumps({"id": "x", "text": "t", "author": {"followers": "many"}}).encode(),
        json.dumps({"id": "x", "text": "t", "created_at": [1]}).encode(),
        b'{"id": NaN, "text": "t"}',
    ]
    records: list[Any] = []
    for i in range(250):
        records.append(bad[i % len(bad)] if i % 7 == 3 else {"id": f"p{i}", "text": f"post {i}: is the app down?"})
    result = run_score(tmp_path, lines_of(*records))
    out = outputs(result)
    assert len(out) == 250
    for i, o in enumerate(out):
        if i % 7 == 3:
            assert o["line"] == i + 1 and o["error"].startswith(f"line {i + 1}: ")
        else:
            assert o["id"] == f"p{i}" and "score" in o
    assert f"{sum(i % 7 == 3 for i in range(250))} line(s) could not be scored" in result.stderr


@pytest.mark.slow
def test_the_installed_command_answers_bad_bytes_with_exit_1_not_70(tmp_path: Path) -> None:
    """As a process, through main(): the real stdin/stdout, and a stdout that can only
    write ASCII (a non-UTF-8 locale) still gets valid JSON, escaped."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(lines_of({**GOOD, "id": "é"}, b'{"id": "x", "text": "caf\xe9"}', {**GOOD, "id": "\ud83d"}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii", "WATCHER_CONFIG": str(tmp_path / "n")}
    done = subprocess.run(
        [sys.executable, "-c", "from watcher.cli.main import main; main()", "score", str(source)],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1, stderr
    assert "bug in the watcher" not in stderr
    out = [strict_json(line) for line in done.stdout.decode("ascii").splitlines()]
    assert [o["id"] for o in out] == ["é", "x", "\ud83d"]
    assert out[1]["error"].startswith("line 2: not UTF-8")


def test_lines_ending_in_a_lone_cr_are_separate_lines(tmp_path: Path) -> None:
    """Old Mac files end lines with CR alone; text mode read them as lines, and so does this."""
    path = tmp_path / "mac.jsonl"
    path.write_bytes(b'{"id": "a", "text": "thanks!"}\r{"id": "b", "text": "my card was charged twice"}\r\r')
    result = CliRunner().invoke(cli, ["score", str(path)])
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["a", "b"]
