"""Fuzz: any JSON record gives a Post or a typed RecordError, never another exception
(one bad record in an export must stay that record's problem line)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.records import RecordError, record_to_post
from watcher.core.post import Post

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["id", "text", "created_at", "author", "author_id", "author_handle", "followers", "verified", "metrics"]
FIELDS += ["likes", "reposts", "replies", "kind", "platform", "url", "lang", "parent_id", "is_own", "source"]
timestamps = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.just("2026-11-16T09:00:00Z"),
)
records = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=10), "text": st.text(min_size=1, max_size=50), "created_at": timestamps},
    optional={name: json_values for name in FIELDS[3:]},
) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=8)


@settings(max_examples=200, deadline=1000)
@given(records)
def test_any_record_gives_a_post_or_a_record_error(record: dict[str, Any]) -> None:
    try:
        post = record_to_post(record)
    except RecordError:
        return
    assert isinstance(post, Post)


def test_an_out_of_range_time_is_a_record_error() -> None:
    import pytest

    for created_at in (1e300, 9.2e18, 6.8e16, "0001-01-01T00:00:00+01:00"):
        with pytest.raises(RecordError, match="out of range"):
            record_to_post({"id": "1", "text": "hi", "created_at": created_at})
