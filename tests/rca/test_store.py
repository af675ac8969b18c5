"""The store: idempotent merges, day partitions, atomic files, version checks."""

import pandas as pd
import pytest

from rca import record
from rca.store import Store, StoreError


def _requests(times, ids, latency=0.3):
    return record.frame("requests", [
        {"time": t, "row_id": i, "side": "client", "service": "svc", "latency_s": latency,
         "status": "200"} for t, i in zip(times, ids, strict=True)])


def test_recollect_same_rows_adds_nothing(tmp_path):
    store = Store(tmp_path)
    df = _requests(["2021-08-23T03:00:00Z", "2021-08-23T03:00:01Z"], ["a", "b"])
    assert store.write("requests", df) == 2
    assert store.write("requests", df) == 0
    assert len(store.load("requests")) == 2


def test_latest_write_wins_for_same_row_id(tmp_path):
    store = Store(tmp_path)
    store.write("requests", _requests(["2021-08-23T03:00:00Z"], ["a"], latency=0.3))
    store.write("requests", _requests(["2021-08-23T03:00:00Z"], ["a"], latency=9.0))
    assert store.load("requests")["latency_s"].tolist() == [9.0]


def test_partitions_by_utc_day_and_loads_a_range(tmp_path):
    store = Store(tmp_path)
    # 23:30 local (+08:00) on the 23rd is 15:30 UTC the same day; 08:30 local the 24th
    # is 00:30 UTC the 24th.
    store.write("requests", _requests(
        ["2021-08-23T23:30:00+08:00", "2021-08-24T08:30:00+08:00"], ["a", "b"]))
    assert sorted(p.name for p in (tmp_path / "requests").iterdir()) == [
        "2021-08-23.parquet", "2021-08-24.parquet"]
    got = store.load("requests", pd.Timestamp("2021-08-24T00:00Z"),
                     pd.Timestamp("2021-08-25T00:00Z"))
    assert got["row_id"].tolist() == ["b"]
    assert str(got.index.tz) == "UTC"


def test_no_temporary_files_left(tmp_path):
    store = Store(tmp_path)
    store.write("requests", _requests(["2021-08-23T03:00:00Z"], ["a"]))
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".") and p.name != ".lock"]
    assert leftovers == []


def test_newer_store_version_fails_clearly(tmp_path):
    store = Store(tmp_path)
    store.write("requests", _requests(["2021-08-23T03:00:00Z"], ["a"]))
    (tmp_path / "VERSION").write_text("99\n")
    with pytest.raises(StoreError, match="newer rca"):
        store.write("requests", _requests(["2021-08-23T03:00:00Z"], ["b"]))


def test_foreign_parquet_file_is_named_in_the_error(tmp_path):
    (tmp_path / "requests").mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "requests" / "2021-08-23.parquet")
    with pytest.raises(StoreError, match="2021-08-23.parquet.*not written by rca"):
        Store(tmp_path).load("requests")


def test_empty_store_loads_typed_empty_frame(tmp_path):
    df = Store(tmp_path / "nothing").load("events")
    assert df.empty and list(df.columns) == [c.name for c in record.TABLES["events"]]


def test_row_that_moved_day_is_loaded_once_at_its_latest(tmp_path):
    store = Store(tmp_path)
    store.write("requests", _requests(["2021-08-23T23:59:00Z"], ["ev"], latency=1.0))
    store.write("requests", _requests(["2021-08-24T00:01:00Z"], ["ev"], latency=2.0))
    got = store.load("requests")
    assert got["latency_s"].tolist() == [2.0]


def _writer(root, prefix):
    store = Store(root)
    for i in range(15):
        store.write("requests", _requests(["2021-08-23T03:00:00Z"], [f"{prefix}{i}"]))


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
