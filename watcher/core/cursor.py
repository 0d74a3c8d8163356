"""A source's read position, stored with the posts it covers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cursor:
    """Where a source's last stored fetch ended. Opaque to all but its connector;
    must be JSON-serializable because the store keeps it beside the posts."""

    state: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dict(self.state), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Cursor:
        return cls(json.loads(text))
