"""RGW daemon log: req done rows, broken pipe / SIGTERM events, zone-less times."""

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.base import LineError, ParseContext
from collectors.logs import read_log, rgw
from rca.timeutil import get_zone

SAMPLE = Path(__file__).parents[2] / "data" / "logs" / "rgw.log"
SETTINGS = {
    "service": "ceph-rgw",
    "object": "pod/rook-ceph/rook-ceph-rgw-store-a-5c9f7d-8kq2x",
    "log_zone": "Asia/Shanghai",  # these samples were written in a TZ=Asia/Shanghai pod
}


def ctx(zone: str = "Asia/Shanghai", **settings) -> ParseContext:
    return ParseContext("rgw.log", get_zone(zone), settings)


# Issue 7 item 2 changed this: zone-less RGW times were read in --tz (8 h off for
# Asia/Shanghai); a container logs in UTC unless told otherwise (logs.zone / logs.zones).
def test_nautilus_req_done_zoneless_is_utc_unless_the_source_says_otherwise():
    line = (
        "debug 2019-10-25 02:35:14.549 7f4880b98700  1 ====== req done req=0x55aa678c48e0 op "
        "status=0 http_status=200 latency=1.076s ======"
    )
    assert rgw.parse(line, ctx(log_zone="Asia/Shanghai")) == [
        (
            "requests",
            {
                "time": datetime(2019, 10, 24, 18, 35, 14, 549000, tzinfo=UTC),
                "side": "server",
                "service": "rgw",
                "request_id": "0x55aa678c48e0",
                "status": "200",
                "latency_s": 1.076,
                "upstream": "op status=0 http_status=200",
            },
        )
    ]
    ((_, in_utc),) = rgw.parse(line, ctx("Asia/Shanghai"))  # --tz does not apply
    assert in_utc["time"] == datetime(2019, 10, 25, 2, 35, 14, 549000, tzinfo=UTC)
    per_source = ctx(log_zones={"*/rgw*.log": "Asia/Shanghai"}, log_zone="UTC")
    per_source.file = "/var/log/ceph/rgw.log"
    ((_, row),) = rgw.parse(line, per_source)
    assert row["time"] == datetime(2019, 10, 24, 18, 35, 14, 549000, tzinfo=UTC)


def test_newer_format_carries_its_offset():
    line = (
        "2023-01-04T09:27:54.404+0000 7f2a1c8a9700  1 ====== req done req=0x7f2a1c8a4650 op "
        "status=0 http_status=200 latency=0.001000018s ======"
    )
    ((_, row),) = rgw.parse(line, ctx(service="ceph-rgw"))
    assert row["time"] == datetime(2023, 1, 4, 9, 27, 54, 404000, tzinfo=UTC)
    assert (row["latency_s"], row["service"]) == (0.001000018, "ceph-rgw")


def test_squid_req_done_names_op_and_bucket():
    """Squid's line (pasted in rook/rook#17459) has ``op=<name> bucket=<name> status=``
    where older releases print ``op status=``: read alike, not skipped as another message."""
    line = (
        "debug 2026-04-30T06:42:11.635+0000 7e778eb20640  1 ====== req done "
        "req=0x7e773c754310 op=list_buckets bucket= status=-104 http_status=200 "
        "latency=0.250000000s request_id=tx00000edc699d2dc233606-0069f2f9c3-5529-s3 ======"
    )
    ((table, row),) = rgw.parse(line, ctx())
    assert (table, row["status"], row["latency_s"]) == ("requests", "499", 0.25)
    assert row["upstream"] == "op status=-104 http_status=200"
    assert row["time"] == datetime(2026, 4, 30, 6, 42, 11, 635000, tzinfo=UTC)


def test_luminous_req_done_without_latency():
    line = (
        "2018-03-01 10:00:00.000 7f1 1 ====== req done req=0x5566c5fa4f80 op status=0 "
        "http_status=204 ======"
    )
    ((_, row),) = rgw.parse(line, ctx())
    assert row["status"] == "204"
    assert math.isnan(row["latency_s"])


def test_broken_pipe_event():
    line = (
        "debug 2019-10-25 02:35:14.549 7f4880b98700  0 ERROR: client_io->complete_request() "
        "returned Broken pipe"
    )
    time = datetime(2019, 10, 24, 18, 35, 14, 549000, tzinfo=UTC)
    assert rgw.parse(line, ctx(**SETTINGS)) == [
        (
            "events",
            {
                "time": time,
                "type": "Warning",
                "kind": "Pod",
                "reason": "BrokenPipe",
                "object": SETTINGS["object"],
                "message": "ERROR: client_io->complete_request() returned Broken pipe",
                "count": 1,
                "first_seen": time,
                "last_seen": time,
            },
        )
    ]


@pytest.mark.parametrize(
    "message",
    [
        "received  signal: Terminated from /dev/init -- /usr/bin/radosgw (PID: 1) UID: 0",
        "handle_sigterm",
        "caught SIGTERM, shutting down",
    ],
)
def test_sigterm_event(message):
    ((table, event),) = rgw.parse(f"2021-08-23 11:04:30.002 7f48a43a1700 -1 {message}", ctx())
    assert (table, event["reason"], event["message"]) == ("events", "SIGTERM", message)


@pytest.mark.parametrize(
    "line",
    [
        "debug 2021-08-23 11:02:58.301 7f4880b98700  1 ====== starting new request req=0x55 =====",
        "2021-08-23T03:04:30.210+0000 7f48b0e67780  1 final shutdown",
    ],
)
def test_other_lines_carry_nothing(line):
    assert rgw.parse(line, ctx()) == []


@pytest.mark.parametrize(
    "line",
    [
        " ceph version 14.2.4 (75f4de193b3ea58512f204623e6c5a16e6c1e1ba) nautilus (stable)",
        "debug 2021-13-23 11:04:30.002 7f48a43a1700  1 handle_sigterm",
        "Aug 23 11:04:30 node1 radosgw[812]: handle_sigterm",
    ],
)
def test_line_without_valid_time_is_malformed(line):
    with pytest.raises(LineError) as err:
        rgw.parse(line, ctx())
    assert err.value.field == "time"


def test_sample_file():
    batch = read_log(SAMPLE, "rgw", ctx(**SETTINGS))
    assert (batch.lines, batch.malformed) == (24, 1)
    (bad,) = batch.samples
    assert (bad.line, bad.field) == (17, "time")
    requests = batch.frames["requests"]
    # line 10 (op status=-32, http_status=200) is a client abort since issue 7 item 6
    assert list(requests["status"]) == ["200", "200", "499", "404", "503", "200"]
    assert set(requests["service"]) == {"ceph-rgw"}
    slow = requests[requests["latency_s"] > 10]
    assert list(slow.index) == [datetime(2021, 8, 23, 3, 3, 15, 512000, tzinfo=UTC)]
    assert slow["source"].iloc[0] == "rgw.log:10"
    events = batch.frames["events"]
    assert list(events["reason"]) == ["BrokenPipe", "SIGTERM", "SIGTERM", "SIGTERM"]
    assert set(events["source"]) == {"log"}
    assert set(events["object"]) == {SETTINGS["object"]}
    assert events.index[0] == datetime(2021, 8, 23, 3, 3, 15, 512000, tzinfo=UTC)
    assert (events["first_seen"] == events.index).all()
