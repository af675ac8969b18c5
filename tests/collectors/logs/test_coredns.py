"""CoreDNS query lines: timestamp prefixes (kubectl / CRI), retries, and the missing-time fix."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.base import LineError, ParseContext
from collectors.logs import coredns, read_log
from rca.timeutil import get_zone

DATA = Path(__file__).parents[2] / "data" / "logs"
QUERY = (
    '[INFO] 10.244.1.17:41234 - 5113 "AAAA IN neishi.inference.svc.cluster.local. udp 50 '
    'false 512" NOERROR qr,aa,rd 143 0.000166s'
)


def ctx() -> ParseContext:
    return ParseContext("coredns.log", get_zone("Asia/Shanghai"))


def test_kubectl_timestamped_query_gives_exact_row():
    assert coredns.parse(f"2021-08-23T03:03:01.123456789Z {QUERY}", ctx()) == [
        (
            "dns",
            {
                "time": datetime(2021, 8, 23, 3, 3, 1, 123456, tzinfo=UTC),
                "client_ip": "10.244.1.17",
                "client_port": 41234,
                "query_id": 5113,
                "qtype": "AAAA",
                "name": "neishi.inference.svc.cluster.local.",
                "proto": "udp",
                "rcode": "NOERROR",
                "latency_s": 0.000166,
            },
        )
    ]


def test_cri_prefix_with_offset():
    ((_, row),) = coredns.parse(f"2021-08-23T11:03:01.5+08:00 stderr F {QUERY}", ctx())
    assert row["time"] == datetime(2021, 8, 23, 3, 3, 1, 500000, tzinfo=UTC)


def test_ipv6_client_and_go_duration():
    query = QUERY.replace("10.244.1.17:41234", "[fd00::17]:53").replace("0.000166s", "1.5ms")
    ((_, row),) = coredns.parse(f"2021-08-23T03:03:01Z {query}", ctx())
    assert (row["client_ip"], row["client_port"], row["latency_s"]) == ("fd00::17", 53, 0.0015)


def test_query_without_timestamp_asks_for_kubectl_timestamps():
    with pytest.raises(LineError) as err:
        coredns.parse(QUERY, ctx())
    assert err.value.field == "time"
    assert "kubectl logs --timestamps" in err.value.message


# Issue 7 item 10 changed this: banner and reload lines without a time were malformed;
# they carry nothing for the record, so they are skipped (counted with a reason).
# "[INFO] Reloading" as pasted in coredns/coredns#4804.
@pytest.mark.parametrize(
    "line", ["CoreDNS-1.8.0", "[INFO] plugin/reload: Running", "[INFO] Reloading",
             "[INFO] Reloading complete", ".:53", "linux/amd64, go1.13.6, da7f65b"]
)
def test_banner_and_reload_lines_without_timestamp_are_skipped(line):
    assert coredns.parse(line, ctx()) == []


@pytest.mark.parametrize(
    "rest",
    [
        ".:53",
        "[INFO] plugin/reload: Running configuration MD5 = db32ca3650231d74073ff4cf814959a7",
        "[WARNING] plugin/kubernetes: Kubernetes API connection failure",
    ],
)
def test_other_timestamped_lines_carry_nothing(rest):
    assert coredns.parse(f"2021-08-23T03:03:01.1Z {rest}", ctx()) == []


@pytest.mark.parametrize(
    "query, field",
    [
        (QUERY.replace(" 143 ", " big "), "rsize"),
        (QUERY.replace("0.000166s", "0.000166"), "duration"),
        (QUERY.replace(" udp 50 false 512", " udp 50"), "query"),
    ],
)
def test_broken_query_names_the_field(query, field):
    with pytest.raises(LineError) as err:
        coredns.parse(f"2021-08-23T03:03:01Z {query}", ctx())
    assert err.value.field == field


def test_sniff_recognises_queries_with_or_without_prefix():
    assert coredns.sniff(QUERY)
    assert coredns.sniff(f"2021-08-23T03:03:01.123456789Z stdout F {QUERY}")
    assert not coredns.sniff("2021-08-23T03:03:01.123456789Z [INFO] plugin/reload: Running")


def test_sample_file_kubectl_timestamps():
    batch = read_log(DATA / "coredns.log", "coredns", ctx())
    assert (batch.lines, batch.malformed) == (22, 1)
    (bad,) = batch.samples
    assert (bad.line, bad.field) == (17, "time")
    assert "requests" not in batch.frames  # lookups are not application requests
    # line 15, "[ERROR] plugin/errors ... i/o timeout", is a dns row (CoreDNS's query
    # upstream) and an UpstreamTimeout event since issue 7 item 11
    df = batch.frames["dns"]
    assert len(df) == 16
    assert df["rcode"].value_counts().to_dict() == {"NOERROR": 11, "NXDOMAIN": 3, "SERVFAIL": 2}
    assert batch.frames["events"]["reason"].tolist() == ["UpstreamTimeout"]
    assert batch.skipped == {"not a query: CoreDNS banner, reload or plugin message": 5}
    assert batch.unaccounted() == 0
    retry = df[(df["client_port"] == 41234) & (df["query_id"] == 20571)]
    assert list(retry.index) == [
        datetime(2021, 8, 23, 3, 3, 1, 123519, tzinfo=UTC),
        datetime(2021, 8, 23, 3, 3, 6, 124870, tzinfo=UTC),
    ]
    assert set(retry["qtype"] + " " + retry["name"]) == {"A neishi.inference.svc.cluster.local."}
    servfail = df[(df["rcode"] == "SERVFAIL") & (df["latency_s"] > 0)].iloc[0]
    assert (servfail["latency_s"], servfail["source"]) == (2.001325, "coredns.log:16")


def test_sample_file_cri():
    batch = read_log(DATA / "coredns-cri.log", "coredns", ctx())
    assert (batch.lines, batch.malformed) == (5, 0)
    df = batch.frames["dns"]
    assert list(df["client_ip"]) == ["10.244.1.17"] * 3 + ["fd00:10:244:1::17"]
    assert df.index[0] == datetime(2021, 8, 23, 3, 3, 1, 123456, tzinfo=UTC)
