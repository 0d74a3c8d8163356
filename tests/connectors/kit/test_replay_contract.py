"""The replay connector passes the parts of the kit a file has: fetch to the cursor,
restart, a malformed record, and a reply recorded once. A file has no rate limit,
no server error and no reply that times out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.replay import ReplayConnector
from tests.connectors.kit.contract import ConnectorContract, Kit


class ReplayKit(Kit):
    kind = "replay"
    supports = frozenset()
    malformations = ("bad bytes", "huge number", "missing field")

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.path = folder / "export.jsonl"
        self.path.write_bytes(b"")
        self.seeded = 0

    def connector(self) -> ReplayConnector:
        return ReplayConnector(self.path, source="kit", batch_size=2)

    def seed(self, count: int) -> list[str]:
        ids = []
        with self.path.open("a", encoding="utf-8") as out:
            for _ in range(count):
                self.seeded += 1
                ids.append(f"r{self.seeded}")
                at = self.now + timedelta(seconds=self.seeded)
                record = {"id": ids[-1], "text": "order late", "created_at": at.isoformat(), "author": {"id": "a"}}
                out.write(json.dumps(record) + "\n")
        return ids

    def malform(self, native_id: str, how: str) -> None:
        lines = self.path.read_bytes().splitlines(keepends=True)
        for number, line in enumerate(lines):
            if json.loads(line)["id"] != native_id:
                continue
            if how == "bad bytes":
                lines[number] = line.replace(b"order", b"caf\xe9")
            elif how == "huge number":
                lines[number] = line.replace(b'"author": {"id": "a"}', b'"author": {"id": "a", "followers": 1e400}')
            else:
                lines[number] = line.replace(b'"text": "order late", ', b"")
        self.path.write_bytes(b"".join(lines))


class TestReplayContract(ConnectorContract):
    @pytest.fixture
    def kit(self, tmp_path: Path) -> Iterator[Kit]:
        yield ReplayKit(tmp_path)
