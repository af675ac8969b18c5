"""Property-based tests of every reader (hypothesis).

Two kinds of property:
- any text at all: the reader never raises, and lines read = rows + malformed + skipped;
- a line built from generated fields: it is either a row holding exactly those values, or
  malformed naming the field that makes no sense; never a row with an absurd value.
"""

from __future__ import annotations

import json
import math
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import LineError, ParseContext, check_row
from collectors.kube import KubeBatch, shape_items
from collectors.logs import FORMATS, coredns, jsonl, nginx_combined, read_log, rgw
from collectors.metrics_file import read_metrics_file

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
FIRST, LAST = pd.Timestamp.min.tz_localize(UTC), pd.Timestamp.max.tz_localize(UTC)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
NOW = pd.Timestamp("2021-08-23T04:00:00Z")


def ctx(path="x.log") -> ParseContext:
    return ParseContext(str(path), UTC, {"collected_at": NOW})


lines = st.lists(st.text(st.characters(blacklist_categories=["Cs"]), max_size=200), max_size=15)


def _read_lines(fmt: str, text_lines: list[str]):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.log"
        path.write_text("\n".join(x.replace("\r", " ") for x in text_lines) + "\n")
        return read_log(path, fmt, ctx(path))


def _sane(batch) -> None:
    assert batch.unaccounted() == 0
    for table in ("requests", "dns"):
        df = batch.frames.get(table)
        if df is not None and len(df):
            lat = df["latency_s"].dropna()
            assert (lat >= 0).all() and lat.map(math.isfinite).all()
            assert df.index.min() >= FIRST and df.index.max() <= LAST


@SETTINGS
@given(st.sampled_from(sorted(FORMATS)), lines)
def test_any_text_is_accounted_for_in_every_log_format(fmt, text_lines):
    _sane(_read_lines(fmt, text_lines))


@SETTINGS
@given(lines)
def test_any_text_is_accounted_for_in_metrics(text_lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.om"
        path.write_text("\n".join(x.replace("\r", " ") for x in text_lines) + "\n# EOF\n")
        batch = read_metrics_file(path, ctx(path))
    assert batch.unaccounted() == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["2021-08-23T03:03:00Z", "2300-01-01T00:00:00Z", "Pod", "Event"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(
        ["kind", "metadata", "name", "namespace", "uid", "spec", "status", "containers",
         "involvedObject", "count", "lastTimestamp", "conditions", "type", "replicas",
         "containerStatuses", "restartCount", "state", "terminated", "finishedAt"]),
        children, max_size=5),
    max_leaves=30,
)


@SETTINGS
@given(st.lists(json_values, max_size=8), st.sampled_from(["", "Pod", "Event", "Deployment"]))
def test_any_json_items_are_accounted_for_in_kube(items, default_kind):
    batch = KubeBatch(source="t")
    shape_items(items, ctx("k.json"), batch, default_kind=default_kind)
    assert batch.lines == len(items) and batch.unaccounted() == 0


# -- round trips: a row holds exactly what was logged, or the line is malformed ---------------
times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)
sizes = st.one_of(st.integers(min_value=0, max_value=10**6),
                  st.integers(min_value=0).map(lambda n: 10**400 + n))
seconds = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.just("9" * 400),
)


def _in_range(dt: datetime) -> bool:
    """Whether a zoned time can be stored (its UTC instant within pandas' range)."""
    try:
        return FIRST <= pd.Timestamp(dt) <= LAST
    except (OverflowError, ValueError):
        return False


@SETTINGS
@given(times, offsets, st.integers(min_value=100, max_value=599), sizes, seconds)
def test_nginx_line_round_trips_or_names_the_field(local, offset, status, size, latency):
    sign = "-" if offset < 0 else "+"
    zone = timezone(timedelta(minutes=offset))
    stamp = f"{local:%d}/{MONTHS[local.month - 1]}/{local.year:04d}:{local:%H:%M:%S}"
    line = (f'10.0.0.1 - - [{stamp} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}] '
            f'"GET /a/b HTTP/1.1" {status} {size} "-" "-" {latency}')
    expected = local.replace(microsecond=0, tzinfo=zone)
    try:
        ((_, row),) = nginx_combined.parse(line, ctx())
        check_row(row)
    except LineError as exc:
        if exc.field == "time":
            assert not _in_range(expected)
        elif exc.field == "latency_s":
            assert latency == "9" * 400
        else:
            assert exc.field == "bytes" and size >= 10**400
        return
    assert row["time"] == expected.astimezone(UTC)
    assert (row["status"], row["bytes"], row["latency_s"]) == (str(status), float(size),
                                                               float(latency))


@SETTINGS
@given(times, st.integers(min_value=0, max_value=200_000), st.sampled_from(["A", "AAAA", "PTR"]),
       sizes, st.floats(min_value=0, max_value=100, allow_nan=False))
def test_coredns_line_round_trips_or_names_the_field(when, port, qtype, rsize, duration):
    stamp = when.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    line = (f'{stamp} [INFO] 10.244.1.17:{port} - 5113 "{qtype} IN a.b.svc.cluster.local. udp '
            f'50 false 512" NOERROR qr,aa,rd {rsize} {duration:.6f}s')
    try:
        ((_, row),) = coredns.parse(line, ctx())
        check_row(row)
    except LineError as exc:
        if exc.field == "time":
            assert not _in_range(when.replace(tzinfo=UTC))
        else:  # the port has at most 5 digits
            assert exc.field == "query" and port > 99999
        return
    assert row["time"] == when.replace(tzinfo=UTC)
    assert (row["client_port"], row["query_id"], row["qtype"]) == (port, 5113, qtype)
    assert math.isclose(row["latency_s"], float(f"{duration:.6f}"))


@SETTINGS
@given(st.integers(min_value=-(10**12), max_value=10**12),
       st.integers(min_value=100, max_value=599), st.one_of(seconds, st.just("-5.0")))
def test_rgw_req_done_round_trips_or_names_the_field(op_status, http_status, latency):
    line = (f"2023-01-04T09:27:54.404+0000 7f2a1c8a9700  1 ====== req done req=0x1 op "
            f"status={op_status} http_status={http_status} latency={latency}s ======")
    try:
        parsed = rgw.parse(line, ctx())
        if not parsed:  # an op status too long to be one: not a req done line
            assert len(str(abs(op_status))) > 10
            return
        ((_, row),) = parsed
        check_row(row)
    except LineError as exc:
        assert exc.field in {"latency", "latency_s"}
        assert latency in ("-5.0", "9" * 400)
        return
    failed = op_status < 0 and http_status < 400
    assert row["status"] == (("499" if op_status in (-104, -32) else "500") if failed
                             else str(http_status))
    assert row["latency_s"] == float(latency)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["ts", "latency_ms", "status", "side", "bytes",
                                        "station", "upstream"]), json_values, max_size=7))
def test_jsonl_object_gives_a_sane_row_or_names_a_field(obj):
    line = json.dumps(obj)
    try:
        rows = jsonl.parse(line, ctx())
        for _, row in rows:
            check_row(row)
    except LineError as exc:
        assert exc.field in {*obj, "ts", "latency_ms", "time", "latency_s", "bytes"}
        return
    ((_, row),) = rows
    assert row["side"] in ("client", "server")
    assert math.isnan(row["latency_s"]) or 0 <= row["latency_s"] < math.inf
