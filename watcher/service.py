"""Builds the running parts from a Config: store, pipeline, one poller per source,
and the notifier. The scheduler and the CLI both start from here."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Connector, connector_class
from rules.triage import Triager
from watcher.config import Config
from watcher.core.config import ConfigError, ConfigProblem, SourceConfig
from watcher.core.post import utc_now
from watcher.ingest.pipeline import Pipeline, Poller, PollOutcome, TriageFn
from watcher.notify.outbox import ConsoleNotifier, FlushReport, Notifier, flush_outbox
from watcher.store import Store

log = logging.getLogger(__name__)


def build_connector(source: SourceConfig, env: Mapping[str, str]) -> Connector:
    """The only place a real SDK client is created (through the connector's from_config)."""
    cls = connector_class(source.kind)
    return cls.from_config(source, env)


def build_connectors(config: Config, env: Mapping[str, str]) -> dict[str, Connector]:
    """Every enabled source's connector; all problems reported together."""
    connectors: dict[str, Connector] = {}
    problems: list[ConfigProblem] = []
    for source in config.sources:
        if not source.enabled:
            continue
        try:
            connectors[source.name] = build_connector(source, env)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return connectors


@dataclass
class Service:
    config: Config
    store: Store
    pipeline: Pipeline
    pollers: dict[str, Poller]
    notifier: Notifier
    clock: Callable[[], datetime] = utc_now
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        env: Mapping[str, str] | None = None,
        store: Store | None = None,
        connectors: Mapping[str, Connector] | None = None,
        notifier: Notifier | None = None,
        triage_fn: TriageFn | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> Service:
        env = os.environ if env is None else env
        store = store or Store(config.resolve_path(config.storage.path))
        connectors = dict(connectors) if connectors is not None else build_connectors(config, env)
        # one Triager for the service's life: a rules or model file edited meanwhile is read on restart
        triager = None if triage_fn is not None else Triager.from_config(config)
        pipeline = Pipeline(store, config, triager=triager, triage_fn=triage_fn, clock=clock)
        stopping = threading.Event()
        pollers = {
            src.name: Poller(
                src,
                connectors[src.name],
                pipeline,
                max_backoff_seconds=config.scheduler.max_backoff_seconds,
                max_pages=config.pipeline.max_pages_per_poll,
                should_stop=stopping.is_set,
            )
            for src in config.sources
            if src.enabled and src.name in connectors
        }
        return cls(
            config=config,
            store=store,
            pipeline=pipeline,
            pollers=pollers,
            notifier=notifier or ConsoleNotifier(store),
            clock=clock,
            stopping=stopping,
        )

    def poll(self, source: str) -> PollOutcome:
        outcome = self.pollers[source].poll()
        if outcome.status not in ("ok", "skipped"):
            log.warning("source %s: %s (%s)", source, outcome.status, outcome.message)
        return outcome

    def flush(self, *, batch: int = 100) -> FlushReport:
        """Deliver every due notification, in batches, until none is due or the
        notifier asks to wait."""
        sent = retrying = failed = 0
        while True:
            report = flush_outbox(self.store, self.notifier, clock=self.clock, limit=batch)
            sent, retrying, failed = sent + report.sent, retrying + report.retrying, failed + report.failed
            if report.retrying or report.sent + report.failed < batch:
                return FlushReport(sent=sent, retrying=retrying, failed=failed)

    def close(self) -> None:
        """Release the connectors' HTTP sessions (those that hold one), then the store."""
        for poller in self.pollers.values():
            try:
                poller.connector.close()
            except Exception:  # closing must not stop the rest from closing
                log.warning("closing the connector of %s failed", poller.source.name, exc_info=True)
        self.store.close()
