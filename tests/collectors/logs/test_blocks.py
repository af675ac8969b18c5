"""The block reader equals the per-line reader: same rows (all columns, row ids, order),
same malformed counts and samples, on real-shaped files full of variants and garbage."""

import gzip
import random
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import MAX_LINE, ParseContext
from collectors.logs import blocks, reader
from collectors.logs.nginx_columns import read_time_local
from rca.timeutil import get_zone

DATA = Path(__file__).parents[2] / "data" / "logs"


def ctx(path: Path) -> ParseContext:
    return ParseContext(str(path), get_zone("Asia/Shanghai"), {"jsonl_fields": {}})


def _sample(name: str) -> list[str]:
    return [line for line in (DATA / name).read_text().splitlines() if line.strip()]


#: Lines the column parsers must hand to the per-line parser, each for its own reason.
ODD = [
    # upstream retries: a list in the upstream fields
    '10.20.1.31 - - [23/Aug/2021:11:03:05 +0800] "POST /predict HTTP/1.1" 504 0 "-" '
    '"python-requests/2.25.1" 6291754 15.001 [inference-neishi-8080] [] '
    '10.244.1.17:8080, 10.244.2.9:8080 0, 0 5.000, 10.001 504, 504 0e5a2c7d1b',
    # nginx escapes a quote in the agent as \x22; a quote in the user
    '10.0.0.9 - bob"s [23/Aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200 1 "-" '
    '"curl \\x22x\\x22" 0.010',
    "10.0.0.9 - - [23/Aug/2021:11:03:06 +0800] \"GET /it's HTTP/1.1\" 200 1 \"-\" \"a\" 0.010",
    # times the lenient strptime would read and the per-line parser refuses or differs on
    '10.0.0.1 - - [31/Feb/2021:11:03:06 +0800] "GET / HTTP/1.1" 200 1 "-" "a" 0.010',
    '10.0.0.1 - - [23/Aug/2021:11:03:60 +0800] "GET / HTTP/1.1" 200 1 "-" "a" 0.010',
    '10.0.0.1 - - [23/Aug/2021:24:00:00 +0800] "GET / HTTP/1.1" 200 1 "-" "a" 0.010',
    '10.0.0.1 - - [23/aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200 1 "-" "a" 0.010',
    '10.0.0.1 - - [23/Aug/2021:11:03:06 +2500] "GET / HTTP/1.1" 200 1 "-" "a" 0.010',
    '10.0.0.1 - - [23/Aug/1969:11:03:06 -0930] "GET / HTTP/1.1" 200 1 "-" "a" 0.010',
    # absurd numbers
    '10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200 '
    '12345678901234567890 "-" "a" 0.010',
    '10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200 1 "-" "a" '
    '0.1234567890123',
    # non-ASCII, a tab, edge spaces: decoded and stripped the way the per-line reader does
    '10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] "GET /检测 HTTP/1.1" 200 1 "-" "a" 0.010',
    '10.0.0.1 - -\t[23/Aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200 1 "-" "a" 0.010',
    '   10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200 1 "-" "a" 0.010  ',
    "\u00a0\u3000",
    "   ",
    # plain combined (no $request_time), truncated lines, other formats, garbage
    '10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200 1 "-" "a"',
    '10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200',
    'I0823 03:00:01.000000       7 controller.go:165] "Configuration changes detected"',
    '{"ts": "2021-08-23T11:03:05+08:00", "station": "s1", "latency_ms": 12, "status": 200}',
    "garbage line that is not an access log",
    "",
    # a CRI-wrapped access line, and a line too long to be read
    '2021-08-23T03:03:05.123456789Z stdout F 10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] '
    '"GET / HTTP/1.1" 200 1 "-" "a" 0.010',
    "x" * (MAX_LINE + 10),
]


def _write_mixed(path: Path, lines: int, seed: int, main: str = "ingress-nginx.log") -> None:
    """Real sample lines, repeated (so identical lines recur across blocks), with every
    odd line and raw bytes (invalid UTF-8, CR, CRLF) sprinkled in."""
    rng = random.Random(seed)
    other = "nginx-combined.log" if main == "ingress-nginx.log" else "ingress-nginx.log"
    pool = _sample(main) * 4 + _sample(other)
    out = bytearray("\ufeff".encode())
    for i in range(lines):
        roll = rng.random()
        if roll < 0.15:
            text = rng.choice(ODD).encode()
        elif roll < 0.17:
            text = b"10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] \"GET /\xff\xfe HTTP/1.1\" 200 1 " \
                   b"\"-\" \"a\" 0.010"
        else:
            text = rng.choice(pool).encode()
        end = rng.choice([b"\n"] * 20 + [b"\r\n", b"\r"])
        out += text + end
        if i % 97 == 0:
            out += b"\n"
    path.write_bytes(bytes(out))


def _equal(path: Path, fmt: str) -> None:
    fast = reader.read_log(path, fmt, ctx(path), keep=50)
    slow = reader.read_log_per_line(path, fmt, ctx(path), keep=50)
    assert (fast.lines, fast.malformed) == (slow.lines, slow.malformed)
    assert (fast.kept, fast.skipped) == (slow.kept, slow.skipped)
    assert fast.samples == slow.samples
    assert fast.frames.keys() == slow.frames.keys()
    for table, frame in slow.frames.items():
        pd.testing.assert_frame_equal(fast.frames[table], frame)


def _small_blocks_counting_per_line(monkeypatch, block_bytes: int) -> list:
    """Small blocks and reads (many block edges), and a list that grows by one for each line
    left to the per-line parser: how a test sees that the columns read most lines."""
    monkeypatch.setattr(blocks, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(blocks, "READ_BYTES", 256)
    calls = []
    per_line = reader.parse_line
    monkeypatch.setattr(reader, "parse_line", lambda *a: calls.append(1) or per_line(*a))
    return calls


@pytest.mark.parametrize("fmt", ["ingress-nginx", "nginx-combined"])
@pytest.mark.parametrize("block_bytes", [4000, 64 << 10])
def test_blocks_equal_per_line_on_mixed_files(tmp_path, monkeypatch, fmt, block_bytes):
    calls = _small_blocks_counting_per_line(monkeypatch, block_bytes)
    path = tmp_path / "access.log"
    _write_mixed(path, 2000, seed=len(fmt) + block_bytes, main=f"{fmt}.log")
    fast = reader.read_log(path, fmt, ctx(path))
    # the column parser did read most lines: the fallback saw far fewer than all of them
    assert 0 < len(calls) < fast.lines * 0.6
    _equal(path, fmt)
    slow = reader.read_log_per_line(path, fmt, ctx(path))
    assert slow.malformed > 100 and sum(len(f) for f in slow.frames.values()) > 1000
    assert slow.skipped  # the klog lines


def test_gzip_rotated_file_equals_per_line(tmp_path):
    plain = tmp_path / "plain.log"
    _write_mixed(plain, 500, seed=7)
    path = tmp_path / "access.log.2.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    _equal(path, "ingress-nginx")


@pytest.mark.parametrize("name, fmt", [("requests.jsonl", "jsonl"), ("coredns.log", "coredns"),
                                       ("coredns-cri.log", "coredns"), ("rgw.log", "rgw")])
def test_formats_without_columns_read_in_blocks_alike(tmp_path, monkeypatch, name, fmt):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 500)
    monkeypatch.setattr(blocks, "READ_BYTES", 256)  # small reads: many blocks
    path = tmp_path / name
    lines = _sample(name)
    path.write_text("\n".join(lines * 3 + ["garbage"] + lines) + "\n")
    _equal(path, fmt)


def test_occurrences_beyond_the_largest_run_are_still_counted(tmp_path, monkeypatch):
    """Runs stop merging at ``MAX_RUN`` lines: a line repeated far apart is still found
    in whichever run holds it."""
    from collectors.logs import occurrences

    monkeypatch.setattr(occurrences, "MAX_RUN", 40)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 600)
    monkeypatch.setattr(blocks, "READ_BYTES", 256)
    path = tmp_path / "access.log"
    lines = _sample("ingress-nginx.log")
    path.write_text("\n".join(lines * 12) + "\n")
    frame = reader.read_log(path, "ingress-nginx", ctx(path)).frames["requests"]
    assert frame["row_id"].nunique() == len(frame) > 200
    _equal(path, "ingress-nginx")


def test_repeated_lines_keep_distinct_row_ids_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 500)
    monkeypatch.setattr(blocks, "READ_BYTES", 256)  # small reads: many blocks
    path = tmp_path / "access.log"
    line = _sample("ingress-nginx.log")[0]
    path.write_text((line + "\n") * 9)
    frame = reader.read_log(path, "ingress-nginx", ctx(path)).frames["requests"]
    assert frame["row_id"].nunique() == 9
    _equal(path, "ingress-nginx")


@pytest.mark.parametrize("text, utc", [
    ("23/Aug/2021:11:03:05 +0800", "2021-08-23T03:03:05Z"),
    ("01/Jan/2022:00:30:00 -0130", "2022-01-01T02:00:00Z"),
    ("29/Feb/2024:23:59:59 +0000", "2024-02-29T23:59:59Z"),
    ("29/Feb/2023:23:59:59 +0000", None),  # no such day: left to the per-line parser
    ("23/Aug/2021:11:03:60 +0800", None),
    ("23/aug/2021:11:03:05 +0800", None),
])
def test_time_local_column(text, utc):
    got = read_time_local(__import__("pyarrow").array([text]))[0].as_py()
    assert got == (None if utc is None else pd.Timestamp(utc).to_pydatetime())


#: JSON records the column parser must leave to the per-line parser (or read exactly as it
#: does): every shape ``jsonl.parse`` treats specially.
JSON_ODD = [
    '{"ts": "2021-08-23T11:03:05+08:00", "station": "s1", "latency_ms": 12, "status": 200}',
    '{"ts": "2021-08-23T03:03:05.123456Z", "station": "s1", "service": "neishi", '
    '"latency_ms": 0, "status": "timeout", "side": "server", "bytes": 512, "upstream": "u"}',
    '{"ts": "2021-08-23T11:03:05.5-00:00", "station": "s1", "status": " Error "}',
    '{"ts": "2021-08-23T11:03:05+08:00", "station": "s1", "status": "504", "latency_ms": 5}',
    '{"ts": "2021-08-23T11:03:05", "station": "s1", "latency_ms": 12}',  # zone-less: --tz
    '{"ts": 1629687785.25, "station": "s1", "latency_ms": 12}',  # epoch seconds
    '{"ts": 1629687785250, "station": "s1", "latency_ms": 12}',  # epoch milliseconds
    '{"ts": 1629687785.0000005, "latency_ms": 1}', '{"ts": 1629687785.0000015, "latency_ms": 1}',
    '{"ts": 1629687785123.5, "latency_ms": 1}', '{"ts": 0, "latency_ms": 1}',
    '{"ts": 100000000000, "latency_ms": 1}', '{"ts": 7000000001, "latency_ms": 1}',
    '{"ts": 1e300, "latency_ms": 1}', '{"ts": -5, "latency_ms": 1}', '{"ts": "1629687785"}',
    # a wall time the clocks skip, and one they repeat, in Europe/Berlin
    '{"ts": "2021-03-28 02:30:00", "latency_ms": 1}', '{"ts": "2021-10-31 02:30:00.5", '
    '"latency_ms": 1}', '{"ts": "2021-10-31T03:30:00", "latency_ms": 1}',
    '{"ts": "2021-08-23T11:03:05.1234567+08:00", "station": "s1", "latency_ms": 1}',
    '{"ts": "2021-02-30T11:03:05+08:00", "station": "s1", "latency_ms": 1}',
    '{"ts": "2021-08-23T24:00:00+08:00", "station": "s1", "latency_ms": 1}',
    '{"ts": "2021-08-23T11:03:05+08", "station": "s1", "latency_ms": 1}',
    '{"ts": "23/Aug/2021 11:03:05", "station": "s1", "latency_ms": 1}',
    '{"ts": "2021-08-23T11:03:05+08:00", "station": 7, "service": null, "latency_ms": "12.5"}',
    '{"ts": "2021-08-23T11:03:05+08:00", "station": ["a"], "latency_ms": 1}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": true, "status": 200}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": -1}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": NaN}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": Infinity}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 1e999}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 123456789012345678901234567890}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5, "bytes": "many"}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5, "status": 700}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5, "status": true}',
    '{"ts": "2021-08-23T11:03:05+08:00", "status": 200}',  # no latency: malformed
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5, "side": "both"}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5, "latency_ms": 7}',  # last wins
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5}, {"ts": "x"}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5} {"ts": "x"}',
    '{"ts": "2021-08-23T11:03:05+08:00", "station": "\\u68c0\\u6d4b", "latency_ms": 5}',
    '{"ts": "2021-08-23T11:03:05+08:00", "station": "检测", "latency_ms": 5}',
    '{"ts": "2021-08-23T11:03:05+08:00", "station": "\\ud800", "latency_ms": 5}',
    '{"ts": "2021-08-23T11:03:05+08:00", "station": "a\\"b", "latency_ms": 5e2, "bytes": 1E3}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5, "x": ' + "[" * 2000 + "]" * 2000 + "}",
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 18446744073709551616}',
    '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 9007199254740993}',
    '{"ts": "1969-08-23T11:03:05+08:00", "latency_ms": 5}',
    '{"ts": "2300-08-23T11:03:05+08:00", "latency_ms": 5}',
    '{"log":"{\\"ts\\": \\"2021-08-23T11:03:05+08:00\\", \\"latency_ms\\": 5}\\n",'
    '"stream":"stdout","time":"2021-08-23T03:03:05.1Z"}',
    '2021-08-23T03:03:05.123456789Z stdout F {"ts": "2021-08-23T11:03:05+08:00", '
    '"latency_ms": 5}',
    '[1, 2]', '{"ts": "2021-08-23T11:03:05+08:00", "latency_ms": 5', '{}', '{"a": {"b": [',
    "[" * 5000, "garbage line that is not JSON", "",
]


@pytest.mark.parametrize("fields, zone", [({}, "Asia/Shanghai"),
                                          ({"ts": "time", "latency_ms": "cost_ms"},
                                           "Europe/Berlin")])
def test_json_lines_in_columns_equal_per_line(tmp_path, monkeypatch, fields, zone):
    """Record by record, the column parser reads what the per-line parser reads, and the
    rest (every odd shape above) is left to it: same rows, ids, counts and samples."""
    calls = _small_blocks_counting_per_line(monkeypatch, 3000)
    rng = random.Random(3)
    pool = _sample("requests.jsonl")
    rename = {f'"{k}":': f'"{v}":' for k, v in fields.items()}
    lines = []
    for _ in range(1500):
        text = rng.choice(JSON_ODD) if rng.random() < 0.2 else rng.choice(pool)
        for old, new in rename.items():
            text = text.replace(old, new)
        lines.append(text)
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    settings = {"jsonl_fields": fields}
    fast = reader.read_log(path, "jsonl", ParseContext(str(path), get_zone(zone), settings),
                           keep=50)
    assert 0 < len(calls) < fast.lines * 0.4  # the columns read most records
    slow = reader.read_log_per_line(path, "jsonl", ParseContext(str(path), get_zone(zone),
                                                                settings), keep=50)
    assert (fast.lines, fast.kept, fast.malformed, fast.skipped) == \
        (slow.lines, slow.kept, slow.malformed, slow.skipped)
    assert fast.samples == slow.samples and slow.malformed > 50
    pd.testing.assert_frame_equal(fast.frames["requests"], slow.frames["requests"])
    assert len(slow.frames["requests"]) > 1000


_Q = ('[INFO] 10.244.1.17:41234 - 5113 "AAAA IN neishi.inference.svc.cluster.local. udp 50 '
      'false 512" NOERROR qr,aa,rd 143 0.000166s')
#: CoreDNS lines the column parser must read exactly as coredns.parse does, or leave to it.
DNS_ODD = [
    f"2021-08-23T11:03:01.123456789+08:00 stdout F {_Q}",
    f"2021-08-23T03:03:01.9999999Z stderr F {_Q}",
    f"2021-08-23T03:03:01Z stdout F {_Q.replace('NOERROR qr,aa,rd', 'NXDOMAIN qr,aa,rd,ra')}",
    f"2021-08-23T03:03:08.411Z stdout F {_Q.replace('NOERROR qr,aa,rd 143', '- - 0')}",
    f"2021-08-23T03:03:01Z stdout F {_Q.replace('NOERROR qr,aa,rd', 'SERVFAIL ')}",
    f"2021-08-23T03:03:01Z stdout F {_Q.replace('10.244.1.17', '[fd00::1]')}",
    f"2021-08-23T03:03:01Z stdout F {_Q.replace('0.000166s', '1.2ms')}",
    f"2021-08-23T03:03:01Z stdout F {_Q.replace('143', 'x')}",
    f"2021-08-23T03:03:01Z stdout F {_Q.replace(' IN ', ' CH ')}",
    f"2021-08-23T03:03:01Z {_Q}",  # kubectl --timestamps
    f"2019-07-19T08:24:57.5651234Z 2019-07-19T08:24:57.565Z {_Q}",  # CoreDNS's own time too
    f"2021-02-30T03:03:01Z stdout F {_Q}",  # no such day
    f"2021-08-23T24:00:00Z stdout F {_Q}",
    f"1969-12-31T23:59:59Z stdout F {_Q}",
    f"2021-08-23T03:03:01Z stdout P {_Q[:60]}",  # a fragment: joined with the next F line
    f"2021-08-23T03:03:01Z stdout F {_Q[60:]}",
    "2020-05-28T03:03:08.002Z stdout F [ERROR] plugin/errors: 2 accountant-server. A: read "
    "udp 172.30.57.16:53039->119.29.29.29:53: i/o timeout",
    "2021-08-23T02:10:11.402392003Z stdout F [INFO] plugin/reload: Running configuration",
    "2021-08-23T02:10:11.402398517Z stdout F CoreDNS-1.8.0", _Q, "garbage", "",
]


def test_coredns_in_columns_equals_per_line(tmp_path, monkeypatch):
    calls = _small_blocks_counting_per_line(monkeypatch, 2000)
    rng = random.Random(5)
    pool = _sample("coredns-cri.log")
    lines = [rng.choice(DNS_ODD) if rng.random() < 0.2 else rng.choice(pool) for _ in range(1500)]
    path = tmp_path / "0.log"
    path.write_text("\n".join(lines) + "\n")
    fast = reader.read_log(path, "coredns", ctx(path), keep=50)
    assert 0 < len(calls) < fast.lines * 0.5  # the columns read most queries
    _equal(path, "coredns")
    assert fast.frames["dns"]["rcode"].eq("").any() and fast.malformed > 10


def test_the_column_thread_leaves_the_switch_interval_as_it_found_it(tmp_path, monkeypatch):
    """The GIL switch interval is shortened while a file is read (the column parser's
    thread), and put back after, whether the read ends or fails in that thread."""
    import sys

    from collectors.logs import columns

    path = tmp_path / "access.log"
    _write_mixed(path, 300, seed=5)
    before = sys.getswitchinterval()
    seen = []
    read_ingress = columns.COLUMN_PARSERS["ingress-nginx"]

    def watched(lines, context):
        seen.append(sys.getswitchinterval())
        return read_ingress(lines, context)

    monkeypatch.setitem(columns.COLUMN_PARSERS, "ingress-nginx", watched)
    assert reader.read_log(path, "ingress-nginx", ctx(path)).kept > 150
    assert seen and max(seen) <= blocks.SWITCH_SECONDS < before
    assert sys.getswitchinterval() == before

    def broken(lines, context):
        raise RuntimeError("column parser broke")

    monkeypatch.setitem(columns.COLUMN_PARSERS, "ingress-nginx", broken)
    with pytest.raises(RuntimeError, match="column parser broke"):
        reader.read_log(path, "ingress-nginx", ctx(path))
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize("block, expected", [
    (b"2021-08-23T03:03:01Z stdout P part of a long line\n", True),
    (b"2021-08-23T03:03:01Z stderr P part\n", True),
    (b"2021-08-23T03:03:01Z stdout P:part\n", True),  # the tag with a colon after it
    (b" stdout P x\n", True),  # the tag's space at the block's first byte
    (b"2021-08-23T03:03:01Z stdout F POST /predict HTTP/1.1 P\n", False),
    (b'10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] "POST / HTTP/1.1" P 200\n', False),
    (b"2021-08-23T03:03:01Z stdout Px\n", False),
    (b"a stdout P", False),  # a tag needs what follows it
    (b"", False),
])
def test_a_block_holds_a_cri_fragment_exactly_when_its_tag_is_there(block, expected):
    assert blocks._holds_partial(block) is expected
    assert (blocks._PARTIAL_TAGS.search(block) is not None) is expected  # the plain search


def test_the_fragment_check_agrees_with_a_search_on_random_blocks():
    rng = random.Random(7)
    pieces = [b" stdout ", b" stderr ", b"P", b" ", b":", b"x", b"\n", b"POST ", b"HTTP"]
    for _ in range(2000):
        block = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert blocks._holds_partial(block) is (blocks._PARTIAL_TAGS.search(block) is not None)
