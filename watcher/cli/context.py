"""What every core command is handed: the config path from `watcher --config`, the
config loaded on first use and the database it names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # both are imported by the commands that use them (a fast `watcher --help`)
    from watcher.config import Config
    from watcher.store import Store


@dataclass
class AppContext:
    config_path: str
    _config: Config | None = None

    def config(self) -> Config:
        from watcher.config import load_config

        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def has_config(self) -> bool:
        return Path(self.config_path).exists()

    def store(self) -> Store:
        from watcher.store import Store

        config = self.config()
        return Store(config.resolve_path(config.storage.path))


pass_app = click.make_pass_decorator(AppContext)
