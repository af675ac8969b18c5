"""dnsmasq query lines (``--log-queries[=extra]``) with a runtime time prefix."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.base import LineError, ParseContext
from collectors.logs import detect, dnsmasq, read_log
from rca.timeutil import get_zone

SAMPLE = Path(__file__).parents[2] / "data" / "logs" / "dnsmasq-cri.log"
EXTRA = "dnsmasq[10566]: 459 10.213.1.4/53902 query[A] interior.infer.lab from 10.213.1.4"


def ctx() -> ParseContext:
    return ParseContext("dnsmasq.log", get_zone("Asia/Shanghai"))


def test_extra_query_line_gives_the_asking_socket():
    ((table, row),) = dnsmasq.parse(f"2026-11-30T23:39:07.191344000Z stderr F {EXTRA}", ctx())
    assert table == "dns"
    assert row["time"] == datetime(2026, 11, 30, 23, 39, 7, 191344, tzinfo=UTC)
    assert (row["client_ip"], row["client_port"], row["qtype"], row["name"]) == (
        "10.213.1.4", 53902, "A", "interior.infer.lab")
    assert row["rcode"] == "" and row["latency_s"] != row["latency_s"]  # unknown: NaN


def test_plain_query_line_has_no_port():
    line = ("2016-12-15T10:00:00Z dnsmasq[1]: query[AAAA] kubernetes.default.svc.cluster.local "
            "from 10.233.64.5")
    ((_, row),) = dnsmasq.parse(line, ctx())
    assert (row["client_ip"], row["client_port"], row["qtype"]) == ("10.233.64.5", 0, "AAAA")


@pytest.mark.parametrize("line", [
    "dnsmasq[1]: started, version 2.72 cachesize 1000",  # kube-dns's dnsmasq banner
    "dnsmasq[10566]: 459 10.213.1.4/53902 /etc/hosts interior.infer.lab is 10.213.1.3",
    "dnsmasq[10566]: 108 10.213.1.4/47315 config feet.infer.lab is NODATA-IPv6",
])
def test_answers_and_banners_are_valid_lines_without_rows(line):
    assert dnsmasq.parse(f"2026-11-30T23:39:07Z {line}", ctx()) == []


def test_query_without_time_asks_for_the_runtime_time():
    with pytest.raises(LineError) as err:
        dnsmasq.parse(EXTRA, ctx())
    assert err.value.field == "time" and "kubectl logs --timestamps" in err.value.message


def test_syslog_form_is_refused_not_misdated():
    with pytest.raises(LineError):
        dnsmasq.parse(f"Nov 30 23:39:07 {EXTRA}", ctx())


def test_broken_query_line_is_malformed():
    with pytest.raises(LineError) as err:
        dnsmasq.parse("2026-11-30T23:39:07Z dnsmasq[1]: 4 10.0.0.1/99 query[A]", ctx())
    assert err.value.field == "query"


def test_sample_file_is_detected_and_shows_the_resolver_retry():
    assert detect(SAMPLE) == "dnsmasq"
    batch = read_log(SAMPLE, "auto", ctx())
    assert batch.malformed == 1 and batch.samples[0].field == "port"  # the planted 99999
    dns = batch.frames["dns"]
    assert len(dns) == 4
    retry = dns[(dns["client_port"] == 53902) & (dns["name"] == "interior.infer.lab")]
    gap = (retry.index[-1] - retry.index[0]).total_seconds()
    assert 4.9 < gap < 5.1  # the A question lost, asked again after glibc's 5 s
