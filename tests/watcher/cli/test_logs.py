"""Logging runs its handlers off the caller's thread and cuts long messages, so a
request that logs never waits for a slow terminal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from watcher.cli.logs import LONGEST_MESSAGE, log_off_thread, stop_logging


class Recording(logging.Handler):
    def __init__(self, release: threading.Event | None = None) -> None:
        super().__init__()
        self.gate = release
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.gate is not None:
            self.gate.wait(timeout=10)
        self.seen.append((threading.current_thread().name, self.format(record)))


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger without pytest's capturing handlers (as in a real run; pytest adds
    them when the test body starts, so this is entered there)."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        yield root
    finally:
        stop_logging()
        root.handlers[:] = saved
        root.setLevel(level)


def test_a_slow_handler_never_holds_up_the_caller():
    with bare_root():
        slow_handler()


def slow_handler() -> None:
    release = threading.Event()
    handler = Recording(release)
    order: list[str] = []
    log_off_thread(logging.INFO, handler)
    logging.getLogger("tests.logs").warning("a refusal")
    order.append("logged")  # in-thread handling would wait here until the handler gave up
    release.set()
    stop_logging()
    order.extend("handled" for _ in handler.seen)
    assert order == ["logged", "handled"]
    assert handler.seen[0][0] != threading.current_thread().name


def test_a_huge_message_is_cut():
    handler = Recording()
    with bare_root():
        log_off_thread(logging.DEBUG, handler)
        logging.getLogger("tests.logs").debug("body: %s", "x" * 1_000_000)
        stop_logging()
    (_, text), *_ = handler.seen
    assert len(text) < LONGEST_MESSAGE + 100 and "more characters not logged" in text


def test_an_existing_set_up_is_left_alone():
    mine = logging.NullHandler()
    with bare_root() as root:
        root.addHandler(mine)
        log_off_thread(logging.DEBUG, Recording())
        assert root.handlers == [mine]
