"""The store: append-only parts, latest write wins, day partitions, version checks."""

import pandas as pd
import pytest

from rca import record
from rca.store import Store, StoreError
from tests.rca.store.helpers import events, leftovers, parts, requests


def test_recollect_same_rows_adds_nothing_not_even_a_file(tmp_path):
    store = Store(tmp_path)
    df = requests(["2021-08-23T03:00:00Z", "2021-08-23T03:00:01Z"], ["a", "b"])
    assert store.write("requests", df) == 2
    files = parts(tmp_path)
    assert store.write("requests", df) == 0
    assert parts(tmp_path) == files  # identical rows are not appended again
    assert len(store.load("requests")) == 2
    assert store.tables()["requests"] == 2


def test_a_collection_appends_a_part_and_rewrites_none(tmp_path):
    store = Store(tmp_path)
    store.write("requests", requests(["2021-08-23T03:00:00Z"], ["a"]))
    first = {p: p.stat().st_mtime_ns for p in parts(tmp_path)}
    store.write("requests", requests(["2021-08-23T04:00:00Z"], ["b"]))
    now = parts(tmp_path)
    assert len(now) == 2 and all(p.stat().st_mtime_ns == t for p, t in first.items())


def test_latest_write_wins_for_same_row_id(tmp_path):
    store = Store(tmp_path)
    store.write("requests", requests(["2021-08-23T03:00:00Z"], ["a"], latency=0.3))
    assert store.write("requests", requests(["2021-08-23T03:00:00Z"], ["a"], latency=9.0)) == 0
    assert store.load("requests")["latency_s"].tolist() == [9.0]
    assert store.tables()["requests"] == 1  # a replaced row is not counted twice


def test_within_one_write_the_last_copy_wins(tmp_path):
    store = Store(tmp_path)
    df = pd.concat([requests(["2021-08-23T03:00:00Z"], ["a"], 1.0),
                    requests(["2021-08-23T03:00:00Z"], ["a"], 2.0)])
    assert store.write("requests", df) == 1
    assert store.load("requests")["latency_s"].tolist() == [2.0]


def test_partitions_by_utc_day_hive_style_and_loads_a_range(tmp_path):
    store = Store(tmp_path)
    # 23:30 local (+08:00) on the 23rd is 15:30 UTC the same day; 08:30 local the 24th
    # is 00:30 UTC the 24th.
    store.write("requests", requests(
        ["2021-08-23T23:30:00+08:00", "2021-08-24T08:30:00+08:00"], ["a", "b"]))
    assert sorted(p.parent.name for p in parts(tmp_path)) == ["day=2021-08-23", "day=2021-08-24"]
    got = store.load("requests", pd.Timestamp("2021-08-24T00:00Z"),
                     pd.Timestamp("2021-08-25T00:00Z"))
    assert got["row_id"].tolist() == ["b"]
    assert str(got.index.tz) == "UTC"


def test_no_temporary_files_left(tmp_path):
    store = Store(tmp_path)
    store.write("requests", requests(["2021-08-23T03:00:00Z"], ["a"]))
    assert leftovers(tmp_path) == []
    assert (tmp_path / "VERSION").read_text() == "3\n"


def test_a_failed_collection_leaves_nothing_visible(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.transaction() as txn:
        txn.write("requests", requests(["2021-08-23T03:00:00Z"], ["a"]))
        txn.write("events", events(["2021-08-23T03:00:00Z"], ["e"]))
        raise RuntimeError("the source broke half-way")
    assert store.load("requests").empty and store.load("events").empty
    assert parts(tmp_path) == [] and leftovers(tmp_path) == []


def test_newer_store_version_fails_clearly(tmp_path):
    store = Store(tmp_path)
    store.write("requests", requests(["2021-08-23T03:00:00Z"], ["a"]))
    (tmp_path / "VERSION").write_text("99\n")
    with pytest.raises(StoreError, match="newer rca"):
        store.write("requests", requests(["2021-08-23T03:00:00Z"], ["b"]))
    with pytest.raises(StoreError, match="newer rca"):
        store.load("requests")


def test_foreign_parquet_file_is_ignored_by_reads_and_removed_by_the_next_writer(tmp_path):
    store = Store(tmp_path)
    store.write("requests", requests(["2021-08-23T03:00:00Z"], ["a"]))
    stray = tmp_path / "requests" / "day=2021-08-23" / "part-x.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(stray)
    assert store.load("requests")["row_id"].tolist() == ["a"]
    store.write("requests", requests(["2021-08-23T04:00:00Z"], ["b"]))
    assert not stray.exists()
    assert any("part-x.parquet" in note for note in store.recovered)


def test_empty_store_loads_typed_empty_frame(tmp_path):
    df = Store(tmp_path / "nothing").load("events")
    assert df.empty and list(df.columns) == [c.name for c in record.TABLES["events"]]


def test_row_that_moved_day_is_loaded_once_at_its_latest(tmp_path):
    store = Store(tmp_path)
    store.write("events", events(["2021-08-23T23:59:00Z"], ["ev"], count=1))
    store.write("events", events(["2021-08-24T00:01:00Z"], ["ev"], count=2))
    assert store.load("events")["count"].tolist() == [2]
    # as before: a window holding only the older day still shows that day's copy
    older = store.load("events", pd.Timestamp("2021-08-23T00:00Z"),
                       pd.Timestamp("2021-08-23T23:59:30Z"))
    assert older["count"].tolist() == [1]


def test_a_new_hour_reads_no_older_part_of_a_time_keyed_table(tmp_path, monkeypatch):
    """Adding an hour must not cost reading the days (or hours) already stored."""
    from rca.store import compare

    store = Store(tmp_path)
    for day in range(20, 27):
        store.write("requests", requests([f"2021-08-{day}T{h:02d}:00:00Z" for h in range(23)],
                                         [f"{day}-{h}" for h in range(23)]))
    read = []
    real = compare.read_part_bytes
    monkeypatch.setattr(compare, "read_part_bytes",
                        lambda *a, **k: read.append(a) or real(*a, **k))
    assert store.write("requests", requests(["2021-08-26T23:10:00Z"], ["new"])) == 1
    assert read == []
    assert store.write("requests", requests(["2021-08-26T05:00:00Z"], ["26-5"])) == 0
    assert len(read) == 1  # re-collecting a stored hour compares with that day's part only


def test_events_are_compared_with_every_part_of_their_day(tmp_path):
    """An event keeps its row_id while its last_seen moves: a later copy is not new."""
    store = Store(tmp_path)
    store.write("events", events(["2021-08-23T03:00:00Z"], ["ev"], count=1))
    assert store.write("events", events(["2021-08-23T09:00:00Z"], ["ev"], count=7)) == 0
    got = store.load("events")
    assert got["count"].tolist() == [7] and store.tables()["events"] == 1


def _writer(root, prefix):
    store = Store(root)
    for i in range(15):
        store.write("requests", requests(["2021-08-23T03:00:00Z"], [f"{prefix}{i}"]))


def test_concurrent_collections_lose_no_rows(tmp_path):
    import multiprocessing

    procs = [multiprocessing.get_context("fork").Process(target=_writer, args=(tmp_path, p))
             for p in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    ids = Store(tmp_path).load("requests")["row_id"]
    assert sorted(ids) == sorted([f"a{i}" for i in range(15)] + [f"b{i}" for i in range(15)])


def test_store_path_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "store"
    f.write_text("")
    with pytest.raises(StoreError, match="is a file"):
        Store(f)


def test_parts_written_before_a_column_existed_still_load(tmp_path, monkeypatch):
    """A record column added later is missing from older parts: it reads as empty."""
    from rca.store import transaction

    store = Store(tmp_path)
    real = transaction.arrow_of
    monkeypatch.setattr(transaction, "arrow_of", lambda df, seq: real(df, seq).drop(["upstream"]))
    store.write("requests", requests(["2021-08-23T03:00:00Z"], ["old"]))
    monkeypatch.undo()
    new = requests(["2021-08-23T04:00:00Z"], ["new"]).assign(upstream="10.0.0.1:80")
    assert store.write("requests", new) == 1
    got = store.load("requests").set_index("row_id")["upstream"]
    assert got.to_dict() == {"old": "", "new": "10.0.0.1:80"}
    assert store.write("requests", requests(["2021-08-23T03:00:00Z"], ["old"])) == 0
    assert store.compact()[0]["rows_after"] == 2


def test_a_stored_hour_is_compared_with_its_row_groups_only(tmp_path, monkeypatch):
    """Within a day's part, only the row groups whose time range overlaps the batch are
    decoded: re-collecting one hour of a day does not decode the whole day."""
    import pyarrow.parquet as pq

    from rca.store import parts as part_files

    monkeypatch.setattr(part_files, "ROW_GROUP", 10)
    store = Store(tmp_path)
    times = [f"2021-08-23T{h:02d}:{m:02d}:00Z" for h in range(24) for m in range(0, 60, 6)]
    store.write("requests", requests(times, [f"r{i}" for i in range(len(times))]))
    assert pq.ParquetFile(parts(tmp_path)[0]).metadata.num_row_groups == 24
    decoded = []
    real = pq.ParquetFile.read_row_groups
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups",
                        lambda self, groups, **k: decoded.extend(groups) or real(self, groups, **k))
    hour = requests(times[50:60], [f"r{i}" for i in range(50, 60)])
    assert store.write("requests", hour) == 0
    assert decoded == [5]


def _samples(times, names, entities, ids):
    return record.frame("metrics", [
        {"time": t, "row_id": i, "name": n, "entity": e, "labels": "{}", "value": 1.0}
        for t, n, e, i in zip(times, names, entities, ids, strict=True)])


def test_repeating_metric_columns_load_as_sorted_categories_with_none_unused(tmp_path):
    """A week of samples repeats a few hundred names, entities and label sets millions of
    times: they load as categoricals, ordered as strings sort, holding only what the window
    kept, and equal to what was written."""
    store = Store(tmp_path)
    store.write("metrics", _samples(["2021-08-23T03:00:00Z", "2021-08-23T04:00:00Z",
                                     "2021-08-23T05:00:00Z"],
                                    ["zeta", "alpha", "cut"], ["node/b", "node/a", "node/c"],
                                    ["s1", "s2", "s3"]))
    got = store.load("metrics", None, pd.Timestamp("2021-08-23T04:30:00Z"))
    for col in ("name", "entity", "labels"):
        assert isinstance(got[col].dtype, pd.CategoricalDtype)
    assert list(got["name"].cat.categories) == ["alpha", "zeta"]  # sorted; "cut" not kept
    assert got["name"].tolist() == ["zeta", "alpha"] and got["entity"].tolist() == [
        "node/b", "node/a"]
    assert got.sort_values("name")["name"].tolist() == ["alpha", "zeta"]
    assert got["row_id"].dtype == "str"  # unique per row: a category would save nothing
    assert record.validate("metrics", got) is got
    assert store.load("requests").empty and not isinstance(
        store.load("metrics")["value"].dtype, pd.CategoricalDtype)


def test_a_repeating_column_missing_from_older_parts_loads_as_empty_category(tmp_path,
                                                                             monkeypatch):
    from rca.store import transaction

    store = Store(tmp_path)
    real = transaction.arrow_of
    monkeypatch.setattr(transaction, "arrow_of", lambda df, seq: real(df, seq).drop(["labels"]))
    store.write("metrics", _samples(["2021-08-23T03:00:00Z"], ["m"], ["node/a"], ["old"]))
    monkeypatch.undo()
    store.write("metrics", _samples(["2021-08-23T04:00:00Z"], ["m"], ["node/a"], ["new"]))
    got = store.load("metrics")
    assert got["labels"].tolist() == ["", "{}"]
    assert record.validate("metrics", got) is got


def test_parts_interleaved_in_time_load_in_time_order_the_earlier_write_first_on_a_tie(
        tmp_path):
    """Two collections of the same day (two metric files) interleave in time: the load is
    time-sorted, stably, as rules cutting by binary search need."""
    store = Store(tmp_path)
    store.write("metrics", _samples(["2021-08-23T03:00:00Z", "2021-08-23T03:02:00Z"],
                                    ["a", "a"], ["node/x", "node/x"], ["a1", "a2"]))
    store.write("metrics", _samples(["2021-08-23T03:00:00Z", "2021-08-23T03:01:00Z"],
                                    ["b", "b"], ["node/x", "node/x"], ["b1", "b2"]))
    got = store.load("metrics")
    assert got.index.is_monotonic_increasing
    assert got["row_id"].tolist() == ["a1", "b1", "b2", "a2"]


@pytest.mark.parametrize("days", [["2021-08-23", "2021-08-23"], ["2021-08-23", "2021-08-24"]])
def test_a_sample_stored_twice_loads_once_whether_or_not_its_day_holds_other_parts(tmp_path,
                                                                                   days):
    """The repeat check counts a time-keyed table's ids a day at a time: a copy of a row
    has its time, so it sits in a part of the same day."""
    store = Store(tmp_path)
    store.write("metrics", _samples([f"{days[0]}T03:00:00Z"], ["m"], ["node/a"], ["s1"]))
    changed = _samples([f"{days[0]}T03:00:00Z"], ["m"], ["node/a"], ["s1"]).assign(value=2.0)
    store.write("metrics", changed)  # same row, new value: the latest write wins
    store.write("metrics", _samples([f"{days[1]}T05:00:00Z"], ["m"], ["node/a"], ["s2"]))
    got = store.load("metrics")
    assert got["row_id"].tolist() == ["s1", "s2"] and got["value"].tolist() == [2.0, 1.0]


@pytest.mark.parametrize("stored_twice", [False, True])
def test_without_ids_a_load_still_keeps_each_row_once_at_its_latest(tmp_path, stored_twice):
    """The analysis reads without ``row_id`` (no rule identifies a row): the ids still serve
    de-duplication first, on the path that copies and on the one that does not."""
    store = Store(tmp_path)
    store.write("requests", requests(["2021-08-23T03:00:00Z", "2021-08-23T03:00:01Z"],
                                     ["a", "b"], latency=0.3))
    if stored_twice:
        store.write("requests", requests(["2021-08-23T03:00:00Z"], ["a"], latency=9.0))
    got = store.load("requests", ids=False)
    assert "row_id" not in got and list(got.columns) == [
        c.name for c in record.TABLES["requests"] if c.name != "row_id"]
    assert got["latency_s"].tolist() == ([9.0, 0.3] if stored_twice else [0.3, 0.3])
    assert record.validate("requests", got, ids=False) is got
    assert "row_id" not in Store(tmp_path / "empty").load("events", ids=False)
