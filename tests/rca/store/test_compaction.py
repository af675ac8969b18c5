"""Compaction: a day's parts merged into one, every latest copy kept, at the threshold."""

import pytest

from rca.store import Store, StoreError
from tests.rca.store.helpers import events, parts, requests


def _hours(store, n, day="2021-08-23"):
    for h in range(n):
        store.write("requests", requests([f"{day}T{h:02d}:00:00Z"], [f"h{h}"]))


def test_collect_leaves_a_day_at_the_threshold_alone(tmp_path):
    """3 parts with max_parts_per_day=3: not more than allowed, nothing merged."""
    _hours(Store(tmp_path, max_parts_per_day=3), 3)
    assert len(parts(tmp_path)) == 3


def test_collect_merges_a_day_past_the_threshold(tmp_path):
    """The 4th part with max_parts_per_day=3 merges the day into one part."""
    store = Store(tmp_path, max_parts_per_day=3)
    _hours(store, 4)
    assert len(parts(tmp_path)) == 1
    assert sorted(store.load("requests")["row_id"]) == ["h0", "h1", "h2", "h3"]


def test_compact_keeps_the_latest_copy_and_the_count(tmp_path):
    store = Store(tmp_path)
    _hours(store, 3)
    store.write("requests", requests(["2021-08-23T01:00:00Z"], ["h1"], latency=7.0))
    assert store.tables()["requests"] == 3
    merged = store.compact()
    assert merged[0]["parts"] == 4 and merged[0]["rows_after"] == 3
    got = store.load("requests").set_index("row_id")["latency_s"]
    assert got.to_dict() == {"h0": 0.3, "h1": 7.0, "h2": 0.3}
    assert store.tables()["requests"] == 3 and len(parts(tmp_path)) == 1
    assert store.compact() == []  # already one part a day


def test_a_compacted_day_does_not_resurrect_a_copy_superseded_in_another_day(tmp_path):
    """The older copy of an event that moved day sits in a day compacted *after* the
    newer copy was written: it still loses, because rows keep their write order."""
    store = Store(tmp_path)
    store.write("events", events(["2021-08-23T23:59:00Z"], ["ev"], count=1))
    store.write("events", events(["2021-08-24T00:01:00Z"], ["ev"], count=2))
    store.write("events", events(["2021-08-23T10:00:00Z"], ["other"]))
    store.compact()
    assert store.load("events").set_index("row_id")["count"].to_dict() == {"other": 1, "ev": 2}


def test_max_parts_per_day_below_one_is_refused(tmp_path):
    with pytest.raises(StoreError, match="max_parts_per_day"):
        Store(tmp_path, max_parts_per_day=0)
