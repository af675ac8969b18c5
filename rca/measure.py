"""Measurements several causes make on the same window, computed once per window.

Why: "did the failing services themselves slow down?" is asked by the DNS cause (to clear
the app), by the slow-app cause (to blame it), by saturation and throttling (latency rose
for what runs there). Computed in one place and cached on the window, two causes can never
answer the same question differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rca.entities import app_requests
from rca.finding import Window

__all__ = ["LatencySplit", "ServerLatency", "latency_split", "server_latency"]


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
                  & (pd.to_numeric(reqs["status"], errors="coerce").fillna(599) >= 500)]
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
