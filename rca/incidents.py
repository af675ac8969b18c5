"""Incident detection: bursts of failed requests, merged by the gap between them.

Why bursts and not single failures: a station logs the odd timeout every few hours on any
healthy day; what wakes people up is many failures close together ("5–20 timed-out
requests, 2–3 times a day"). A failure is what the caller experienced: a client-side
``timeout``/``error`` or 5xx answer, or, in server logs, a 5xx or a caller that hung up.

Thresholds (``thresholds.incidents`` in config):

- ``gap_s`` (120 s): failures closer than this belong to one incident. A station alarm
  lasts 1–5 minutes and the retries of one burst arrive within tens of seconds, so two
  minutes joins one burst without gluing separate bursts (the closest two on 2021-08-23
  were 9 minutes apart).
- ``min_failures`` (3): fewer failures in a burst is indistinguishable from the
  background of isolated timeouts.
- ``pad_s`` (60 s): the evidence window extends this far around the failures, because a
  cause (a dropped DNS packet, a saturated link) starts before the first symptom.
- ``server_error_min_status`` (500): server status codes at or above it count as failures;
  4xx are the caller's fault (the 400s of MISSION 000, a 413), not an outage…
- ``server_gave_up_statuses`` ([499]): …except these: nginx logs 499 when the caller
  closed the connection before the answer, which is a client timeout seen from the
  server, the only trace of it when no client log was collected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rca.finding import Incident
from rca.record import DNS_SERVICE

__all__ = ["app_requests", "detect", "failures", "nodes_for_services", "same_service"]

_CLIENT_FAILURES = {"timeout", "error"}


def failures(requests: pd.DataFrame, server_error_min_status: int = 500,
             server_gave_up_statuses: tuple[int, ...] = (499,)) -> pd.DataFrame:
    """Requests that failed from the caller's point of view."""
    if requests.empty:
        return requests
    code = pd.to_numeric(requests["status"], errors="coerce")
    gave_up = requests["status"].str.lower().isin(_CLIENT_FAILURES)
    client = (requests["side"] == "client") & (gave_up | (code >= server_error_min_status))
    bad = (code >= server_error_min_status) | code.isin(list(server_gave_up_statuses))
    server = (requests["side"] == "server") & (requests["service"] != DNS_SERVICE) & bad
    return requests[client | server]


def detect(requests: pd.DataFrame, objects: pd.DataFrame, th: dict[str, Any]) -> list[Incident]:
    """Incidents in ``requests``: groups of at least ``min_failures`` failures."""
    failed = failures(requests, int(th["server_error_min_status"]),
                      tuple(th["server_gave_up_statuses"])).sort_index(kind="stable")
    if failed.empty:
        return []
    gaps = np.diff(failed.index.asi8) / 1e9
    group = np.concatenate([[0], np.cumsum(gaps > float(th["gap_s"]))])
    incidents = []
    for _, burst in failed.groupby(group):
        if len(burst) >= int(th["min_failures"]):
            incidents.append(_incident(burst, requests, objects))
    return incidents


def _incident(burst: pd.DataFrame, requests: pd.DataFrame, objects: pd.DataFrame) -> Incident:
    start = burst.index.min()
    ends = burst.index + pd.to_timedelta(burst["latency_s"].fillna(0).to_numpy(), unit="s")
    end = max(ends.max(), burst.index.max() + pd.Timedelta(seconds=1))
    services = sorted(s for s in burst["service"].unique() if s)
    stations = sorted(s for s in burst["station"].unique() if s)
    scope = {
        "stations": stations,
        "services": services,
        "nodes": nodes_for_services(objects, services),
        "sides": sorted(burst["side"].unique()),
    }
    during = requests[(requests.index >= start) & (requests.index <= end)]
    app_side = app_requests(during)
    symptoms = {
        "failed_requests": int(len(burst)),
        "requests_in_window": int((during["service"] != DNS_SERVICE).sum()),
        "latency_p50_s": _round(burst["latency_s"].median()),
        "latency_max_s": _round(burst["latency_s"].max()),
        "stations": len(stations),
        "services": len(services),
        "server_latency_p99_s": _round(app_side["latency_s"].quantile(0.99)),
        "statuses": {str(k): int(v) for k, v in burst["status"].value_counts().items()},
    }
    ident = f"INC-{start.strftime('%Y%m%d-%H%M%S')}"
    return Incident(ident, start, end, scope, symptoms)


def _round(x: float) -> float | None:
    return None if pd.isna(x) else round(float(x), 3)


def app_requests(df: pd.DataFrame, services: list[str] | None = None) -> pd.DataFrame:
    """Server-side application requests (not DNS lookups), optionally of ``services``."""
    out = df[(df["side"] == "server") & (df["service"] != DNS_SERVICE)]
    if services:
        mask = out["service"].map(lambda s: any(same_service(s, x) for x in services))
        out = out[mask.astype(bool)]
    return out


def same_service(a: str, b: str) -> bool:
    """Client and server logs name services differently (``neishi`` vs
    ``inference-neishi``, ingress's namespace-service): treat a suffix after a dash as
    the same service."""
    if not a or not b:
        return False
    return a == b or a.endswith("-" + b) or b.endswith("-" + a)


def nodes_for_services(objects: pd.DataFrame, services: list[str]) -> list[str]:
    """Nodes running pods of the given services, from the collected pod facts."""
    if objects.empty or not services:
        return []
    pods = objects[(objects["kind"] == "Pod") & (objects["node"] != "")]
    nodes = set()
    for _, pod in pods.iterrows():
        # a Deployment's pod is <deployment>-<replicaset hash>-<pod hash>
        workload = pod["object"].rsplit("/", 1)[-1].rsplit("-", 2)[0]
        if any(same_service(pod["app"], s) or same_service(workload, s) for s in services):
            nodes.add(pod["node"])
    return sorted(nodes)
