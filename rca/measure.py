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

__all__ = ["ServerLatency", "server_latency"]


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
