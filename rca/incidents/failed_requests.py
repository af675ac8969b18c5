"""failed_requests — bursts of requests that failed from the caller's point of view.

Why bursts and not single failures: a station logs the odd timeout every few hours on any
healthy day; what wakes people up is many failures close together ("5–20 timed-out
requests, 2–3 times a day"). A failure is what the caller experienced: a client-side
``timeout``/``error`` or 5xx answer, or, in server logs, a 5xx or a caller that hung up.

Thresholds (``thresholds.failed_requests``): see ``THRESHOLDS`` below, each with its reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rca.entities import app_requests, nodes_for_services, pods_for_services
from rca.incidents.base import Detector, Inputs, Symptom, Threshold
from rca.record import DNS_SERVICE, request_start, status_codes

__all__ = ["DETECTOR", "failures"]

THRESHOLDS = {
    "gap_s": Threshold(120.0, "failures closer than this belong to one burst: a station alarm "
                       "lasts 1–5 minutes and the retries of one burst arrive within tens of "
                       "seconds, so two minutes joins one burst without gluing separate bursts "
                       "(the closest two on 2021-08-23 were 9 minutes apart)"),
    "min_failures": Threshold(3, "fewer failures in a burst is indistinguishable from the "
                              "background of isolated timeouts"),
    "server_error_min_status": Threshold(500, "server status codes at or above it count as "
                                         "failures; 4xx are the caller's fault (the 400s of "
                                         "MISSION 000), judged by the 4xx-wave detector"),
    "server_gave_up_statuses": Threshold([499], "nginx logs 499 when the caller closed the "
                                         "connection before the answer: a client timeout seen "
                                         "from the server, the only trace of it when no client "
                                         "log was collected"),
}

_CLIENT_FAILURES = {"timeout", "error"}


def failures(requests: pd.DataFrame, server_error_min_status: int = 500,
             server_gave_up_statuses: tuple[int, ...] = (499,)) -> pd.DataFrame:
    """Requests that failed from the caller's point of view."""
    if requests.empty:
        return requests
    code = status_codes(requests["status"])
    gave_up = requests["status"].str.lower().isin(_CLIENT_FAILURES)
    client = (requests["side"] == "client") & (gave_up | (code >= server_error_min_status))
    bad = (code >= server_error_min_status) | code.isin(list(server_gave_up_statuses))
    server = (requests["side"] == "server") & (requests["service"] != DNS_SERVICE) & bad
    return requests[client | server]


def detect(inputs: Inputs, th: dict[str, Any]) -> list[Symptom]:
    """Groups of at least ``min_failures`` failures, no two further apart than ``gap_s``."""
    requests = inputs.window("requests")
    failed = failures(requests, int(th["server_error_min_status"]),
                      tuple(th["server_gave_up_statuses"])).sort_index(kind="stable")
    if failed.empty:
        return []
    gaps = np.diff(failed.index.asi8) / 1e9
    group = np.concatenate([[0], np.cumsum(gaps > float(th["gap_s"]))])
    objects = inputs.table("objects")
    return [_symptom(burst, requests, objects) for _, burst in failed.groupby(group)
            if len(burst) >= int(th["min_failures"])]


def _symptom(burst: pd.DataFrame, requests: pd.DataFrame, objects: pd.DataFrame) -> Symptom:
    start, end = _span(burst)
    services = sorted(s for s in burst["service"].unique() if s)
    stations = sorted(s for s in burst["station"].unique() if s)
    scope = {
        "stations": stations,
        "services": services,
        "nodes": nodes_for_services(objects, services),
        "pods": pods_for_services(objects, services),
        "sides": sorted(burst["side"].unique()),
    }
    during = requests[(requests.index >= start) & (requests.index <= end)]
    figures = {
        "failed_requests": int(len(burst)),
        "requests_in_window": int((during["service"] != DNS_SERVICE).sum()),
        "latency_p50_s": _round(burst["latency_s"].median()),
        "latency_max_s": _round(burst["latency_s"].max()),
        "stations": len(stations),
        "services": len(services),
        "server_latency_p99_s": _round(app_requests(during)["latency_s"].quantile(0.99)),
        "statuses": {str(k): int(v) for k, v in burst["status"].value_counts().items()},
    }
    return Symptom("failed_requests", start, end, scope, figures)


def _span(burst: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    """When the failed requests began and ended. A server's access log (nginx, ingress,
    RGW) writes a request when it ends, so its start is ``time - latency``; a caller's log
    is taken as written when the request was sent, so its end is ``time + latency``."""
    server = (burst["side"] == "server").to_numpy()
    begun = request_start(burst)
    starts = np.where(server, begun.to_numpy(), burst.index.to_numpy())
    latency = pd.to_timedelta(burst["latency_s"].fillna(0).clip(lower=0).to_numpy(), unit="s")
    ends = np.where(server, burst.index.to_numpy(), (burst.index + latency).to_numpy())
    start = _utc(starts.min())
    end = max(_utc(ends.max()),
              burst.index.max() + pd.Timedelta(seconds=1))
    return start, end


def _utc(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _round(x: float) -> float | None:
    return None if pd.isna(x) else round(float(x), 3)


DETECTOR = Detector("failed_requests", detect, reads=("requests", "objects"),
                    thresholds=THRESHOLDS)
