"""JSON lines: configurable names, ISO / epoch times, zone-less times in the given zone."""

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.base import LineError, ParseContext
from collectors.logs import jsonl, read_log
from rca.timeutil import get_zone

SAMPLE = Path(__file__).parents[2] / "data" / "logs" / "requests.jsonl"


def ctx(zone: str = "Asia/Shanghai", **settings) -> ParseContext:
    return ParseContext("requests.jsonl", get_zone(zone), settings)


def row(line: str, **kw) -> dict:
    ((table, out),) = jsonl.parse(line, ctx(**kw))
    assert table == "requests"
    return out


def test_full_object_gives_exact_row():
    line = (
        '{"ts": "2021-08-23T03:02:58.120Z", "station": "station-07", "service": "neishi", '
        '"latency_ms": 402, "status": 200, "request_id": "st07-000181", "bytes": 512, '
        '"upstream": "10.20.0.10:80", "side": "client"}'
    )
    assert row(line) == {
        "time": datetime(2021, 8, 23, 3, 2, 58, 120000, tzinfo=UTC),
        "side": "client",
        "station": "station-07",
        "service": "neishi",
        "latency_s": 0.402,
        "status": "200",
        "bytes": 512.0,
        "request_id": "st07-000181",
        "upstream": "10.20.0.10:80",
    }


@pytest.mark.parametrize(
    "ts, zone, expected",
    [
        ('"2021-08-23 11:03:06.004"', "Asia/Shanghai", datetime(2021, 8, 23, 3, 3, 6, 4000)),
        ('"2021-08-23T11:03:06"', "Asia/Shanghai", datetime(2021, 8, 23, 3, 3, 6)),
        ('"2021-08-23 11:03:06"', "UTC", datetime(2021, 8, 23, 11, 3, 6)),
        ('"2021-08-23T11:03:01.050+08:00"', "UTC", datetime(2021, 8, 23, 3, 3, 1, 50000)),
        ("1629687790.5", "Asia/Shanghai", datetime(2021, 8, 23, 3, 3, 10, 500000)),
        ("1629687792000", "Asia/Shanghai", datetime(2021, 8, 23, 3, 3, 12)),
    ],
)
def test_time_forms(ts, zone, expected):
    assert row(f'{{"ts": {ts}, "latency_ms": 1}}', zone=zone)["time"] == expected.replace(
        tzinfo=UTC
    )


def test_minimal_object_defaults():
    out = row('{"ts": 1629687790, "latency_ms": "250"}')
    assert out["side"] == "client"
    assert out["latency_s"] == 0.25
    assert (out["status"], out["station"], out["request_id"]) == ("", "", "")
    assert math.isnan(out["bytes"])


@pytest.mark.parametrize(
    "status, expected", [('"TIMEOUT"', "timeout"), ('"Error"', "error"), ('"504"', "504")]
)
def test_status_forms(status, expected):
    assert row(f'{{"ts": 1629687790, "latency_ms": 1, "status": {status}}}')["status"] == expected


def test_configured_field_names():
    names = {"ts": "@timestamp", "latency_ms": "cost_ms", "station": "client", "status": "code"}
    line = '{"@timestamp": "2021-08-23T03:03:00Z", "cost_ms": 5000, "client": "st-3", "code": 0}'
    with pytest.raises(LineError) as err:
        row(line, jsonl_fields=names)
    assert err.value.field == "code"  # errors use the user's own name
    out = row(line.replace('"code": 0', '"code": "timeout"'), jsonl_fields=names)
    assert (out["station"], out["latency_s"], out["status"]) == ("st-3", 5.0, "timeout")


@pytest.mark.parametrize(
    "line, field",
    [
        ("[1, 2]", "json"),
        ('{"ts": 1629687790, "latency_ms": 1', "json"),
        ('{"latency_ms": 1}', "ts"),
        ('{"ts": "yesterday-ish", "latency_ms": 1}', "ts"),
        ('{"ts": true, "latency_ms": 1}', "ts"),
        ('{"ts": 1629687790}', "latency_ms"),
        ('{"ts": 1629687790, "latency_ms": -3}', "latency_ms"),
        ('{"ts": 1629687790, "latency_ms": "slow"}', "latency_ms"),
        ('{"ts": 1629687790, "latency_ms": 1, "status": "gave up"}', "status"),
        ('{"ts": 1629687790, "latency_ms": 1, "status": 42}', "status"),
        ('{"ts": 1629687790, "latency_ms": 1, "side": "proxy"}', "side"),
        ('{"ts": 1629687790, "latency_ms": 1, "bytes": "many"}', "bytes"),
    ],
)
def test_bad_object_names_the_field(line, field):
    with pytest.raises(LineError) as err:
        jsonl.parse(line, ctx())
    assert err.value.field == field


def test_sample_file():
    batch = read_log(SAMPLE, "jsonl", ctx())
    assert (batch.lines, batch.malformed) == (20, 3)
    assert [(m.line, m.field) for m in batch.samples] == [
        (13, "status"),
        (14, "latency_ms"),
        (15, "json"),
    ]
    df = batch.frames["requests"]
    assert len(df) == 17
    zoneless = df[df["request_id"] == "st03-000410"]
    assert zoneless.index[0] == datetime(2021, 8, 23, 3, 3, 6, 4000, tzinfo=UTC)
    assert (zoneless["status"].iloc[0], zoneless["latency_s"].iloc[0]) == ("timeout", 5.003)
    assert math.isnan(zoneless["bytes"].iloc[0])
    assert df["status"].value_counts().to_dict() == {"200": 13, "timeout": 2, "502": 1, "error": 1}
    assert df["side"].value_counts().to_dict() == {"client": 16, "server": 1}
    assert df.index.is_monotonic_increasing


def test_timeout_without_latency_is_kept():
    import math

    from collectors.base import ParseContext
    from collectors.logs import jsonl
    from rca.timeutil import get_zone

    c = ParseContext("x.jsonl", get_zone("UTC"))
    ((_, row),) = jsonl.parse('{"ts": "2021-08-23T03:03:05Z", "status": "timeout"}', c)
    assert row["status"] == "timeout" and math.isnan(row["latency_s"])


def test_a_lone_surrogate_is_one_malformed_line_not_a_failed_file(tmp_path):
    """``"\\ud800"`` is valid JSON but no character: it must not sink the file's frame."""
    good = '{"ts": "2021-08-23T03:03:05Z", "station": "s1", "latency_ms": 5, "status": 200}'
    path = tmp_path / "x.jsonl"
    path.write_text(good + "\n" + good.replace('"s1"', '"\\ud800"') + "\n" + good + "\n")
    batch = read_log(path, "jsonl", ParseContext(str(path), get_zone("UTC"), {}))
    assert batch.malformed == 1 and batch.samples[0].field == "station"
    assert len(batch.frames["requests"]) == 2
