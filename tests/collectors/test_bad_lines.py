"""Issue 10, D1-D6: a bad line is one counted line, never a lost file or a traceback.

Each case puts the line of the issue between two good lines of the same format and reads
the file with the real reader: the good lines must be rows, the bad one malformed with the
field named, and lines read = rows + malformed + skipped-with-a-reason.
"""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import MAX_LINE, ParseContext
from collectors.kube import KubeBatch, read_kube, shape_items
from collectors.logs import read_log
from collectors.metrics_file import read_metrics_file

DATA = Path(__file__).resolve().parents[1] / "data"
GOOD = {
    "ingress-nginx": (
        '10.20.1.31 - - [23/Aug/2021:11:03:05 +0800] "POST /predict HTTP/1.1" 200 512 "-" '
        '"python-requests/2.25.1" 6291754 0.412 [inference-neishi-8080] [] 10.244.1.17:8080 512 '
        "0.409 200 6f1c0a3b0e5d4c7a9b2e1f3d4c5b6a79"
    ),
    "nginx-combined": (
        '10.20.1.32 - - [23/Aug/2021:11:02:58 +0800] "POST /waishi/predict HTTP/1.1" '
        '200 498 "-" "python-requests/2.25.1" 0.433'
    ),
    "jsonl": '{"ts": "2021-08-23T03:02:58.120Z", "latency_ms": 402, "status": 200}',
    "coredns": (
        '2021-08-23T03:03:01.123456789Z [INFO] 10.244.1.17:41234 - 5113 "AAAA IN '
        'neishi.inference.svc.cluster.local. udp 50 false 512" NOERROR qr,aa,rd 143 0.000166s'
    ),
    "rgw": (
        "2023-01-04T09:27:54.404+0000 7f2a1c8a9700  1 ====== req done req=0x7f2a1c8a4650 op "
        "status=0 http_status=200 latency=0.001000018s ======"
    ),
}
G = GOOD

#: (format, bad line, field named). The issue's own lines where it gives one.
BAD = [
    # D1: year 1 with a positive offset (OverflowError before), and year 9999
    ("nginx-combined",
     '10.0.0.1 - - [01/Jan/0001:00:00:00 +0800] "GET / HTTP/1.1" 200 1 "-" "-" 0.1', "time"),
    ("ingress-nginx", G["ingress-nginx"].replace("23/Aug/2021:11:03:05", "01/Jan/0001:00:00:00"),
     "time"),
    ("ingress-nginx", G["ingress-nginx"].replace("23/Aug/2021", "31/Dec/9999"), "time"),
    ("coredns", G["coredns"].replace("2021-08-23T03:03:01.123456789Z",
                                     "0001-01-01T00:00:00+08:00"), "time"),
    ("rgw", G["rgw"].replace("2023-01-04T09:27:54.404+0000", "0001-01-01T00:00:00.000+0800"),
     "time"),
    # D2: past 2262 (pandas' end) in every format; one of them used to drop the file
    ("jsonl", '{"ts":"2300-01-01T00:00:00Z","latency_ms":1,"status":200}', "ts"),
    ("nginx-combined", G["nginx-combined"].replace("2021", "2300"), "time"),
    ("ingress-nginx", G["ingress-nginx"].replace("2021", "2300"), "time"),
    ("coredns", G["coredns"].replace("2021-", "2300-"), "time"),
    ("rgw", G["rgw"].replace("2023-", "2300-"), "time"),
    # D2: a number over 4,300 digits; `²` as CoreDNS's size; an RGW zone of +9999
    ("ingress-nginx", G["ingress-nginx"].replace(" 200 512 ", f" 200 {'9' * 4400} "), "bytes"),
    ("coredns", G["coredns"].replace(" 143 ", " ² "), "rsize"),
    ("rgw", G["rgw"].replace("+0000", "+9999"), "time"),
    # D3: a side that is an object; a 400-digit latency; 100,000 brackets
    ("jsonl", '{"ts":"2021-08-23T03:02:58Z","latency_ms":1,"status":200,"side":{"a":1}}', "side"),
    ("jsonl", f'{{"ts":"2021-08-23T03:02:58Z","latency_ms":{"9" * 400},"status":200}}',
     "latency_ms"),
    ("jsonl", "[" * 100_000, "line"),  # over MAX_LINE: not even parsed
    ("jsonl", "[" * 60_000, "json"),  # RecursionError before
    # D4: a $request_time of 400 digits was stored as inf (CoreDNS and RGW too)
    ("nginx-combined", G["nginx-combined"].replace(" 0.433", " " + "9" * 400), "latency_s"),
    ("ingress-nginx", G["ingress-nginx"].replace(" 0.412 ", f" {'9' * 400} "), "latency_s"),
    ("coredns", G["coredns"].replace("0.000166s", "9" * 400 + "s"), "latency_s"),
    ("rgw", G["rgw"].replace("0.001000018s", "9" * 400 + "s"), "latency_s"),
    # D5: a negative RGW latency became NaN with 0 malformed; a truncated CoreDNS line
    ("rgw", G["rgw"].replace("0.001000018s", "-5.0s"), "latency"),
    ("coredns", G["coredns"][:120], "query"),
]


def ctx(path: Path) -> ParseContext:
    return ParseContext(str(path), UTC, {"collected_at": pd.Timestamp("2021-08-24T00:00Z")})


@pytest.mark.parametrize("fmt, bad, field", BAD, ids=[f"{f}-{b[:40]}" for f, b, _ in BAD])
def test_bad_line_is_one_malformed_line_and_the_file_is_kept(tmp_path, fmt, bad, field):
    path = tmp_path / "mixed.log"
    path.write_text(f"{GOOD[fmt]}\n{bad}\n{GOOD[fmt]}\n")
    batch = read_log(path, fmt, ctx(path))
    assert (batch.lines, batch.malformed, batch.kept) == (3, 1, 2)
    assert len(batch.frames["dns" if fmt == "coredns" else "requests"]) == 2
    (sample,) = batch.samples
    assert (sample.line, sample.field) == (2, field)
    assert batch.unaccounted() == 0
    assert len(sample.text) <= 200


# -- D3: kube ---------------------------------------------------------------------------------
def _event(**change):
    item = json.loads((DATA / "kube" / "events-rook-ceph.json").read_text())["items"][0]
    return {**item, **change}


def _deployment(**spec):
    item = json.loads((DATA / "kube" / "deployments.json").read_text())["items"][0]
    template = {**item["spec"]["template"], "spec": {**item["spec"]["template"]["spec"], **spec}}
    return {**item, "spec": {**item["spec"], "template": template}}


@pytest.mark.parametrize(
    "bad, field",
    [
        (_event(count=2**64), "count"),  # OverflowError when the frame was built
        (_deployment(containers=5), "spec.template.spec.containers"),  # TypeError
        (_event(lastTimestamp="2300-01-01T00:00:00Z"), "lastTimestamp"),
    ],
)
def test_bad_kube_item_is_one_malformed_item(bad, field):
    batch = KubeBatch(source="test")
    shape_items([_event(), bad, _event(metadata={"name": "e2", "uid": "u2"})],
                ctx(Path("kube.json")), batch)
    assert (batch.lines, batch.malformed, batch.kept) == (3, 1, 2)
    (sample,) = batch.samples
    assert sample.field.endswith(field)
    assert batch.unaccounted() == 0


def test_deeply_nested_kube_file_is_one_malformed_entry(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    batch = read_kube(path, ctx(path))
    assert (batch.lines, batch.malformed, batch.frames) == (1, 1, {})
    assert batch.samples[0].field == "json"


# -- D5: metrics decode errors are lines -------------------------------------------------------
def test_undecodable_metrics_line_is_counted_in_lines(tmp_path):
    path = tmp_path / "m.om"
    path.write_bytes(b'a{x="1"} 1 1629676800\na{x="\xff"} 2 1629676800\na 3 1629676801\n# EOF\n')
    batch = read_metrics_file(path, ctx(path))
    assert (batch.lines, batch.malformed, batch.kept) == (3, 1, 2)
    assert batch.samples[0].field == "encoding"
    assert batch.unaccounted() == 0


# -- D6: over-long lines are malformed, and memory stays bounded ------------------------------
def _peak_bytes(read) -> int:
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_metrics_line_with_20_mb_label_is_malformed_in_bounded_memory(tmp_path):
    path = tmp_path / "big.om"
    with open(path, "wb") as fh:
        fh.write(b"a 1 1629676800\n")
        fh.write(b'a{x="' + b"v" * 20_000_000 + b'"} 2 1629676800\n')
        fh.write(b"a 3 1629676801\n# EOF\n")
    holder = {}
    peak = _peak_bytes(lambda: holder.setdefault("b", read_metrics_file(path, ctx(path))))
    batch = holder["b"]
    assert (batch.lines, batch.malformed, batch.kept) == (3, 1, 2)
    assert batch.samples[0].field == "line" and batch.samples[0].line == 2
    assert peak < 4_000_000  # was ~180x the line: 3.6 GB for 20 MB


@pytest.mark.parametrize("fmt", list(GOOD))
def test_over_long_log_line_is_malformed_in_bounded_memory(tmp_path, fmt):
    path = tmp_path / "long.log"
    path.write_text(f"{GOOD[fmt]}\n{'x' * 5_000_000}\n{GOOD[fmt]}\n")
    holder = {}
    peak = _peak_bytes(lambda: holder.setdefault("b", read_log(path, fmt, ctx(path))))
    batch = holder["b"]
    assert (batch.lines, batch.malformed, batch.kept) == (3, 1, 2)
    assert (batch.samples[0].line, batch.samples[0].field) == (2, "line")
    assert peak < 4_000_000


def test_a_line_of_exactly_the_limit_is_read(tmp_path):
    path = tmp_path / "edge.jsonl"
    pad = MAX_LINE - len(GOOD["jsonl"]) - len(', "upstream": ""')
    exact = GOOD["jsonl"][:-1] + f', "upstream": "{"u" * pad}"}}'
    assert len(exact) == MAX_LINE
    path.write_text(f"{exact}\n{exact}x\n")
    batch = read_log(path, "jsonl", ctx(path))
    assert (batch.kept, batch.malformed) == (1, 1)
    assert batch.samples[0].line == 2


# -- the invariant, for every reader on its sample files ---------------------------------------
@pytest.mark.parametrize(
    "name, fmt",
    [("ingress-nginx.log", "ingress-nginx"), ("nginx-combined.log", "nginx-combined"),
     ("requests.jsonl", "jsonl"), ("coredns.log", "coredns"), ("coredns-cri.log", "coredns"),
     ("rgw.log", "rgw")],
)
def test_every_line_of_a_sample_is_accounted_for(name, fmt):
    path = DATA / "logs" / name
    batch = read_log(path, fmt, ctx(path))
    nonblank = sum(1 for line in path.read_text().splitlines() if line.strip())
    assert batch.lines == nonblank
    assert batch.lines == batch.kept + batch.malformed + sum(batch.skipped.values())
    assert all(reason for reason in batch.skipped)


@pytest.mark.parametrize("name", ["coredns.om", "node_exporter.om", "node_exporter.prom"])
def test_every_metrics_line_is_accounted_for(name):
    path = DATA / "metrics" / name
    batch = read_metrics_file(path, ctx(path))
    assert batch.lines > 0 and batch.unaccounted() == 0


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "kube").glob("*.json")))
def test_every_kube_item_is_accounted_for(name):
    path = DATA / "kube" / name
    batch = read_kube(path, ctx(path))
    assert batch.lines > 0 and batch.unaccounted() == 0
