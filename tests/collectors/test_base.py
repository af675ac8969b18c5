"""collectors.base: the row sanity check, bounded lines and the zone of container logs."""

import io
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from collectors.base import (
    MAX_LINE,
    LineError,
    ParseContext,
    bounded_lines,
    check_row,
    log_zone,
)
from rca.timeutil import get_zone

LAST = pd.Timestamp.max.floor("s").to_pydatetime().replace(tzinfo=UTC)
FIRST = pd.Timestamp.min.ceil("s").to_pydatetime().replace(tzinfo=UTC)


@pytest.mark.parametrize("time, ok", [
    (LAST, True), (LAST + timedelta(seconds=1), False),  # 2262-04-11T23:47:16Z is the edge
    (FIRST, True), (FIRST - timedelta(seconds=1), False),
])
def test_times_on_each_side_of_the_storable_range(time, ok):
    row = {"time": time, "latency_s": 1.0}
    if ok:
        check_row(row)
    else:
        with pytest.raises(LineError, match="1677-2262") as err:
            check_row(row)
        assert err.value.field == "time"


@pytest.mark.parametrize("field, value, ok", [
    ("latency_s", 0.0, True), ("latency_s", -0.001, False), ("latency_s", math.nan, True),
    ("latency_s", math.inf, False), ("bytes", 10**400, False), ("bytes", 3, True),
    ("count", 2**63 - 1, True), ("count", 2**63, False), ("count", -1, False),
    ("restarts", "x", False), ("station", math.inf, True),  # not a measure: not checked
])
def test_measures_must_be_finite_and_not_negative(field, value, ok):
    row = {"time": datetime(2021, 8, 23, tzinfo=UTC), field: value}
    if ok:
        check_row(row)
    else:
        with pytest.raises(LineError) as err:
            check_row(row)
        assert err.value.field == field


def test_zone_less_time_is_refused():
    with pytest.raises(LineError, match="zoned"):
        check_row({"time": datetime(2021, 8, 23)})


@pytest.mark.parametrize("mode", ["text", "binary"])
def test_bounded_lines_cut_only_lines_over_the_limit(mode):
    lines = ["a" * MAX_LINE, "b" * (MAX_LINE + 1), "c", "d" * (3 * MAX_LINE), "e"]
    text = "\n".join(lines)
    fh = io.StringIO(text) if mode == "text" else io.BytesIO(text.encode())
    got = [(n, None if x is None else len(x.rstrip("\n" if mode == "text" else b"\n")))
           for n, x in bounded_lines(fh)]
    assert got == [(1, MAX_LINE), (2, None), (3, 1), (4, None), (5, 1)]


def test_container_log_zone_is_utc_unless_configured():
    assert log_zone(ParseContext("/logs/rgw.log", get_zone("Asia/Shanghai"))) is UTC
    ctx = ParseContext("/logs/rgw.log", UTC, {"log_zone": "Asia/Shanghai"})
    assert log_zone(ctx) == get_zone("Asia/Shanghai")
    ctx.settings["log_zones"] = {"/logs/rgw*": "Europe/Berlin", "*.jsonl": "UTC"}
    assert log_zone(ctx) == get_zone("Europe/Berlin")
