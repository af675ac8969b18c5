"""The record schema: coercion, unknown columns, row ids."""

import pandas as pd
import pytest

from rca import record


def test_frame_fills_missing_columns_and_converts_to_utc():
    df = record.frame("events", [{"time": "2021-08-23T11:03:00+08:00", "row_id": "x",
                                  "reason": "Unhealthy", "count": "3"}])
    assert str(df.index[0]) == "2021-08-23 03:03:00+00:00"
    assert df["count"].tolist() == [3]
    assert df["message"].tolist() == [""]


def test_unknown_column_is_named():
    with pytest.raises(record.RecordError, match="bogus"):
        record.frame("events", [{"time": "2021-08-23T00:00:00Z", "row_id": "x", "bogus": 1}])


def test_bad_number_names_the_field():
    with pytest.raises(record.RecordError, match="requests.latency_s"):
        record.frame("requests", [{"time": "2021-08-23T00:00:00Z", "row_id": "x",
                                   "latency_s": "fast"}])


def test_row_id_is_stable_and_separates_parts():
    assert record.row_id("a", "b") == record.row_id("a", "b")
    assert record.row_id("ab", "") != record.row_id("a", "b")


def test_canonical_labels_sorts_keys():
    assert record.canonical_labels({"b": "1", "a": "2"}) == '{"a":"2","b":"1"}'


def test_row_id_parts_cannot_run_together():
    assert record.row_id("a", "b") != record.row_id("a\x1fb")
    assert record.row_id("1:a", "") != record.row_id("1", ":a")


def test_a_frame_already_in_the_schema_is_not_copied_and_one_that_is_not_is_coerced():
    df = record.frame("requests", [{"time": "2021-08-23T03:00:00Z", "row_id": "a",
                                    "status": "200", "latency_s": 0.3}])
    assert record.validate("requests", df) is df  # the store's week is not copied again
    holed = df.copy()
    holed["station"] = pd.Series([None], index=df.index, dtype=object)
    fixed = record.validate("requests", holed)
    assert fixed is not holed and fixed["station"].tolist() == [""]


def test_a_categorical_is_the_schema_only_for_a_column_that_repeats():
    df = record.frame("metrics", [{"time": "2021-08-23T03:00:00Z", "row_id": "a",
                                   "name": "up", "entity": "node/a", "value": 1.0}])
    cats = df.astype({"name": "category", "entity": "category", "labels": "category"})
    assert record.validate("metrics", cats) is cats  # as the store reads a week of samples
    ids = cats.astype({"row_id": "category"})
    fixed = record.validate("metrics", ids)  # row_id does not repeat: back to strings
    assert fixed is not ids and fixed["row_id"].dtype == "str"
    holed = cats.copy()
    holed["entity"] = pd.Categorical([None], categories=["node/a"])
    assert record.validate("metrics", holed)["entity"].tolist() == [""]


def test_status_codes_reads_each_distinct_status_once_and_keeps_the_rows_order():
    status = pd.Series(["200", "timeout", "504", "NXDOMAIN", "200", "413"],
                       index=[5, 4, 3, 2, 1, 0])
    codes = record.status_codes(status)
    assert list(codes.index) == [5, 4, 3, 2, 1, 0]
    assert codes.tolist()[:1] + codes.tolist()[2:3] + codes.tolist()[4:] == [200, 504, 200, 413]
    assert codes.isna().tolist() == [False, True, False, True, False, False]
