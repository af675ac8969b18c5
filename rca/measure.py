"""Measurements several causes make on the same window, computed once per window.

Why: "did the failing services themselves slow down?" is asked by the DNS cause (to clear
the app), by the slow-app cause (to blame it), by saturation and throttling (latency rose
for what runs there). Computed in one place and cached on the window, two causes can never
answer the same question differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rca.entities import app_requests, pods_for_services
from rca.finding import Window
from rca.record import status_codes

__all__ = ["LatencySplit", "Peak", "ServerLatency", "latency_split", "probe_kills", "scope_nodes",
           "scope_pods", "server_latency", "signal_peaks", "throttled_share", "work_suffered"]


@dataclass(frozen=True)
class ServerLatency:
    """Server-side latency of the failing services during the incident and before it."""

    during: pd.DataFrame  # the server-side rows during the incident
    before: pd.DataFrame  # and in the baseline
    p95_now: float
    p95_base: float  # NaN when there is no baseline
    p99_now: float
    p99_base: float
    per_service_p95: dict[str, float]

    @property
    def p95_ratio(self) -> float:
        return self.p95_now / max(self.p95_base, 1e-3) if self.p95_base == self.p95_base \
            else float("nan")

    @property
    def p99_ratio(self) -> float:
        return self.p99_now / max(self.p99_base, 1e-3) if self.p99_base == self.p99_base \
            else float("nan")


def server_latency(window: Window) -> ServerLatency | None:
    """None when no server-side log of the failing services covers the incident."""
    key = "server_latency"
    if key not in window.cache:
        window.cache[key] = _server_latency(window)
    return window.cache[key]


def _server_latency(window: Window) -> ServerLatency | None:
    services = window.scope.get("services", [])
    during = app_requests(window.during("requests"), services)
    before = app_requests(window.before("requests"), services)
    if during.empty:
        return None

    def q(df: pd.DataFrame, p: float) -> float:
        return float(df["latency_s"].quantile(p)) if not df.empty else float("nan")

    per = during.groupby("service")["latency_s"].quantile(0.95)
    return ServerLatency(during, before, q(during, 0.95), q(before, 0.95), q(during, 0.99),
                         q(before, 0.99), {str(k): float(v) for k, v in per.items()})


# -- resources of the incident's nodes and pods ---------------------------------------------
@dataclass(frozen=True)
class Peak:
    """A signal on one entity: its peak during the incident and its median before."""

    entity: str
    during: float
    before: float  # NaN when the baseline has no point
    at: pd.Timestamp

    @property
    def ratio(self) -> float:
        return self.during / max(self.before, 1e-9) if self.before == self.before \
            else float("nan")


def signal_peaks(window: Window, name: str) -> dict[str, Peak]:
    """Per entity, the peak of signal ``name`` during the incident vs its baseline median.

    Values that are not finite or below zero are dropped: a ratio over a link speed of 0
    or -1 (node_exporter's "unknown" for virtual and down links) means nothing.
    """
    key = f"peaks:{name}"
    if key not in window.cache:
        window.cache[key] = _peaks(window, window.tables.get(f"signal:{name}"))
    return window.cache[key]


def _peaks(window: Window, df: pd.DataFrame | None) -> dict[str, Peak]:
    if df is None or df.empty:
        return {}
    df = df[np.isfinite(df["value"].to_numpy(dtype=float)) & (df["value"] >= 0)]
    before, during = window.split(df)
    out = {}
    for entity, rows in during.groupby("entity"):
        i = rows["value"].to_numpy().argmax()
        base = before.loc[before["entity"] == entity, "value"]
        out[str(entity)] = Peak(str(entity), float(rows["value"].iloc[i]),
                                float(base.median()) if len(base) else float("nan"),
                                rows.index[i])
    return out


def throttled_share(window: Window) -> dict[str, Peak]:
    """Per pod (``pod/<ns>/<name>``), the share of CFS periods its most throttled container
    spent throttled: peak during the incident vs the median before."""
    key = "throttled_share"
    if key not in window.cache:
        window.cache[key] = _peaks(window, _share(window))
    return window.cache[key]


def _share(window: Window) -> pd.DataFrame | None:
    throttled = window.tables.get("signal:container_cpu_cfs_throttled_periods_per_second")
    periods = window.tables.get("signal:container_cpu_cfs_periods_per_second")
    if throttled is None or periods is None or throttled.empty or periods.empty:
        return None
    key = ["time", "entity", "labels"] if "labels" in throttled and "labels" in periods \
        else ["time", "entity"]
    t = throttled.reset_index()[[*key, "value"]]
    p = periods.reset_index()[[*key, "value"]]
    both = t.merge(p, on=key, suffixes=("_t", "_p"))
    both = both[both["value_p"] > 0]
    both["value"] = both["value_t"] / both["value_p"]
    per_pod = both.groupby(["time", "entity"], as_index=False)["value"].max()
    return per_pod.set_index("time")[["entity", "value"]]


def scope_pods(window: Window) -> list[str]:
    """Pods the incident touches: named by its symptoms, else those of its services."""
    pods = list(window.scope.get("pods", []))
    return pods or pods_for_services(window.tables.get("objects", pd.DataFrame()),
                                     list(window.scope.get("services", [])))


def scope_nodes(window: Window) -> list[str]:
    """Nodes (``node/<name>``) the incident touches: named by its symptoms, else the nodes
    of its pods."""
    nodes = set(window.scope.get("nodes", []))
    objects = window.tables.get("objects")
    if not nodes and objects is not None and not objects.empty:
        pods = set(scope_pods(window))
        nodes = {n for o, n in zip(objects["object"], objects["node"], strict=True)
                 if o in pods and n}
    return sorted(n if n.startswith("node/") else f"node/{n}" for n in nodes)


def work_suffered(window: Window, slow_ratio_min: float) -> tuple[bool, str]:
    """Whether what the incident touches slowed down (server p95 at least ``slow_ratio_min``
    its baseline) or, with no server log, restarted; and the sentence saying so."""
    lat = server_latency(window)
    if lat is not None and lat.p95_ratio == lat.p95_ratio:
        return lat.p95_ratio >= slow_ratio_min, (f"server p95 of the incident's services "
                                                 f"{lat.p95_now:.2f} s, {lat.p95_ratio:.1f}x "
                                                 "baseline")
    restarts = int(window.symptoms.get("restarts", 0) or 0)
    return restarts > 0, f"{restarts} container restarts in the incident"


def probe_kills(window: Window) -> int:
    """Liveness kills among the incident's restarts (the ``restarts`` detector's figure): a
    cause that only made the container slow is then the driver behind the probe that killed
    it, not the whole story."""
    return int(window.symptoms.get("probe_kills", 0) or 0)

@dataclass(frozen=True)
class LatencySplit:
    """Failed client requests also seen by the server (same ``request_id``): how much of
    what the caller waited was the server's processing, and how much was spent before or
    after it (name lookup, connect, network, queueing). Seed 000's inference SDK was
    cleared by exactly this: 0.2–0.6 s of processing inside 11–33 s waits."""

    matched: int
    client_p50_s: float
    server_p50_s: float
    outside_p50_s: float  # client latency minus server processing, per request
    rows: pd.DataFrame  # time (client), station, service, client_s, server_s, outside_s


def latency_split(window: Window) -> LatencySplit | None:
    """None when no failed request of the incident carries an id the server log has."""
    key = "latency_split"
    if key not in window.cache:
        window.cache[key] = _latency_split(window)
    return window.cache[key]


def _latency_split(window: Window) -> LatencySplit | None:
    reqs = window.during("requests")
    if reqs.empty:
        return None
    client = reqs[(reqs["side"] == "client") & (reqs["request_id"] != "")
                  & (status_codes(reqs["status"]).fillna(599) >= 500)]
    server = reqs[(reqs["side"] == "server") & (reqs["request_id"] != "")]
    if client.empty or server.empty:
        return None
    both = client.reset_index().merge(
        server[["request_id", "latency_s"]].drop_duplicates("request_id"),
        on="request_id", suffixes=("_client", "_server"))
    both = both.dropna(subset=["latency_s_client", "latency_s_server"])
    if both.empty:
        return None
    both["outside_s"] = both["latency_s_client"] - both["latency_s_server"]
    rows = both.rename(columns={"latency_s_client": "client_s", "latency_s_server": "server_s"})
    rows = rows.set_index("time")[["station", "service", "client_s", "server_s", "outside_s"]]
    return LatencySplit(len(rows), float(rows["client_s"].median()),
                        float(rows["server_s"].median()), float(rows["outside_s"].median()),
                        rows.sort_values("outside_s", ascending=False))
