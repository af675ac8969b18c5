"""nginx combined (+ main, + $request_time): service from the path, every ending read."""

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.base import LineError, ParseContext
from collectors.logs import nginx_combined, read_log
from collectors.logs.nginx_combined import parse_time_local
from rca.timeutil import get_zone

SAMPLE = Path(__file__).parents[2] / "data" / "logs" / "nginx-combined.log"
LINE = (
    '10.20.1.32 - - [23/Aug/2021:11:02:58 +0800] "POST /waishi/predict?version=3 HTTP/1.1" '
    '200 498 "-" "python-requests/2.25.1" 0.433'
)


def ctx() -> ParseContext:
    return ParseContext("access.log", get_zone("Asia/Shanghai"))


def test_line_gives_exact_row():
    assert nginx_combined.parse(LINE, ctx()) == [
        (
            "requests",
            {
                "time": datetime(2021, 8, 23, 3, 2, 58, tzinfo=UTC),
                "side": "server",
                "station": "10.20.1.32",
                "service": "waishi",
                "latency_s": 0.433,
                "status": "200",
                "bytes": 498,
            },
        )
    ]


@pytest.mark.parametrize(
    "request_, service",
    [
        ("GET / HTTP/1.1", ""),
        ("-", ""),
        ("GET /neishi HTTP/1.0", "neishi"),
        ("GET http://proxy.example.com/rgw/bucket/key HTTP/1.1", "rgw"),
    ],
)
def test_service_is_first_path_segment(request_, service):
    line = LINE.replace("POST /waishi/predict?version=3 HTTP/1.1", request_)
    ((_, row),) = nginx_combined.parse(line, ctx())
    assert row["service"] == service


def test_plain_combined_is_read_with_unknown_latency():
    # Issue 7 item 5 changed this: plain combined was malformed ("append $request_time"),
    # but its 4xx/5xx waves are evidence, so it is a row with NaN latency.
    plain = LINE.rsplit(" ", 1)[0].replace(" 200 498 ", " 413 183 ")
    assert nginx_combined.sniff(plain)
    ((_, row),) = nginx_combined.parse(plain, ctx())
    assert row["status"] == "413" and row["bytes"] == 183
    assert math.isnan(row["latency_s"])


def test_bad_status_names_status():
    with pytest.raises(LineError) as err:
        nginx_combined.parse(LINE.replace(" 200 498 ", " ok 498 "), ctx())
    assert err.value.field == "status"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("23/Aug/2021:11:03:05 +0800", datetime(2021, 8, 23, 3, 3, 5, tzinfo=UTC)),
        ("23/Aug/2021:03:03:05 +0000", datetime(2021, 8, 23, 3, 3, 5, tzinfo=UTC)),
        ("22/Aug/2021:22:33:05 -0430", datetime(2021, 8, 23, 3, 3, 5, tzinfo=UTC)),
        ("31/Dec/2021:23:59:59 -0100", datetime(2022, 1, 1, 0, 59, 59, tzinfo=UTC)),
    ],
)
def test_time_local_offsets(text, expected):
    assert parse_time_local(text) == expected


@pytest.mark.parametrize("text", ["2021-08-23T11:03:05", "29/Feb/2021:00:00:00 +0000", ""])
def test_bad_time_local(text):
    with pytest.raises(LineError) as err:
        parse_time_local(text)
    assert err.value.field == "time"


def test_sample_file():
    batch = read_log(SAMPLE, "nginx-combined", ctx())
    # line 12 is plain combined: a row with unknown latency since issue 7 item 5;
    # line 23 is cut short
    assert (batch.lines, batch.malformed) == (22, 1)
    (bad,) = batch.samples
    assert (bad.file, bad.line, bad.field) == (str(SAMPLE), 23, "status")
    df = batch.frames["requests"]
    assert len(df) == 21
    assert df["latency_s"].isna().sum() == 1
    assert df[df["latency_s"].isna()]["source"].tolist() == ["nginx-combined.log:12"]
    assert df["service"].value_counts().to_dict() == {
        "neishi": 12,
        "waishi": 5,
        "": 2,
        "nginx_status": 1,
        "models": 1,
    }
    slow = df[df["status"] == "504"].iloc[0]
    assert df[df["status"] == "504"].index[0] == datetime(2021, 8, 23, 3, 3, 6, tzinfo=UTC)
    assert (slow["latency_s"], slow["bytes"], slow["source"]) == (
        60.002,
        167.0,
        "nginx-combined.log:6",
    )
