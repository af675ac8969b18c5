"""dns.resolver_timeout — requests stall for the resolver timeout because DNS packets are lost.

Meaning: glibc sends the A and AAAA queries in parallel from one UDP socket; a conntrack
insert race on the DNAT to the DNS service drops one of them and the resolver waits its
timeout (5 s by default) before retrying. Callers see multi-second stalls on many services
at once while the applications themselves stay fast (MISSION 000, the 2021-08-23 day).

What the data says when it is this cause, each judged against the baseline before the
incident (thresholds under ``thresholds.dns_resolver_timeout``):

- the failures span several services or stations at once (``min_services``, 2): one slow
  app hits one service; a shared dependency hits all of them;
- server-side latency stays near its baseline (p99 ratio at most ``server_ratio_max``,
  2.0: the app's own processing is 0.2–0.6 s, so even a doubling keeps it far from a 5 s
  client timeout, whereas a slow app shows 10x);
- conntrack ``insert_failed`` per second rises on a node (peak at least
  ``conntrack_ratio_min`` = 3x its baseline mean: the counter creeps on any busy node, a
  race storm multiplies it), or its ``drop`` (table full: ``nf_conntrack_max`` reached,
  every new flow's first packet — a lookup's too — dropped) does by the same factor;
- the DNS server log shows the same name asked again from the same client socket
  ``resolver_timeout_s`` (5 s, glibc's default ``timeout:5``) later, within
  ``retry_tolerance_s`` (0.5 s: a retry is sent by a timer, so it lands within
  milliseconds of the timeout plus the scheduling noise of a loaded node);
  and they come at least ``retry_rate_factor`` (2x) as often as in the baseline (a busy
  node loses the odd lookup on any day; a storm doubles the rate at the very least);
- CoreDNS' own p99 latency above ``p99_timeout_fraction`` (80 %) of the resolver timeout
  means the DNS server itself answers as slowly as a lost query (weaker evidence, and
  never against: packets dropped before CoreDNS never show in its histogram);
- a single CoreDNS replica makes every drop hit the only path.

Weights: the two direct traces of lost lookups (re-asked names 0.3, conntrack insert
failures 0.25) weigh most; the healthy application (0.2) and the shared scope (0.15) say
"before the app" but not "DNS"; CoreDNS p99 (0.1) and the single replica (0.05) only
make it likelier. A slow application contradicts hardest (-0.35): it explains the
timeouts on its own.

Without any DNS-side input collected (conntrack metrics, CoreDNS logs or metrics) the
cause is *no data*: a shared stall with healthy apps points at the path before the app,
and that is said in the summary, but DNS in particular cannot be judged. With DNS-side
data that shows nothing the score is capped at ``score_cap_without_dns`` (0.35).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rca.causes._evidence import during_evidence, rows_of, series_peak
from rca.causes.base import Cause, Threshold, any_of, signal, table
from rca.finding import Evidence, Finding, Window
from rca.measure import server_latency

ID = "dns.resolver_timeout"
THRESHOLDS = {
    "resolver_timeout_s": Threshold(5.0, "glibc's default `timeout:5`"),
    "retry_tolerance_s": Threshold(0.5, "a retry is sent by a timer: it lands within "
                                   "milliseconds of the timeout plus a loaded node's "
                                   "scheduling noise"),
    "server_ratio_max": Threshold(2.0, "the app's own processing is 0.2–0.6 s: even a doubling "
                                  "stays far from a 5 s client timeout; a slow app shows 10x"),
    "conntrack_ratio_min": Threshold(3.0, "insert_failed creeps on any busy node; a race storm "
                                     "multiplies it"),
    "min_services": Threshold(2, "one slow app hits one service; a shared dependency hits "
                              "several at once"),
    "score_cap_without_dns": Threshold(0.35, "without a DNS-side trace the verdict rests on "
                                       "scope and healthy apps only: say 'before the app', "
                                       "never 'certainly DNS'"),
    "retry_rate_factor": Threshold(2.0, "a busy node loses the odd lookup on any day; a storm "
                                   "doubles the rate at the very least"),
    "p99_timeout_fraction": Threshold(0.8, "CoreDNS p99 this close to the resolver timeout "
                                      "means it answers as slowly as a lost query"),
}
FIX = (
    "Stop the parallel A/AAAA race: add `options single-request-reopen` (or `use-vc`) to "
    "the pods' dnsConfig, or deploy NodeLocal DNSCache so lookups avoid the conntrack DNAT; "
    "run at least two CoreDNS replicas on different nodes; check conntrack "
    "insert_failed after the change."
)

_WEIGHTS = {"scope": 0.15, "server": 0.2, "conntrack": 0.25, "retries": 0.3, "p99": 0.1,
            "replicas": 0.05}
_PENALTY = {"scope": 0.1, "server": 0.35, "conntrack": 0.1, "retries": 0.1}


def judge(window: Window, th: dict) -> Finding:
    checks = [
        _shared_scope(window, th),
        _server_latency(window, th),
        _conntrack(window, th),
        _dns_retries(window, th),
        _coredns_p99(window, th),
        _replicas(window),
    ]
    evidence = [ev for _, ev in checks if ev is not None]
    score = sum(_WEIGHTS[k] for k, ev in checks if ev is not None and ev.supports)
    score -= sum(_PENALTY.get(k, 0) for k, ev in checks if ev is not None and not ev.supports)
    dns_side = any(ev is not None and ev.supports for k, ev in checks
                   if k in ("conntrack", "retries", "p99"))
    if not dns_side:
        score = min(score, float(th.get("score_cap_without_dns", 0.35)))
    entity = _coredns_entity(window)
    for_ = [ev.text for ev in evidence if ev.supports]
    summary = "; ".join(for_[:3]) if for_ else "no evidence of lost DNS queries"
    return Finding(ID, score, summary, entity=entity, evidence=evidence, fix=FIX)


def _shared_scope(window: Window, th: dict):
    """Several services failing together share a dependency; one service failing for
    several stations is that service's problem as much as anyone's."""
    services = window.scope.get("services", [])
    stations = window.scope.get("stations", [])
    text = f"failures on {len(services)} service(s) and {len(stations)} station(s) at once"
    shared = len(services) >= int(th["min_services"])
    return "scope", during_evidence(window, shared, text, "requests")


def _server_latency(window: Window, th: dict):
    """The failing services' own processing time; other services' do not explain it."""
    lat = server_latency(window)
    if lat is None or lat.before.empty:
        return "server", None
    p99_now, p99_base, ratio = lat.p99_now, lat.p99_base, lat.p99_ratio
    ok = ratio <= float(th["server_ratio_max"])
    text = (f"server-side p99 {p99_now:.2f} s vs {p99_base:.2f} s before "
            f"({ratio:.1f}x): the applications " + ("stayed fast" if ok else "slowed down"))
    slow = lat.during.sort_values("latency_s", ascending=False)
    return "server", during_evidence(
        window, ok, text, "requests[side=server]",
        rows_of(slow, ["service", "station", "latency_s", "status"], 5))


#: Conntrack counters that lose packets before they reach the DNS server: an insert race
#: (two queries of one socket, one entry) or a full table (no entry at all).
_CONNTRACK = {"conntrack_insert_failed_per_second": "insert_failed",
              "conntrack_drop_per_second": "drop (table full)"}


def _conntrack(window: Window, th: dict):
    """The conntrack counter that rose most against its baseline, on the incident's nodes:
    either way the node dropped packets, lookups among them, before DNS saw them."""
    found = []
    for name, what in _CONNTRACK.items():
        sig = window.tables.get(f"signal:{name}")
        if sig is None:
            continue
        before, during = window.split(_on_scope_nodes(sig, window.scope.get("nodes", [])))
        if during.empty:
            continue
        peak, node = series_peak(during)
        base = float(before["value"].mean()) if not before.empty else 0.0
        ratio = peak / max(base, 1e-3)
        rose = peak > 0 and ratio >= float(th["conntrack_ratio_min"])
        text = (f"conntrack {what} peaked at {peak:.2f}/s on {node or 'a node'} "
                f"vs {base:.3f}/s baseline ({ratio:.0f}x)")
        rows = rows_of(during.sort_values("value", ascending=False), ["entity", "value"], 5)
        found.append((rose, ratio if rose else peak, name, text, rows))
    if not found:
        return "conntrack", None
    rose, _, name, text, rows = max(found, key=lambda f: (f[0], f[1]))
    return "conntrack", Evidence(rose, text, window.start, window.end, f"signal:{name}", rows)


def _on_scope_nodes(sig: pd.DataFrame, nodes: list[str]) -> pd.DataFrame:
    """The race drops lookups on the node where the caller's pods run; a rise on an
    unrelated node (a reboot, a batch job) is not evidence for this incident. Without
    known nodes every node counts."""
    wanted = {f"node/{n}" for n in nodes}
    mine = sig[sig["entity"].isin(wanted)]
    return mine if not mine.empty else sig


def _dns_retries(window: Window, th: dict):
    dns = window.tables.get("dns")
    if dns is None or dns.empty:
        return "retries", None
    retries = _retries(dns, float(th["resolver_timeout_s"]), float(th["retry_tolerance_s"]))
    earlier, shown = window.split(retries)
    n_now, n_before = len(shown), len(earlier)
    span_now = (window.end - window.start).total_seconds()
    span_before = window.baseline_seconds("dns")
    factor = float(th["retry_rate_factor"])
    more = n_now > 0 and n_now / span_now > factor * n_before / span_before
    text = (f"{n_now} DNS queries re-sent {th['resolver_timeout_s']:.0f} s after their "
            f"first try (resolver timeout) during the incident, {n_before} in the "
            f"{span_before / 60:.0f} min before")
    return "retries", during_evidence(window, more, text, "dns",
                                      rows_of(shown, ["socket", "qtype", "name", "gap_s"], 8))


def _retries(dns: pd.DataFrame, timeout_s: float, tol_s: float) -> pd.DataFrame:
    """Queries for a name that the same client socket already asked one resolver timeout
    earlier: the resolver gave up waiting for a lost answer and asked again. The query id
    and type may differ (glibc re-sends the A/AAAA pair, or only the missing half), so
    the socket (client IP and port) and the name are what identify the lookup."""
    df = dns.sort_index(kind="stable").reset_index()
    df["socket"] = df["client_ip"] + ":" + df["client_port"].astype(str)
    gap = df.groupby(["socket", "name"], sort=False)["time"].diff().dt.total_seconds()
    df["gap_s"] = gap.round(3)
    hit = df[np.abs(gap - timeout_s) <= tol_s]
    return hit.set_index("time")


def _coredns_p99(window: Window, th: dict):
    if "signal:coredns_request_p99_seconds" not in window.tables:
        return "p99", None
    during = window.during("signal:coredns_request_p99_seconds")
    if during.empty:
        return "p99", None
    peak, _ = series_peak(during.fillna(0))
    slow = peak >= float(th["p99_timeout_fraction"]) * float(th["resolver_timeout_s"])
    if not slow:
        return "p99", None  # drops before CoreDNS never reach its histogram: not against
    text = f"CoreDNS p99 latency reached {peak:.2f} s"
    return "p99", during_evidence(window, True, text, "signal:coredns_request_p99_seconds",
                                  rows_of(during, ["entity", "value"], 5))


def _coredns_deployments(window: Window) -> pd.DataFrame:
    objs = window.tables.get("objects")
    if objs is None or objs.empty:
        return objs if objs is not None else pd.DataFrame()
    mask = (objs["kind"] == "Deployment") & (
        objs["app"].isin(["coredns", "kube-dns"]) | objs["object"].str.endswith("/coredns"))
    return objs[mask]


def _replicas(window: Window):
    deps = _coredns_deployments(window)
    if deps.empty:
        return "replicas", None
    dep = deps.iloc[-1]
    n = dep["replicas"]
    if pd.isna(n) or n > 1:
        return "replicas", None
    text = f"{dep['object']} runs a single replica: every lost query hits the only server"
    return "replicas", Evidence(True, text, None, None, "objects",
                                rows_of(deps.tail(1), ["object", "replicas"], 1))


def _coredns_entity(window: Window) -> str:
    deps = _coredns_deployments(window)
    if deps is not None and not deps.empty:
        return str(deps.iloc[-1]["object"])
    return "service/kube-system/kube-dns"


_DNS_SIDE = any_of("conntrack metrics, CoreDNS logs or CoreDNS metrics",
                   signal("conntrack_insert_failed_per_second"),
                   signal("conntrack_drop_per_second"),
                   signal("coredns_request_p99_seconds"),
                   table("dns"))

CAUSE = Cause(ID, judge, FIX, needs=(table("requests"), _DNS_SIDE),
              wants=("conntrack_insert_failed_per_second", "conntrack_drop_per_second",
                     "coredns_request_p99_seconds"),
              thresholds=THRESHOLDS)
