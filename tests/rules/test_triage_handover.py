"""Whoever scores builds its Triager once and hands it over: no process-wide cache
reloads a rules file behind the service's back; a restart reads the edited file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rules.rule_file import load_ruleset
from rules.triage import TriageContext, Triager
from tests.rules.conftest import make_post
from watcher.config import Config
from watcher.ingest.pipeline import Pipeline
from watcher.service import Service
from watcher.store import Store


def legal_rule(channel: str) -> str:
    return f"[[rules]]\nname = 'legal'\nall = {{ intent = ['legal'] }}\nthen = {{ channel = '{channel}' }}\n"


def channel_of(pipeline: Pipeline, config: Config) -> str:
    ctx = TriageContext(brand=config.brand, thresholds=config.triage)
    return pipeline.triage_many([make_post("my lawyer will hear about this")], [ctx])[0].channel


def test_the_pipeline_scores_with_the_triager_it_is_handed(
    triager: Triager, tmp_path: Path, config: Config, store: Store
) -> None:
    rules_file = tmp_path / "team.toml"
    rules_file.write_text(legal_rule("#handed"), encoding="utf-8")
    handed = triager.with_rules(load_ruleset(rules_file))
    assert channel_of(Pipeline(store, config, triager=handed), config) == "#handed"


def test_the_service_keeps_its_rules_until_it_is_built_again(
    tmp_path: Path, make_config: Callable[..., Config], store: Store
) -> None:
    rules_file = tmp_path / "team.toml"
    rules_file.write_text(legal_rule("#legal"), encoding="utf-8")
    config = make_config(triage={"rules_file": str(rules_file)})
    running = Service.from_config(config, store=store, connectors={}, env={})
    assert channel_of(running.pipeline, config) == "#legal"

    rules_file.write_text(legal_rule("#legal-2"), encoding="utf-8")
    assert channel_of(running.pipeline, config) == "#legal"  # read once, when the service was built
    restarted = Service.from_config(config, store=store, connectors={}, env={})
    assert channel_of(restarted.pipeline, config) == "#legal-2"
