"""`watcher score`: JSONL posts in, one JSONL triage line out per input line. Each
line is mapped by connectors/records.py, the mapper the replay connector uses."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import click

from connectors.records import RecordError, record_to_post
from watcher.cli.context import AppContext, pass_app
from watcher.cli.errors import err, friendly_errors
from watcher.core.post import Post, utc_now
from watcher.core.vocab import MARKET_LANGUAGES

if TYPE_CHECKING:  # the engine (numpy, sklearn) is imported when a line is scored, not for --help
    from rules.triage import Triage, TriageContext, Triager

UTF8_BOM = b"\xef\xbb\xbf"  # what Notepad and Excel put at the start of a "UTF-8" file
SCORE_BATCH = 100  # lines triaged at once (the engine is several times faster per post on a batch)


def post_from_score_line(record: Any) -> Post:
    """A `watcher score` input object -> Post (id and text required; created_at now
    when absent), or RecordError naming the field."""
    return record_to_post(record, default_time=utc_now())


def _reject_constant(name: str) -> Any:
    """json.loads takes NaN and Infinity by default; they are not JSON and no id or count."""
    raise RecordError(f"{name} is not valid JSON; write a number or a string")


def _echoed_id(value: Any) -> Any:
    """The id an output line echoes: as given when it is a string or a whole number,
    else null (a list or 1.5 is no id, and NaN would not even be JSON)."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _id_despite_bad_bytes(raw: bytes) -> Any:
    """The id of a line that is not UTF-8 (its bad bytes read as U+FFFD), so its error
    line can still be matched to the post; None when the line is no JSON object."""
    try:
        record = json.loads(raw.decode("utf-8", errors="replace"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    return _echoed_id(record.get("id")) if isinstance(record, dict) else None


def parse_score_line(raw: bytes, number: int) -> tuple[Any, Post | str | None]:
    """One raw input line -> (the id to echo, its post or the reason it cannot be scored);
    None for a blank line. Line 1 may start with a UTF-8 byte order mark."""
    if number == 1 and raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM) :]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _id_despite_bad_bytes(raw), f"not UTF-8 (byte {exc.start + 1} of the line); save the file as UTF-8"
    if not line.strip():
        return None, None
    try:
        record = json.loads(line, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at column {exc.colno})"
    except RecordError as exc:
        return None, str(exc)
    except ValueError:  # Python reads whole numbers of at most 4300 digits
        return None, "not valid JSON (a number too long to read)"
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"
    ident = _echoed_id(record.get("id")) if isinstance(record, dict) else None
    try:
        return ident, post_from_score_line(record)
    except RecordError as exc:
        return ident, str(exc)


def json_line(value: Any, *, encoding: str = "utf-8") -> str:
    """`value` as one line of valid JSON that `encoding` can write. Non-ASCII text goes
    out as is, unless the stream cannot carry it: a lone surrogate (an id like "\\ud800"
    from a cut emoji) is valid in JSON only as an escape, so is é on an ASCII stream."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if not text.isascii():
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            text = json.dumps(value, allow_nan=False)
    return text + "\n"


def score_lines(
    lines: Iterator[bytes], *, triager: Triager, context: TriageContext, out: TextIO, batch: int = SCORE_BATCH
) -> int:
    """Score JSONL lines to JSONL, one output line per non-blank input line, in order.
    Returns the error count. Lines are read `batch` at a time and triaged together; a
    bad line (not UTF-8, not JSON, a field of the wrong type) is answered in its place."""
    errors = 0
    encoding = getattr(out, "encoding", None) or "utf-8"
    # each pending entry: (line number, id, the post to score or the error for that line)
    pending: list[tuple[int, Any, Post | str]] = []

    def flush() -> None:
        posts = [entry for _, _, entry in pending if isinstance(entry, Post)]
        results = iter(triager.triage_many(posts, [context] * len(posts)))
        for number, ident, entry in pending:
            if isinstance(entry, str):
                out.write(
                    json_line({"id": ident, "line": number, "error": f"line {number}: {entry}"}, encoding=encoding)
                )
            else:
                out.write(json_line(_score_output(ident, next(results)), encoding=encoding))
        out.flush()
        pending.clear()

    for number, raw in enumerate(lines, start=1):
        ident, entry = parse_score_line(raw, number)
        if entry is None:
            continue  # a blank line: nothing to score, nothing to answer
        if isinstance(entry, str):
            errors += 1
        pending.append((number, ident, entry))
        if len(pending) >= batch:
            flush()
    flush()
    return errors


def _score_output(ident: Any, result: Triage) -> dict[str, Any]:
    return {
        "id": ident,
        "score": result.score,
        "needs_reply": result.needs_reply,
        "priority": result.priority,
        "sentiment": round(result.sentiment, 4),
        "sentiment_label": result.sentiment_label,
        "lang": result.lang,
        "intents": list(result.intents),
        "reasons": list(result.reasons),
    }


def _lines(source: BinaryIO) -> Iterator[bytes]:
    """The lines of a byte stream ending in LF, CRLF or a lone CR (old Mac files), as text
    mode would split them; a CR cannot occur inside a JSON line (strings escape it)."""
    for chunk in source:
        if b"\r" in chunk:
            yield from (piece + b"\n" for piece in chunk.splitlines())
        else:
            yield chunk


@click.command()
@click.argument("source", type=click.File("rb"), default="-")
@pass_app
@friendly_errors
def score(app: AppContext, source: BinaryIO) -> None:
    """Score posts: JSONL in (FILE or - for stdin), JSONL out, one line per input line.

    Input lines need "id" and "text" and may carry "platform", "author", "created_at"
    and "lang_hint". A bad line (not UTF-8, not JSON, a field of the wrong type) gets an
    error line naming its number; the rest still go through, in order, and the exit
    code is 1 if any line failed. Blank lines are skipped.
    """
    from rules.triage import TriageContext, Triager
    from watcher.core.settings import BrandConfig

    if app.has_config():
        config = app.config()
        triager, context = Triager.from_config(config), TriageContext(brand=config.brand, thresholds=config.triage)
    else:  # no config: the shipped rules and model, every language the watcher knows
        triager, context = Triager(), TriageContext(brand=BrandConfig(name="brand", languages=MARKET_LANGUAGES))
    # typed at a terminal: answer each line as it comes rather than a batch at a time
    batch = 1 if source.isatty() else SCORE_BATCH
    errors = score_lines(_lines(source), triager=triager, context=context, out=sys.stdout, batch=batch)
    if errors:
        err.print(f"{errors} line(s) could not be scored; see the error lines in the output")
        raise SystemExit(1)
