from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import AuthFailed, FetchResult, RateLimited, SourceUnavailable
from connectors.replay import ReplayConnector
from tests.conftest import BRAND, T0, Clock, make_post
from watcher.config import Config, parse_config
from watcher.core.cursor import Cursor
from watcher.core.post import Post
from watcher.ingest.pipeline import IngestReport, Pipeline
from watcher.ingest.poller import Poller
from watcher.store import Store


def batch(*posts: Post, cursor: dict | None = None) -> FetchResult:
    return FetchResult(posts=posts, cursor=Cursor(cursor or {"n": len(posts)}))


def test_posts_are_stored_triaged_and_queued_with_a_card(store: Store, config: Config) -> None:
    report = Pipeline(store, config, clock=lambda: T0).ingest(
        "x",
        batch(
            make_post("My card reader caught fire and burned my hand", native_id="1"),
            make_post("love the new app design", native_id="2", handle="bo"),
        ),
    )
    assert (report.stored, report.queued) == (2, 1)
    rows = store.items.queue_rows()
    assert [r.item.post_key for r in rows] == ["x:1"]
    assert rows[0].item.priority == "urgent"
    assert store.outbox.due_outbox(now=T0)[0].dedupe_key == "card:x:1"
    assert store.sources.get_cursor("x") == Cursor({"n": 2})


def test_same_post_fetched_again_is_not_stored_or_alerted_twice(store: Store, config: Config) -> None:
    pipeline = Pipeline(store, config, clock=lambda: T0)
    post = make_post("app down, can't log in", native_id="9")
    pipeline.ingest("x", batch(post))
    again = pipeline.ingest("x", batch(post, post))
    assert (again.stored, again.already_known, again.queued) == (0, 2, 0)
    assert store.items.count_items() == 1 and len(store.outbox.due_outbox(now=T0)) == 1


@pytest.mark.parametrize(
    ("second_text", "minutes", "collapsed"),
    [
        ("MY CARD WAS DECLINED twice, help??? 😡", 3, True),  # case, punctuation, emoji
        ("my   card was declined twice help https://t.co/x1", 60, True),  # spaces, a link
        ("my card was declined twice, help?", 60 * 30, False),  # outside the 24 h window
        ("my card was declined three times, help?", 3, False),  # different words
    ],
)
def test_same_author_same_words_collapse_into_one_item(
    store: Store, config: Config, second_text: str, minutes: int, collapsed: bool
) -> None:
    pipeline = Pipeline(store, config, clock=lambda: T0)
    pipeline.ingest("x", batch(make_post("my card was declined twice, help?", native_id="1")))
    report = pipeline.ingest("x", batch(make_post(second_text, native_id="2", minutes=minutes)))
    assert report.collapsed == int(collapsed)
    item = store.items.item_for_post("x:1")
    assert item is not None and item.repeat_count == int(collapsed)
    assert (store.items.item_for_post("x:2") is None) == collapsed


def test_near_duplicates_inside_one_batch_collapse(store: Store, config: Config) -> None:
    report = Pipeline(store, config, clock=lambda: T0).ingest(
        "x",
        batch(
            make_post("charged twice, refund please!", native_id="1"),
            make_post("Charged twice refund please", native_id="2", minutes=1),
        ),
    )
    assert (report.stored, report.collapsed, report.queued) == (2, 1, 1)


def test_own_posts_and_reposts_are_dropped_unless_configured(make_config: Callable[..., Config]) -> None:
    own = make_post("We are looking into it", native_id="1")
    own = replace(own, author=replace(own.author, id="900000001"))
    repost = make_post("RT @someone: app down?", native_id="2", is_repost=True)
    flagged = make_post("our status page", native_id="3", is_own=True)
    config = make_config()
    with Store(Path(config.storage.path)) as db:
        report = Pipeline(db, config, clock=lambda: T0).ingest("x", batch(own, repost, flagged))
        assert (report.dropped_own, report.dropped_reposts, report.stored) == (2, 1, 0)
    keep_all = make_config(
        pipeline={"drop_own_posts": False, "drop_reposts": False},
        storage={"path": str(Path(config.storage.path).with_name("all.db"))},
    )
    with Store(Path(keep_all.storage.path)) as db:
        report = Pipeline(db, keep_all, clock=lambda: T0).ingest("x", batch(own, repost, flagged))
        assert report.stored == 3


def test_a_customer_writing_again_is_ranked_with_their_history(store: Store, config: Config) -> None:
    pipeline = Pipeline(store, config, clock=lambda: T0)
    first = pipeline.ingest("x", batch(make_post("where is my parcel?", native_id="1", handle="cy")))
    second = pipeline.ingest(
        "x", batch(make_post("still no parcel, 2 days now", native_id="2", handle="cy", minutes=60 * 24))
    )
    assert first.queued == 1 and second.queued == 1
    triage = store.posts.post_triage("x:2")
    assert triage is not None and any("2nd message in 5 days" in r for r in triage.reasons)


def test_nothing_is_kept_when_the_transaction_fails(store: Store, config: Config) -> None:
    def explode(_: IngestReport) -> None:
        raise RuntimeError("disk full")

    pipeline = Pipeline(store, config, clock=lambda: T0, before_commit=explode)
    with pytest.raises(RuntimeError):
        pipeline.ingest("x", batch(make_post("help!!", native_id="1"), cursor={"since": "1"}))
    assert store.posts.count_posts() == 0 and store.sources.get_cursor("x") is None and store.items.count_items() == 0


# --- a real crash: a child process killed between fetch and commit ---------------------------


def _write_export(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            text = f"order {n} never arrived, where is it?" if n % 3 else f"thanks for the quick fix #{n}"
            if n % 10 == 5:
                text = f"order {n - 1} never arrived, where is it?"  # a near-duplicate of the previous author
            author = f"user{n // 2}"
            out.write(
                json.dumps(
                    {
                        "id": str(n),
                        "platform": "x",
                        "text": text,
                        "author": {"id": author, "handle": author},
                        "created_at": (T0 + timedelta(minutes=n)).isoformat(),
                    }
                )
                + "\n"
            )


def _config_for(tmp: Path, export: Path) -> Config:
    return parse_config(
        {
            "brand": BRAND,
            "storage": {"path": str(tmp / "w.db")},
            "sources": {"hist": {"kind": "replay", "path": str(export), "batch_size": 7}},
        },
        file=str(tmp / "c.toml"),
    )


def _crash_on_batch(tmp: str, export: str, crash_at: int) -> None:
    """Child process: ingest until the `crash_at`-th batch, then die by SIGKILL inside its transaction."""
    config = _config_for(Path(tmp), Path(export))
    batches = {"n": 0}

    def maybe_die(_: IngestReport) -> None:
        batches["n"] += 1
        if batches["n"] == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    store = Store(config.storage.path)
    pipeline = Pipeline(store, config, before_commit=maybe_die)
    Poller(config.sources[0], ReplayConnector.from_config(config.sources[0], {}), pipeline, max_pages=100).poll()


def _snapshot(db_path: Path) -> dict:
    with Store(db_path) as db:
        return {
            "posts": sorted(r[0] for r in db.db.execute("SELECT key || duplicate_of FROM posts").fetchall() if r[0])
            + sorted(r[0] for r in db.db.execute("SELECT key FROM posts")),
            "items": sorted(r[0] for r in db.db.execute("SELECT post_key || ':' || repeat_count FROM queue_items")),
            "outbox": sorted(r[0] for r in db.db.execute("SELECT dedupe_key FROM outbox")),
            "cursor": db.sources.get_cursor("hist"),
        }


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", [1, 3, 5])
def test_a_crash_mid_batch_re_fetches_and_ends_exactly_like_a_clean_run(tmp_path: Path, crash_at: int) -> None:
    export = tmp_path / "export.jsonl"
    _write_export(export, 40)
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    clean_dir.mkdir()
    crash_dir.mkdir()
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_crash_on_batch, args=(str(crash_dir), str(export), crash_at))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    for folder in (clean_dir, crash_dir):  # restart (or first start) and run to the end
        config = _config_for(folder, export)
        with Store(config.storage.path) as db:
            outcome = Poller(
                config.sources[0],
                ReplayConnector.from_config(config.sources[0], {}),
                Pipeline(db, config),
                max_pages=100,
            ).poll()
            assert outcome.status == "ok"
    clean, crashed = _snapshot(clean_dir / "w.db"), _snapshot(crash_dir / "w.db")
    assert crashed == clean
    assert len(set(clean["outbox"])) == len(clean["outbox"]) > 0
    assert clean["cursor"].state["offset"] == 40


# --- the poller: back-off, rate limits, health ----------------------------------------------------


@dataclass
class ScriptedConnector:
    """A connector whose fetch answers come from a script (errors or results)."""

    name = "scripted"
    script: list[object]
    calls: int = 0
    cursors: list[Cursor | None] = field(default_factory=list)

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        self.calls += 1
        self.cursors.append(cursor)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, FetchResult)
        return step


def _poller(store: Store, config: Config, connector: ScriptedConnector, clock: Clock) -> Poller:
    config = replace(config, sources=(parse_config({"brand": BRAND, "sources": {"s": {"kind": "replay"}}}).sources))
    return Poller(config.sources[0], connector, Pipeline(store, config, clock=clock), max_backoff_seconds=3600)  # type: ignore[arg-type]


def test_rate_limit_window_is_persisted_and_no_request_is_made_before_it_ends(tmp_path: Path, config: Config) -> None:
    clock = Clock()
    connector = ScriptedConnector(
        [RateLimited("429", until=T0 + timedelta(minutes=15), endpoint="search"), batch(make_post(native_id="r1"))]
    )
    with Store(tmp_path / "r.db") as db:
        assert _poller(db, config, connector, clock).poll().status == "rate_limited"
    clock.now = T0 + timedelta(minutes=14)
    with Store(tmp_path / "r.db") as db:  # a restart keeps the window
        outcome = _poller(db, config, connector, clock).poll()
        assert (outcome.status, outcome.requests, connector.calls) == ("skipped", 0, 1)
        clock.now = T0 + timedelta(minutes=15, seconds=1)
        assert _poller(db, config, connector, clock).poll().status == "ok"
        assert db.posts.count_posts() == 1


def test_a_failing_source_backs_off_exponentially(store: Store, config: Config) -> None:
    clock = Clock()
    connector = ScriptedConnector([SourceUnavailable("503") for _ in range(4)])
    poller = _poller(store, config, connector, clock)
    waits = []
    for _ in range(4):
        outcome = poller.poll()
        assert outcome.status == "failed" and outcome.next_attempt_at is not None
        waits.append((outcome.next_attempt_at - clock.now).total_seconds())
        clock.now = outcome.next_attempt_at
    assert waits[0] < waits[1] < waits[2] <= 3600 * 1.2
    assert connector.calls == 4


def test_an_unexpected_error_backs_the_source_off_with_a_message_and_keeps_what_was_stored(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug or a payload nobody foresaw must not retry every interval with a traceback while
    `watcher check` says healthy: it is a failed poll like any other, with back-off."""
    clock = Clock()
    page = FetchResult((make_post(native_id="u1"),), Cursor({"page": 1}), has_more=True, requests_made=1)
    connector = ScriptedConnector([page, TypeError("'NoneType' object is not subscriptable"), batch()])
    with caplog.at_level(logging.ERROR, logger="watcher.ingest.poller"):
        outcome = _poller(store, config, connector, clock).poll()
    assert outcome.status == "failed" and outcome.next_attempt_at is not None and outcome.next_attempt_at > T0
    assert outcome.report.stored == 1 and store.sources.get_cursor("s") == Cursor({"page": 1})  # the first page is kept
    state = store.sources.source_state("s")
    assert state.failures == 1 and state.backoff_until == outcome.next_attempt_at
    assert state.message == (
        "unexpected TypeError ('NoneType' object is not subscriptable) while fetching with the replay connector "
        "(a bug or a payload it does not expect: please report it); the log has the traceback"
    )
    assert "Traceback" in caplog.text
    assert _poller(store, config, connector, clock).poll().status == "skipped"  # backing off, no request
    clock.now = outcome.next_attempt_at
    assert _poller(store, config, connector, clock).poll().status == "ok"
    assert connector.cursors[-1] == Cursor({"page": 1}) and store.sources.source_state("s").failures == 0


def test_an_unexpected_error_while_storing_says_so_rather_than_blaming_the_connector(
    store: Store, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    poller = _poller(store, config, ScriptedConnector([batch(make_post(native_id="s1"))]), clock)

    def locked(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store.posts, "insert_posts", locked)
    outcome = poller.poll()
    assert outcome.status == "failed"
    assert outcome.message == (
        "unexpected OperationalError (database is locked) while storing what was fetched; the log has the traceback"
    )
    assert store.sources.get_cursor("s") is None  # nothing stored, so the next poll fetches the same page


def test_a_problem_line_names_its_source_once_in_the_log(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = Pipeline(store, config, clock=lambda: T0)
    with caplog.at_level(logging.WARNING, logger="watcher.ingest.pipeline"):
        pipeline.ingest("m", FetchResult((), None, problems=("m: skipped 12: no id", "e.jsonl:3: not valid JSON")))
    assert [r.getMessage() for r in caplog.records] == ["m: skipped 12: no id", "source m: e.jsonl:3: not valid JSON"]


def test_bad_credentials_mark_the_source_unhealthy_with_the_message(store: Store, config: Config) -> None:
    clock = Clock()
    poller = _poller(store, config, ScriptedConnector([AuthFailed("401: check X_BEARER_TOKEN")]), clock)
    outcome = poller.poll()
    assert outcome.status == "unhealthy"
    state = store.sources.source_state("s")
    assert state.healthy is False and "X_BEARER_TOKEN" in state.message


def test_pages_are_fetched_until_caught_up_each_in_its_own_transaction(store: Store, config: Config) -> None:
    clock = Clock()
    pages = [
        FetchResult((make_post(native_id="p1"),), Cursor({"page": 1}), has_more=True, requests_made=1),
        FetchResult((make_post(native_id="p2", handle="zed"),), Cursor({"page": 2}), has_more=False, requests_made=1),
    ]
    connector = ScriptedConnector(list(pages))
    outcome = _poller(store, config, connector, clock).poll()
    assert (outcome.status, outcome.requests, outcome.report.stored) == ("ok", 2, 2)
    assert connector.cursors == [None, Cursor({"page": 1})]
    assert store.sources.get_cursor("s") == Cursor({"page": 2})


def test_a_reply_the_brand_made_on_the_platform_closes_the_item(store: Store, config: Config) -> None:
    pipeline = Pipeline(store, config, clock=lambda: T0)
    pipeline.ingest("x", batch(make_post("my card was charged twice, help!", native_id="10")))
    reply = make_post(
        "Sorry! Refund is on its way.",
        native_id="11",
        handle="LumoBank",
        minutes=5,
        parent_id="10",
        url="https://x.com/LumoBank/status/11",
    )
    reply = replace(reply, author=replace(reply.author, id="900000001"))
    other = make_post("where is my parcel?", native_id="12", handle="cy")
    report = pipeline.ingest("x", batch(other, reply))
    assert report.answered_natively == 1 and report.dropped_own == 1
    item = store.items.item_for_post("x:10")
    assert item is not None and item.state == "answered_elsewhere"
    assert item.reply_url == "https://x.com/LumoBank/status/11"
    assert store.items.events_for_item(item.id)[-1]["actor"] == "@LumoBank"
    assert store.items.item_for_post("x:12").state == "new"
    again = pipeline.ingest("x", batch(replace(reply, native_id="13")))
    assert again.answered_natively == 0  # already closed: no second event


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (SourceUnavailable("503 from the API"), "failed"),
        (AuthFailed("401: check X_BEARER_TOKEN"), "unhealthy"),
        (TypeError("a payload nobody foresaw"), "failed"),
        (RateLimited("429", until=T0 + timedelta(minutes=15), endpoint="search"), "rate_limited"),
    ],
)
def test_a_source_that_fails_is_logged_once_naming_it(
    store: Store, config: Config, caplog: pytest.LogCaptureFixture, error: Exception, status: str
) -> None:
    """`watcher poll --once` and the scheduler poll through Service.poll: one log line per
    failed poll, not the poller's and then the service's."""
    from watcher.service import Service

    config = replace(config, sources=(parse_config({"brand": BRAND, "sources": {"s": {"kind": "replay"}}}).sources))
    service = Service.from_config(
        config,
        store=store,
        connectors={"s": ScriptedConnector([error])},
        clock=Clock(),  # type: ignore[dict-item]
    )
    with caplog.at_level(logging.WARNING):
        assert service.poll("s").status == status
    assert len(caplog.records) == 1 and "source s" in caplog.records[0].getMessage()
