"""Logging that cannot hold up the work being logged.

A log call only cuts its message to LONGEST_MESSAGE characters and puts it on a bounded
queue; the handlers (rich's, which renders slowly) run on a thread of their own. So a
request that logs a huge text, or a terminal that stalls, never blocks the Slack
endpoint or a poll: at worst a record is dropped, and the drop is counted.
"""

from __future__ import annotations

import atexit
import logging
import queue
from logging.handlers import QueueHandler, QueueListener

LONGEST_MESSAGE = 4000
QUEUE_SIZE = 10_000


class CuttingQueueHandler(QueueHandler):
    """Formats on the caller's thread (cheap: %-formatting), cuts long messages and never
    waits for room on the queue."""

    def __init__(self, records: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(records)
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = super().prepare(record)
        if len(record.msg) > LONGEST_MESSAGE:
            cut = len(record.msg) - LONGEST_MESSAGE
            record.msg = record.message = f"{record.msg[:LONGEST_MESSAGE]}… ({cut} more characters not logged)"
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


_running: QueueListener | None = None


def log_off_thread(level: int, *handlers: logging.Handler) -> None:
    """Like `logging.basicConfig(level=level, handlers=handlers)`, with the handlers run
    on a listener thread. Does nothing when the root logger already has other handlers
    (as basicConfig), and replaces its own earlier set-up."""
    global _running
    root = logging.getLogger()
    if _running is not None:
        _running.stop()
        for old in [h for h in root.handlers if isinstance(h, CuttingQueueHandler)]:
            root.removeHandler(old)
        _running = None
    if root.handlers:
        return
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))
    records: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_SIZE)
    root.addHandler(CuttingQueueHandler(records))
    root.setLevel(level)
    _running = QueueListener(records, *handlers, respect_handler_level=True)
    _running.start()
    atexit.register(stop_logging)  # registering again is harmless: stopping twice is a no-op


def stop_logging() -> None:
    """Write out what is queued (at exit)."""
    global _running
    if _running is not None:
        _running.stop()
        _running = None
