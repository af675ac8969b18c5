"""http_4xx_wave — a burst of one 4xx status far above its own baseline.

Why: a 4xx is the caller's fault one request at a time, so ``failed_requests`` ignores
them, and scattered 400s (the malformed uploads of 2021-08-23) are ordinary. But when
one status suddenly repeats — every upload answered 413 by a proxy (seed 002), a rate
limiter answering 429 — a whole feature is down. The wave is per status and per side
(a client log and the proxy's log of the same wave are two symptoms that merge); 499
(caller gave up) is left to ``failed_requests``.

Thresholds (``thresholds.http_4xx_wave``): see ``THRESHOLDS``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rca.entities import nodes_for_services, pods_for_services
from rca.incidents.base import Detector, Inputs, Symptom, Threshold
from rca.record import DNS_SERVICE

__all__ = ["DETECTOR", "client_errors"]

THRESHOLDS = {
    "gap_s": Threshold(300.0, "a caller that keeps retrying an upload, or a user trying "
                       "again, comes back within minutes: answers of one status closer "
                       "than five minutes belong to one wave"),
    "min_count": Threshold(10, "a handful of identical 4xx is one confused client; ten "
                           "is a feature failing for everyone who uses it"),
    "baseline_ratio_min": Threshold(5.0, "the wave's rate must be at least five times the "
                                    "status's own rate over the baseline, so a service that "
                                    "always answers some 404s or 400s is not a wave"),
    "min_share": Threshold(0.2, "a feature broken for everyone who uses it answers a good "
                           "part of its service's requests with that status; client mistakes "
                           "scattered over busy services are a few percent of them, even when "
                           "ten happen to fall within minutes of each other"),
    "ignored_statuses": Threshold(["499"], "nginx's 499 is a caller that gave up: a "
                                  "failed request, judged by failed_requests"),
}


def client_errors(requests: pd.DataFrame, ignored: list[str]) -> pd.DataFrame:
    """Application requests answered with a 4xx status."""
    if requests.empty:
        return requests
    status = requests["status"]
    mask = status.str.fullmatch(r"4\d\d") & ~status.isin(ignored)
    return requests[mask & (requests["service"] != DNS_SERVICE)]


def detect(inputs: Inputs, th: dict[str, Any]) -> list[Symptom]:
    everything = client_errors(inputs.table("requests"), list(th["ignored_statuses"]))
    inside = everything[everything.index >= inputs.since]
    inside = inside[inside.index < inputs.until]
    out = []
    for (side, status), rows in inside.groupby(["side", "status"]):
        history = everything[(everything["side"] == side) & (everything["status"] == status)]
        out += _waves(rows.sort_index(kind="stable"), history, inputs, th)
    return out


def _waves(rows: pd.DataFrame, history: pd.DataFrame, inputs: Inputs,
           th: dict[str, Any]) -> list[Symptom]:
    gaps = np.diff(rows.index.asi8) / 1e9
    group = np.concatenate([[0], np.cumsum(gaps > float(th["gap_s"]))])
    out = []
    for _, wave in rows.groupby(group):
        if len(wave) < int(th["min_count"]):
            continue
        start, end = wave.index.min(), wave.index.max() + pd.Timedelta(seconds=1)
        ratio = _baseline_ratio(wave, history, start, end, inputs)
        share = _share(wave, start, end, inputs)
        if ratio >= float(th["baseline_ratio_min"]) and share >= float(th["min_share"]):
            out.append(_symptom(wave, start, end, ratio, inputs))
    return out


def _share(wave: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
           inputs: Inputs) -> float:
    """The wave's part of all requests its services answered on the same side meanwhile."""
    requests = inputs.table("requests")
    span = requests[(requests.index >= start) & (requests.index < end)]
    side = wave["side"].iloc[0]
    same = span[(span["side"] == side) & span["service"].isin(set(wave["service"]))]
    return len(wave) / max(len(same), len(wave))


def _baseline_ratio(wave: pd.DataFrame, history: pd.DataFrame, start: pd.Timestamp,
                    end: pd.Timestamp, inputs: Inputs) -> float:
    """The wave's rate over the status's rate in the record before it (at least one
    answer assumed, so an empty baseline gives a finite, large ratio)."""
    requests = inputs.table("requests")
    first = requests.index.min() if not requests.empty else start
    base_s = max((start - first).total_seconds(), 1.0)
    before = int((history.index < start).sum())
    span_s = max((end - start).total_seconds(), 60.0)
    return (len(wave) / span_s) / (max(before, 1) / base_s)


def _symptom(wave: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, ratio: float,
             inputs: Inputs) -> Symptom:
    objects = inputs.table("objects")
    services = sorted(s for s in wave["service"].unique() if s)
    scope = {"stations": sorted(s for s in wave["station"].unique() if s),
             "services": services,
             "nodes": nodes_for_services(objects, services),
             "pods": pods_for_services(objects, services),
             "sides": sorted(wave["side"].unique())}
    figures = {"http_4xx_status": str(wave["status"].iloc[0]),
               "http_4xx_count": int(len(wave)),
               "http_4xx_baseline_ratio": round(float(ratio), 1)}
    return Symptom("http_4xx_wave", start, end, scope, figures)


DETECTOR = Detector("http_4xx_wave", detect, reads=("requests", "objects"),
                    thresholds=THRESHOLDS)
