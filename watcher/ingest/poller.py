"""Polling one source: the Poller and its PollOutcome. The Poller is the one place
that logs a poll gone wrong, since it knows what kind of wrong; its callers (the
service, `watcher poll`, the scheduler) only read the outcome."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import AuthFailed, Connector, ConnectorError, RateLimited, SourceMisconfigured
from watcher.core.config import SourceConfig
from watcher.core.cursor import Cursor
from watcher.ingest.pipeline import IngestReport, Pipeline
from watcher.store import SourceState

log = logging.getLogger(__name__)


def _hms(moment: datetime | None) -> str:
    return f"{moment:%H:%M:%S} UTC" if moment is not None else "the next interval"


@dataclass(frozen=True)
class PollOutcome:
    source: str
    status: str  # ok | skipped | rate_limited | failed | unhealthy
    report: IngestReport
    message: str = ""
    requests: int = 0
    next_attempt_at: datetime | None = None


class Poller:
    """One source's poll: honour a persisted back-off or rate-limit window, fetch
    pages until caught up, ingest each page in its own transaction, record health."""

    def __init__(
        self,
        source: SourceConfig,
        connector: Connector,
        pipeline: Pipeline,
        *,
        max_backoff_seconds: int = 3600,
        max_pages: int = 10,
        rng: random.Random | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.source = source
        self.should_stop = should_stop
        self.connector = connector
        self.pipeline = pipeline
        self.store = pipeline.store
        self.max_backoff = max_backoff_seconds
        self.max_pages = max_pages
        self.rng = rng or random.Random()

    def poll(self) -> PollOutcome:
        name = self.source.name
        now = self.pipeline.clock()
        state = self.store.sources.source_state(name)
        total = IngestReport(source=name)
        if state.backoff_until is not None and state.backoff_until > now:
            return PollOutcome(name, "skipped", total, state.message, 0, state.backoff_until)
        requests = 0
        doing = "fetching"  # what an unexpected error interrupted, for its message
        try:
            for _ in range(self.max_pages):
                doing = "fetching"
                cursor: Cursor | None = self.store.sources.get_cursor(name)
                result = self.connector.fetch(cursor)
                requests += result.requests_made
                doing = "storing"
                total.add(self.pipeline.ingest(name, result))
                if not result.has_more or self.should_stop():
                    break
        except RateLimited as exc:
            until = exc.until
            limits = {**state.rate_limits, exc.endpoint or "default": until}
            self._record(
                state,
                healthy=True,
                message=f"rate limited until {until:%H:%M:%S} UTC",
                failures=0,
                backoff_until=until,
                rate_limits=limits,
                success=False,
            )
            log.warning("source %s is rate limited (%s); polling again at %s", name, exc, _hms(until))
            return PollOutcome(name, "rate_limited", total, str(exc), requests, until)
        except (AuthFailed, SourceMisconfigured) as exc:
            failures = state.failures + 1
            retry_at = self.pipeline.clock() + timedelta(seconds=self.max_backoff)
            self._record(
                state,
                healthy=False,
                message=exc.message,
                failures=failures,
                backoff_until=retry_at,
                rate_limits=state.rate_limits,
                success=False,
            )
            log.error("source %s is unhealthy: %s", name, exc.message)
            return PollOutcome(name, "unhealthy", total, exc.message, requests, retry_at)
        except ConnectorError as exc:
            outcome = self._failed(state, total, requests, exc.message)
            log.warning("source %s failed (%s); retrying at %s", name, exc.message, _hms(outcome.next_attempt_at))
            return outcome
        except Exception as exc:  # a bug, a payload nobody foresaw, a locked database: back off, the others go on
            detail = (str(exc).splitlines() or [""])[0][:200]
            where = (
                f"fetching with the {self.source.kind} connector (a bug or a payload it does not expect: "
                "please report it)"
                if doing == "fetching"
                else "storing what was fetched"
            )
            outcome = self._failed(
                state,
                total,
                requests,
                f"unexpected {type(exc).__name__} ({detail}) while {where}; the log has the traceback",
            )
            log.exception("source %s failed unexpectedly; retrying at %s", name, _hms(outcome.next_attempt_at))
            return outcome
        self._record(state, healthy=True, message="", failures=0, backoff_until=None, rate_limits={}, success=True)
        return PollOutcome(name, "ok", total, "", requests)

    def _failed(self, state: SourceState, total: IngestReport, requests: int, message: str) -> PollOutcome:
        """A failed poll: counted, and the source waits out an exponential back-off."""
        failures = state.failures + 1
        retry_at = self.pipeline.clock() + timedelta(seconds=self.backoff_seconds(failures))
        self._record(
            state,
            healthy=True,
            message=message,
            failures=failures,
            backoff_until=retry_at,
            rate_limits=state.rate_limits,
            success=False,
        )
        return PollOutcome(self.source.name, "failed", total, message, requests, retry_at)

    def backoff_seconds(self, failures: int) -> float:
        """Exponential from the poll interval, capped, with +-20% jitter."""
        base = min(self.max_backoff, self.source.interval_seconds * (2 ** min(failures, 16)))
        return float(min(self.max_backoff, base * self.rng.uniform(0.8, 1.2)))

    def _record(
        self,
        state: SourceState,
        *,
        healthy: bool,
        message: str,
        failures: int,
        backoff_until: datetime | None,
        rate_limits: Mapping[str, datetime],
        success: bool,
    ) -> None:
        now = self.pipeline.clock()
        self.store.sources.save_source_state(
            self.source.name,
            healthy=healthy,
            message=message,
            failures=failures,
            backoff_until=backoff_until,
            rate_limits=rate_limits,
            last_success_at=now if success else state.last_success_at,
        )
