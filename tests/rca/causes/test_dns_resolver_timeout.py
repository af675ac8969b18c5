"""dns.resolver_timeout: fires on shared stalls with DNS-side evidence, not on slow apps."""

import pandas as pd
import pytest

from rca import record
from rca.causes import dns_resolver_timeout as cause
from rca.config import DEFAULTS
from rca.engine import judge
from rca.finding import Window
from tests.rca.frames import at, deployment, req, requests, signal

TH = DEFAULTS["thresholds"]["dns_resolver_timeout"]
SERVICES = ["dijiao", "neishi", "uxingke"]


def _baseline_and_burst(server_latency=0.4, dns_retries=3, services=SERVICES):
    """An hour of normal traffic, then a burst of client timeouts at t=3600..3660."""
    rows = [req(t, services[t % len(services)], latency=0.35) for t in range(0, 3600, 20)]
    rows += [req(t, services[t % len(services)], latency=0.35, side="server")
             for t in range(0, 3600, 20)]
    rows += [req(3600 + i * 5, services[i % len(services)], "timeout", 15.0, station=f"s{i}")
             for i in range(10)]
    rows += [req(3600 + i * 5, services[i % len(services)], latency=server_latency,
                 side="server") for i in range(10)]
    for i in range(dns_retries):  # a query and the same query re-sent 5.02 s later
        for dt in (0.0, 5.02):
            rows.append(req(3605 + i * 10 + dt, "coredns", "NOERROR", 0.0002, side="server",
                            station="10.244.1.17", request_id=f"4123{i}/77{i}",
                            upstream="AAAA model-store.inference.svc.cluster.local."))
    return requests(rows)


def _as_dns(reqs):
    """The test rows written as lookups ("coredns" requests: request_id port/id, upstream
    "type name") moved to the typed dns table, as the CoreDNS reader stores them."""
    q = reqs[reqs["service"] == "coredns"]
    port_id = q["request_id"].str.split("/", n=1)
    type_name = q["upstream"].str.split(" ", n=1)
    rows = [{"time": t, "row_id": rid, "client_ip": ip, "client_port": int(pi[0]),
             "query_id": int(pi[1]), "qtype": tn[0], "name": tn[1], "rcode": rc,
             "latency_s": lat}
            for t, rid, ip, pi, tn, rc, lat in zip(q.index, q["row_id"], q["station"], port_id,
                                                   type_name, q["status"], q["latency_s"],
                                                   strict=True)]
    return record.frame("dns", rows), reqs[reqs["service"] != "coredns"]


def _window(reqs, conntrack=None, objects=None, services=SERVICES):
    dns, reqs = _as_dns(reqs)
    tables = {"requests": reqs, "dns": dns, "objects": objects if objects is not None
              else record.empty("objects")}
    if conntrack is not None:
        tables["signal:conntrack_insert_failed_per_second"] = conntrack
    return Window(at(3540), at(3720), at(0), tables,
                  {"services": services, "stations": ["s0", "s1", "s2"]})


RISING = signal([(t, 0.01) for t in range(0, 3540, 60)] + [(3600, 2.5), (3660, 1.0)])
FLAT = signal([(t, 0.01) for t in range(0, 3720, 60)])


def test_full_evidence_scores_high_and_names_coredns():
    objs = record.frame("objects", [deployment("deployment/kube-system/coredns", 1, "kube-dns")])
    f = judge(cause.CAUSE, _window(_baseline_and_burst(), RISING, objs), TH)
    assert f.score >= 0.8
    assert f.entity == "deployment/kube-system/coredns"
    supports = [e.source for e in f.evidence if e.supports]
    assert "signal:conntrack_insert_failed_per_second" in supports
    assert "dns" in supports
    assert "objects" in supports  # the single replica
    assert "5 s" in f.fix or "single-request-reopen" in f.fix


@pytest.mark.parametrize("kwargs,why", [
    (dict(server_latency=9.0), "the app itself slowed down 20x: not DNS"),
])
def test_slow_application_is_evidence_against(kwargs, why):
    f = judge(cause.CAUSE, _window(_baseline_and_burst(**kwargs), RISING), TH)
    against = [e for e in f.evidence if not e.supports]
    assert any(e.source == "requests[side=server]" for e in against), why
    assert f.score < 0.5, why


def test_without_dns_side_data_it_is_no_data_not_a_verdict():
    # shared stall and a healthy app, but no conntrack, DNS log or CoreDNS metrics:
    # points at the path before the app (said in the summary), not at DNS in particular
    reqs = _baseline_and_burst(dns_retries=0)
    reqs = reqs[reqs["service"] != "coredns"]
    f = judge(cause.CAUSE, _window(reqs), TH)
    assert f.status == "no_data" and f.score == 0
    assert "stayed fast" in f.summary


def test_one_service_for_many_stations_is_not_shared_scope():
    w = _window(_baseline_and_burst(), RISING, services=["neishi"])
    ev = next(e for e in judge(cause.CAUSE, w, TH).evidence if e.source == "requests")
    assert not ev.supports


def test_a_slow_unrelated_service_does_not_count_against():
    reqs = _baseline_and_burst()
    slow_other = requests([req(3600 + i, "reports-ui", latency=30.0, side="server")
                           for i in range(20)])
    f = judge(cause.CAUSE, _window(pd.concat([reqs, slow_other]).sort_index(), RISING), TH)
    server = next(e for e in f.evidence if e.source == "requests[side=server]")
    assert server.supports


def test_flat_conntrack_and_no_retries_is_against():
    f = judge(cause.CAUSE, _window(_baseline_and_burst(dns_retries=0), FLAT), TH)
    assert any(not e.supports and "conntrack" in e.source for e in f.evidence)
    assert f.score <= TH["score_cap_without_dns"]


def test_retry_needs_the_resolver_timeout_gap():
    # the same query 2 s later is an application retry, not a resolver timeout
    rows = [req(3600 + dt, "coredns", "NOERROR", 0.0002, side="server", station="10.0.0.1",
                request_id="1/1", upstream="A x.") for dt in (0, 2.0)]
    hits = cause._retries(_as_dns(requests(rows))[0], 5.0, 0.5)
    assert hits.empty
    rows = [req(3600 + dt, "coredns", "NOERROR", 0.0002, side="server", station="10.0.0.1",
                request_id="1/1", upstream="A x.") for dt in (0, 5.3)]
    assert len(cause._retries(_as_dns(requests(rows))[0], 5.0, 0.5)) == 1


def test_two_replicas_are_not_evidence():
    objs = record.frame("objects", [deployment("deployment/kube-system/coredns", 2)])
    f = judge(cause.CAUSE, _window(_baseline_and_burst(), RISING, objs), TH)
    assert all(e.source != "objects" for e in f.evidence)
    assert isinstance(f.evidence[0].start, pd.Timestamp)


def test_conntrack_rise_on_an_unrelated_node_is_not_evidence():
    # the failing services run on n1 (flat); n2 (a batch node) spikes: not this incident
    other = signal([(t, 0.01) for t in range(0, 3540, 60)] + [(3600, 2.5)], entity="node/n2")
    both = pd.concat([FLAT, other]).sort_index()
    w = _window(_baseline_and_burst(dns_retries=0), both)
    w.scope["nodes"] = ["n1"]
    f = judge(cause.CAUSE, w, TH)
    ev = next(e for e in f.evidence if "conntrack" in e.source)
    assert not ev.supports and "node/n1" in ev.text


# -- each threshold pinned at its edge ---------------------------------------------------

def _p99_window(peak):
    """A DNS-side source that is present but says nothing about lost packets unless high."""
    w = _window(_baseline_and_burst(dns_retries=0).query("service != 'coredns'"))
    w.tables["signal:coredns_request_p99_seconds"] = signal(
        [(t, 0.01) for t in range(0, 3540, 60)] + [(3600, peak)], entity="pod/kube-system/c")
    return w


@pytest.mark.parametrize("cap,score", [
    (0.35, 0.35),  # scope .15 + healthy app .2 + single replica .05 = .40, capped
    (0.5, 0.40),  # the cap raised: the uncapped sum shows
])
def test_score_cap_without_dns_side_support(cap, score):
    w = _p99_window(0.02)
    w.tables["objects"] = record.frame("objects", [
        deployment("deployment/kube-system/coredns", 1, "kube-dns")])
    f = judge(cause.CAUSE, w, {**TH, "score_cap_without_dns": cap})
    assert f.score == pytest.approx(score)


@pytest.mark.parametrize("fraction,fires", [(0.8, True), (0.81, False)])
def test_p99_timeout_fraction_edge(fraction, fires):
    # CoreDNS p99 peaks at 4.0 s; 0.8 x 5 s = 4.0 s is at the edge
    f = judge(cause.CAUSE, _p99_window(4.0), {**TH, "p99_timeout_fraction": fraction})
    assert any(e.source == "signal:coredns_request_p99_seconds" and e.supports
               for e in f.evidence) is fires


def _with_baseline_retries(n_before):
    rows = []
    for i in range(n_before):  # lookups lost on a normal hour, well before the incident
        for dt in (0.0, 5.02):
            rows.append(req(100 + i * 60 + dt, "coredns", "NOERROR", 0.0002, side="server",
                            station="10.244.1.9", request_id=f"5{i}/1",
                            upstream="A license.svc.cluster.local."))
    return pd.concat([_baseline_and_burst(), requests(rows)]).sort_index()


@pytest.mark.parametrize("factor,fires", [
    # 3 re-sent lookups in 180 s vs 10 in the 3440 s the DNS log covers (its first
    # line at t=100 s): the rate is 5.73x the baseline's
    (5.7, True),
    (5.8, False),
])
def test_retry_rate_factor_edge(factor, fires):
    f = judge(cause.CAUSE, _window(_with_baseline_retries(10), RISING),
              {**TH, "retry_rate_factor": factor})
    ev = next(e for e in f.evidence if e.source == "dns")
    assert ev.supports is fires


@pytest.mark.parametrize("gap,tolerance,hit", [(5.5, 0.5, True), (5.51, 0.5, False)])
def test_retry_tolerance_edge(gap, tolerance, hit):
    rows = [req(3600 + dt, "coredns", "NOERROR", 0.0002, side="server", station="10.0.0.1",
                request_id="1/1", upstream="A x.") for dt in (0, gap)]
    assert (len(cause._retries(_as_dns(requests(rows))[0], 5.0, tolerance)) == 1) is hit


@pytest.mark.parametrize("during,supports", [
    (0.70, True),  # p99 0.35 s -> 0.70 s: exactly 2x, still "stayed fast"
    (0.72, False),  # a little more than 2x: the app slowed down
])
def test_server_ratio_max_edge(during, supports):
    f = judge(cause.CAUSE, _window(_baseline_and_burst(server_latency=during), RISING), TH)
    ev = next(e for e in f.evidence if e.source == "requests[side=server]")
    assert ev.supports is supports


@pytest.mark.parametrize("peak,rose", [(0.0301, True), (0.0299, False)])
def test_conntrack_ratio_min_edge(peak, rose):
    # baseline mean 0.01/s; 3x is 0.03/s
    sig = signal([(t, 0.01) for t in range(0, 3540, 60)] + [(3600, peak)])
    f = judge(cause.CAUSE, _window(_baseline_and_burst(dns_retries=0), sig), TH)
    ev = next(e for e in f.evidence if "conntrack" in e.source)
    assert ev.supports is rose


@pytest.mark.parametrize("services,shared", [(["a", "b"], True), (["a"], False)])
def test_min_services_edge(services, shared):
    w = _window(_baseline_and_burst(), RISING, services=services)
    ev = next(e for e in judge(cause.CAUSE, w, TH).evidence if e.source == "requests")
    assert ev.supports is shared


# -- a full conntrack table drops lookups as surely as an insert race -----------------------

def _drop_window(drops, insert_failed=FLAT):
    w = _window(_baseline_and_burst(dns_retries=0), insert_failed)
    w.tables["signal:conntrack_drop_per_second"] = drops
    return w


def test_conntrack_table_full_drops_are_dns_side_evidence():
    # no race (insert_failed flat), no DNS log retries: the table overflowed and dropped
    drops = signal([(t, 0.0) for t in range(0, 3540, 60)] + [(3600, 40.0), (3660, 12.0)])
    f = judge(cause.CAUSE, _drop_window(drops), TH)
    ev = next(e for e in f.evidence if "conntrack" in e.source)
    assert ev.supports and ev.source == "signal:conntrack_drop_per_second"
    assert "table full" in ev.text
    assert f.score > TH["score_cap_without_dns"]  # DNS-side support lifts the cap


def test_steady_conntrack_drops_are_not_evidence():
    # a node that always drops a little (an undersized table on a busy day) is not new
    drops = signal([(t, 2.0) for t in range(0, 3720, 60)])
    f = judge(cause.CAUSE, _drop_window(drops), TH)
    ev = next(e for e in f.evidence if "conntrack" in e.source)
    assert not ev.supports


def test_drops_alone_are_enough_to_judge():
    # the DNS-side need is met by the drop counter without insert_failed collected
    drops = signal([(t, 0.0) for t in range(0, 3540, 60)] + [(3600, 5.0)])
    w = _window(_baseline_and_burst(dns_retries=0))
    w.tables.pop("dns")
    w.tables["signal:conntrack_drop_per_second"] = drops
    f = judge(cause.CAUSE, w, TH)
    assert f.status == "ok" and any(e.supports and "drop" in e.source for e in f.evidence)
