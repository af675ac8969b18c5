"""app.slow_response — the application itself answers slowly, so its callers time out.

Meaning: the service's own processing time (what the server-side log measures from the
first byte in to the last byte out) rises well above its baseline on the services that
fail. This is the verdict ops reached too early in MISSION 000; it is right only when
the server-side log agrees.

Thresholds (``thresholds.app_slow_response``, reasons in ``THRESHOLDS``): the failing
services' server-side p95 at least ``ratio_min`` (3x) its baseline and at least
``min_slow_s`` (1 s).

Score: 0.5 once both thresholds hold (the server log itself shows the slowness, the
most direct evidence there is), plus up to 0.3 as the ratio grows to twice
``ratio_min``, plus up to 0.2 for the share of failing services that are slow (one slow
service among several failing ones explains only its own share).

When the slowness is explained by a resource the service was denied — its pods
CPU-throttled, or its nodes' IO stalled (the ``explained_*`` thresholds, the same edges as
``cpu.throttling`` and ``storage.io_stall``) — the score is capped at ``explained_cap``
(0.6): the service is slow, but the fix is the limit or the storage, and those causes
rank above it.

The same cap holds when the failed requests are found in the application's own log (by
request id) and its own processing was the smaller part of what the callers waited: the
slow server-side rows are then a proxy's (nginx logs how long *it* waited, e.g. a 499
when the caller gave up), and the time went before the handler (a queue for too few live
backends, the network, DNS). The app's handler time is what this cause is about; it
still ranks, below whatever took the rest.

It needs server-side request logs: without them the engine reports *no data* — the
absence of server logs never clears the application.
"""

from __future__ import annotations

from rca.causes._evidence import during_evidence, rows_of
from rca.causes.base import Cause, Threshold, rows_where
from rca.finding import Finding, Window
from rca.measure import (
    latency_split,
    scope_nodes,
    scope_pods,
    server_latency,
    signal_peaks,
    throttled_share,
)

ID = "app.slow_response"
FIX = (
    "Profile the slow service during the window (py-spy dump on the serving process), "
    "check its CPU limits/throttling and its downstream calls (storage, database), and "
    "scale it out if it is saturated."
)
THRESHOLDS = {
    "ratio_min": Threshold(3.0, "load swings move latency by tens of percent; a hung worker "
                           "or a stalled read multiplies it"),
    "min_slow_s": Threshold(1.0, "below a second no caller with a sane timeout gives up, "
                            "whatever the ratio"),
    "explained_cap": Threshold(0.6, "a slow service whose CPU or IO was taken away is still "
                               "slow, but below the cause that took it (those score 0.8+)"),
    "explained_throttled_min": Threshold(0.25, "cpu.throttling's edge: throttled a quarter "
                                         "of its periods"),
    "explained_blocked_min": Threshold(10.0, "storage.io_stall's edge: ten processes in D "
                                       "state on its node"),
    "explained_io_busy_min": Threshold(0.9, "storage.io_stall's edge: the disk busy 90 % of "
                                       "the time"),
}


def judge(window: Window, th: dict) -> Finding:
    lat = server_latency(window)
    services = window.scope.get("services", [])
    if lat is None:
        return Finding(ID, 0.0, "no server-side log of the failing services in the window",
                       status="no_data", fix=FIX)
    p95_now, p95_base, ratio = lat.p95_now, lat.p95_base, lat.p95_ratio
    slow = p95_now >= float(th["min_slow_s"]) and (ratio != ratio or ratio >= th["ratio_min"])
    slowest = lat.during.sort_values("latency_s", ascending=False)
    slow_services = sorted(s for s, v in lat.per_service_p95.items()
                           if v >= float(th["min_slow_s"]))
    base_text = f"{p95_base:.2f} s" if p95_base == p95_base else "no baseline"
    text = (f"server-side p95 of the failing services {p95_now:.2f} s vs {base_text} "
            f"before" + (f" ({ratio:.1f}x)" if ratio == ratio else ""))
    evidence = [during_evidence(window, slow, text, "requests[side=server]",
                                rows_of(slowest, ["service", "station", "latency_s", "status"]))]
    evidence += _split_evidence(window)
    score = 0.0
    if slow:
        share = len(slow_services) / max(len(lat.per_service_p95), 1)
        strength = min(1.0, (ratio if ratio == ratio else th["ratio_min"]) / (2 * th["ratio_min"]))
        score = 0.5 + 0.3 * strength + 0.2 * share
        explained = _explained_by_resources(window, th) or _explained_outside(window)
        if explained:
            evidence.append(during_evidence(window, False, f"explained by {explained}",
                                            "signals"))
            score = min(score, float(th["explained_cap"]))
    entity = f"service/{slow_services[0]}" if slow_services else (
        f"service/{services[0]}" if services else "")
    summary = (f"{', '.join(slow_services)} answered slowly: {text}" if slow
               else f"the applications stayed fast: {text}")
    return Finding(ID, score, summary, entity=entity, evidence=evidence, fix=FIX)


def _explained_by_resources(window: Window, th: dict) -> str:
    """What denied the slow services CPU or IO, if anything: '' when nothing did."""
    for pod, peak in throttled_share(window).items():
        if pod in scope_pods(window) and peak.during >= float(th["explained_throttled_min"]):
            return f"CPU throttling of {pod} ({peak.during:.0%} of periods)"
    nodes = scope_nodes(window)
    for name, edge, what in (("node_procs_blocked", "explained_blocked_min", "blocked processes"),
                             ("node_disk_io_time_ratio", "explained_io_busy_min", "disk busy")):
        for node, peak in signal_peaks(window, name).items():
            if node in nodes and peak.during >= float(th[edge]):
                return f"an IO stall on {node} ({what} {peak.during:.3g})"
    return ""


def _explained_outside(window: Window) -> str:
    """The matched failed requests spent most of their time outside the app's handler."""
    split = latency_split(window)
    if split is None or split.server_p50_s >= split.outside_p50_s:
        return ""
    return (f"time outside the application's own processing ({split.outside_p50_s:.2f} s "
            f"of {split.client_p50_s:.2f} s, median of {split.matched} matched requests)")


def _split_evidence(window: Window) -> list:
    """The same failed requests in both logs: when the caller waited far longer than the
    server worked, the time went somewhere before or after the app."""
    split = latency_split(window)
    if split is None:
        return []
    in_app = split.server_p50_s >= split.outside_p50_s
    text = (f"{split.matched} failed request(s) seen on both sides: the server worked "
            f"{split.server_p50_s:.2f} s of the caller's {split.client_p50_s:.2f} s (median); "
            f"{split.outside_p50_s:.2f} s were spent outside the server")
    return [during_evidence(window, in_app, text, "requests[request_id on both sides]",
                            rows_of(split.rows, ["station", "service", "client_s", "server_s",
                                                 "outside_s"], 8))]


CAUSE = Cause(ID, judge, FIX,
              needs=(rows_where("requests", "server-side request logs",
                                lambda df: df["side"] == "server"),),
              wants=("container_cpu_cfs_throttled_periods_per_second",
                     "container_cpu_cfs_periods_per_second", "node_procs_blocked",
                     "node_disk_io_time_ratio"),
              thresholds=THRESHOLDS)
