"""RGW in columns: the same rows, row ids, counts and malformed samples as ``rgw.parse``
line by line, on files mixing real RGW lines (Luminous to Squid, pasted in Ceph and Rook
threads) with variants and garbage; and the daemon's other lines counted, not re-read."""

import math
import random
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from collectors.base import ParseContext
from collectors.logs import blocks, columns, reader, rgw
from collectors.logs.rgw_columns import read_rgw
from rca.timeutil import get_zone

#: ``req done`` lines, each read by the columns, with the status ``rgw.parse`` gives.
DONE = [
    # Nautilus, zone-less (rook's "debug " prefix)
    ("debug 2019-10-25 02:35:14.549 7f4880b98700  1 ====== req done req=0x55aa678c48e0 op "
     "status=0 http_status=200 latency=1.076s ======", "200"),
    # Octopus, with an offset (ceph/ceph#37642)
    ("2020-11-29T18:34:06.571+0200 7fa34ee60700  1 ====== req done req=0x7fa24b4581f8 op "
     "status=0 http_status=200 latency=0.007999953s ======", "200"),
    # Pacific, +0000
    ("2023-01-04T09:27:54.404+0000 7f2a1c8a9700  1 ====== req done req=0x7f2a1c8a4650 op "
     "status=0 http_status=200 latency=0.001000018s ======", "200"),
    # Luminous: no latency
    ("2018-03-01 10:00:00.000 7f1 1 ====== req done req=0x5566c5fa4f80 op status=0 "
     "http_status=204 ======", "204"),
    # a download the client cut off (ECONNRESET, EPIPE), another op failure behind a 200
    ("debug 2021-08-23 11:03:15.512 7f4882b9c700  1 ====== req done req=0x55aa67b01320 op "
     "status=-104 http_status=206 latency=10.012s ======", "499"),
    ("debug 2021-08-23 11:03:15.512 7f4882b9c700  1 ====== req done req=0x55aa67b01320 op "
     "status=-32 http_status=200 latency=10.012s ======", "499"),
    ("debug 2021-08-23 11:03:15.600 7f4882b9c700  1 ====== req done req=0x55aa67b01320 op "
     "status=-5 http_status=200 latency=0.3s ======", "500"),
    ("debug 2021-08-23 11:03:17.009 7f4880b98700  1 ====== req done req=0x55aa678c48e0 op "
     "status=-2 http_status=404 latency=0.005s ======", "404"),
    # Squid names the op and the bucket (rook/rook#17459)
    ("debug 2026-04-30T06:42:11.635+0000 7e778eb20640  1 ====== req done req=0x7e773c754310 "
     "op=list_buckets bucket= status=0 http_status=200 latency=0.000000000s "
     "request_id=tx00000edc699d2dc233606-0069f2f9c3-5529-s3 ======", "200"),
    # kubectl --timestamps and the CRI prefix before RGW's own time
    ("2021-08-23T03:03:20.112Z debug 2021-08-23 03:03:20.112 7f4881399700  1 ====== req done "
     "req=0x55aa67a1c6e0 op status=0 http_status=503 latency=0.002s ======", "503"),
    ("2023-01-04T09:27:54.404512345Z stdout F 2023-01-04T09:27:54.404+0000 7f2a1c8a9700  1 "
     "====== req done req=0x7f2a1c8a4650 op status=0 http_status=200 latency=0.5s ======", "200"),
]
#: Lines that carry no row, each recognised by the columns.
OTHER = [
    "debug 2021-08-23 11:02:58.301 7f4880b98700  1 ====== starting new request "
    "req=0x55aa678c48e0 =====",
    "2020-11-29T18:34:06.563+0200 7fa35ce7c700  1 ====== starting new request "
    "req=0x7fa24b4581f8 =====",
    # Octopus beast access line (ceph/ceph#37642), and Squid's (rook/rook#17459)
    '2020-11-29T18:34:06.571+0200 7fa34ee60700  1 beast: 0x7fa24b4581f8: 127.0.0.1 - cosbench '
    '[29/Nov/2020:18:34:06.563 +0200] "PUT /b01b000000000000/000000000995 HTTP/1.1" 200 16384 '
    '- "aws-sdk-go/1.25.36 (go1.12.13; linux; amd64)" -',
    "debug 2026-04-30T06:42:11.635+0000 7e778eb20640  1 beast: 0x7e773c754310: 127.0.0.1 - "
    'anonymous [30/Apr/2026:06:42:11.635 +0000] "GET / HTTP/1.1" 200 204 - "curl/7.76.1" - '
    "latency=0.000000000s",
    "debug 2026-04-30T06:42:12.683+0000 7e77712e5640  1 ====== starting new request "
    "req=0x7e773c7d5310 request_id=tx00000e6b7f2f9528565c4-0069f2f9c4-5529-s3 =====",
    "debug 2021-08-23 11:03:05.501 7f4882b9c700  2 req 1045 0.001s s3:get_obj recalculating "
    "target",
    "debug 2021-08-23 11:03:20.112 7f4881399700 -1 req 1047 0.002s op->ERRORHANDLER: "
    "err_no=-2002 new_err_no=-2002",
    "2021-08-23T03:04:30.210+0000 7f48b0e67780  1 final shutdown",
    "2021-02-30T03:04:30.210+0000 7f48b0e67780  1 final shutdown",  # never read: no time
]
#: Lines the columns leave to ``rgw.parse``: events, variants, malformed lines.
LEFT = [
    # events
    "debug 2021-08-23 11:03:15.512 7f4882b9c700  0 ERROR: client_io->complete_request() "
    "returned Broken pipe",
    "debug 2021-08-23 11:04:30.002 7f48a43a1700  1 handle_sigterm",
    "2021-08-23 11:04:30.002 7f48a43a1700 -1 received  signal: Terminated from /dev/init -- "
    "/usr/bin/radosgw (PID: 1) UID: 0",
    "2023-01-04T09:27:54.404+0000 7f2a1c8a9700  0 ERROR: RESTFUL_IO(s)->complete_header() "
    "returned err=Connection reset by peer",
    # a trailing space (as pasted): stripped, then read line by line
    "2020-11-29T18:34:06.580+0200 7fa35566d700  1 ====== req done req=0x7fa24b4581f8 op "
    "status=0 http_status=200 latency=0.008999947s ====== ",
    # latencies rgw.parse refuses or reads its own way; statuses it does not read
    "2023-01-04T09:27:54.404+0000 7f2 1 ====== req done req=0x1 op status=0 http_status=200 "
    "latency=1.0s5s ======",
    "2023-01-04T09:27:54.404+0000 7f2 1 ====== req done req=0x1 op status=0 http_status=200 "
    "latency=1e3s ======",
    "2023-01-04T09:27:54.404+0000 7f2 1 ====== req done req=0x1 op status=0 http_status=200 "
    "latency=0.1234567890s ======",
    "2023-01-04T09:27:54.404+0000 7f2 1 ====== req done req=0x1 op status=0 http_status=2000",
    # times: no such day, hour 24, an offset of a day, a year out of range, 10 digits
    "2021-02-29 11:03:17.009 7f4 1 ====== req done req=0x1 op status=0 http_status=200 ======",
    "2021-08-23 24:00:00.009 7f4 1 ====== req done req=0x1 op status=0 http_status=200 ======",
    "2021-08-23T11:03:17.009+2400 7f4 1 ====== req done req=0x1 op status=0 http_status=200",
    "2021-08-23T11:03:17.009+0099 7f4 1 ====== req done req=0x1 op status=0 http_status=200",
    "1969-12-31 23:59:59.999 7f4 1 ====== req done req=0x1 op status=0 http_status=200 ======",
    "2021-08-23 11:03:17.0123456789 7f4 1 ====== req done req=0x1 op status=0 http_status=200",
    "debug 2021-13-23 11:04:30.002 7f48a43a1700  1 handle_sigterm",
    # not RGW lines at all
    " ceph version 14.2.4 (75f4de193b3ea58512f204623e6c5a16e6c1e1ba) nautilus (stable)",
    "Aug 23 11:04:30 node1 radosgw[812]: handle_sigterm",
    "garbage line that is not an RGW log",
    "debug 2021-08-23 11:03:17.009 7f4880b98700  1 ====== req done req=0x55 op status=0 "
    "http_status=200 latency=0.005s ====== \u00e9",
    "2021-08-23T03:03:05.1Z stdout P debug 2021-08-23 11:03:17.009 7f4880b98700  1 ====== req",
    "2021-08-23T03:03:05.1Z stdout F  done req=0x55 op status=0 http_status=200 ======",
]


def ctx(path: str = "rgw.log", **settings) -> ParseContext:
    return ParseContext(path, get_zone("Asia/Shanghai"), settings)


def test_req_done_lines_become_the_per_line_parsers_rows():
    lines = [line for line, _ in DONE]
    read, frame, skipped = read_rgw(pa.array([f"{t}\n" for t in lines]), ctx(service="s3"))
    assert list(read) == list(range(len(DONE))) and not len(skipped[rgw.OTHER_MESSAGE])
    assert list(frame["status"]) == [status for _, status in DONE]
    for (_, row), (time, got) in zip((rgw.parse(t, ctx(service="s3"))[0] for t in lines),
                                     frame.iterrows(), strict=True):
        assert time == row.pop("time")
        for name, value in row.items():
            assert got[name] == value or math.isnan(value) and math.isnan(got[name]), name
    assert math.isnan(frame["latency_s"].iloc[3])  # Luminous
    assert frame["upstream"].iloc[4] == "op status=-104 http_status=206"


def test_other_daemon_lines_are_counted_and_the_rest_left():
    plain = [t for t in LEFT if t.isascii() and t.strip() == t]  # as blocks hands them
    lines = OTHER + plain + [line for line, _ in DONE]
    read, frame, skipped = read_rgw(pa.array([f"{t}\n" for t in lines]), ctx())
    assert list(skipped) == [rgw.OTHER_MESSAGE]
    assert list(skipped[rgw.OTHER_MESSAGE]) == list(range(len(OTHER)))
    first = len(OTHER) + len(plain)
    assert list(read) == list(range(first, len(lines))) and len(frame) == len(DONE)
    for line in OTHER:
        assert rgw.parse(line, ctx()) == []  # what the columns count them as


@pytest.mark.parametrize("settings", [{}, {"log_zone": "Asia/Shanghai"},
                                      {"log_zone": "Europe/Berlin"}, {"log_zone": "-03:30"},
                                      {"log_zone": "UTC", "log_zones": {"*/rgw.log": "CET"}}])
@pytest.mark.parametrize("cri", [False, True])
def test_columns_equal_per_line_on_mixed_files(tmp_path, monkeypatch, settings, cri):
    """Real lines in a random mix, zone-less times around Berlin's DST changes (a skipped
    and a repeated hour), garbage; small blocks: identical frames, ids and counts, and the
    columns read nearly every line."""
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 3000)
    monkeypatch.setattr(blocks, "READ_BYTES", 256)
    per_line = _counted(monkeypatch, reader, "parse_line")
    by_columns = _read_counted(monkeypatch)
    path = tmp_path / "rgw.log"
    _write_mixed(path, 1500, seed=len(str(settings)), cri=cri)
    fast = reader.read_log(path, "rgw", ctx(str(path), **settings), keep=50)
    left = len(per_line)
    slow = reader.read_log_per_line(path, "rgw", ctx(str(path), **settings), keep=50)
    assert (fast.lines, fast.kept, fast.malformed, fast.skipped) == \
        (slow.lines, slow.kept, slow.malformed, slow.skipped)
    assert fast.samples == slow.samples and slow.malformed > 10  # file, line, field, text
    assert fast.frames.keys() == slow.frames.keys() == {"requests", "events"}
    for table, frame in slow.frames.items():
        pd.testing.assert_frame_equal(fast.frames[table], frame)
    assert len(slow.frames["requests"]) > 250 and slow.skipped[rgw.OTHER_MESSAGE] > 500
    # the columns read most lines, rows and others alike (a block holding a CRI P fragment
    # is read line by line), the rest went line by line
    assert sum(by_columns) > fast.lines * 0.6 and 0 < left < fast.lines * 0.3


def _write_mixed(path: Path, lines: int, seed: int, cri: bool) -> None:
    """Requests as RGW prints them (start, steps, done, beast), from the real lines
    above, with zone-less hours around DST changes, and every odd line sprinkled in."""
    rng = random.Random(seed)
    dst = [f"debug 2021-{day} {hour}:{rng.randint(0, 59):02d}:07.{rng.randint(0, 999):03d} "
           f"7f4880b98700  1 ====== req done req=0x55 op status=0 http_status=200 "
           f"latency=0.0{rng.randint(0, 9)}s ======"
           for day in ("03-28", "10-31") for hour in ("01", "02", "03")]
    out = []
    while len(out) < lines:
        roll = rng.random()
        if roll < 0.1:
            out.append(rng.choice(LEFT))
            continue
        out += rng.sample(OTHER[:-1], 2)
        out.append(rng.choice(dst) if roll < 0.25 else rng.choice(DONE)[0])
        out.append(OTHER[rng.choice([2, 3])])
    if cri:
        out = [f"2021-08-23T03:03:{i % 60:02d}.{i:09d}Z stdout F {t}" if t.strip() == t else t
               for i, t in enumerate(out)]
    path.write_text("\n".join(out[:lines]) + "\n")


def _counted(monkeypatch, module, name: str) -> list:
    calls = []
    original = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a: calls.append(1) or original(*a))
    return calls


def _read_counted(monkeypatch) -> list[int]:
    """How many lines the registered column parser took, rows and others, per block."""
    taken = []
    registered = columns.COLUMN_PARSERS[rgw.NAME]

    def counted(lines, context):
        read, frame, skipped = registered(lines, context)
        taken.append(len(read) + sum(len(where) for where in skipped.values()))
        return read, frame, skipped

    monkeypatch.setitem(columns.COLUMN_PARSERS, rgw.NAME, counted)
    return taken
