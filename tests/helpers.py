"""Old names for the shared test kit in tests/conftest.py, kept until every test imports
from there. New tests: `from tests.conftest import BRAND, T0, Clock, make_post`."""

from __future__ import annotations

from typing import Any

from tests.conftest import BRAND, T0, Clock
from tests.conftest import make_post as _make_post
from watcher.core.post import Post

__all__ = ["BRAND", "T0", "Clock", "make_post"]


def make_post(text: str = "my card was declined twice, help?", *, author: str = "ann", **fields: Any) -> Post:
    """tests.conftest.make_post, with the author's handle as `author`."""
    return _make_post(text, handle=author, **fields)
