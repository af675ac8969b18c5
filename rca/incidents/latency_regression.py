"""latency_regression — a service's p99 latency or error ratio far above its own baseline.

Why, SLO style: many clusters have no client-side logs, only the server's (an ingress, RGW's
``req done`` lines). Callers there may never log a timeout, yet the service answering
five times slower than usual, or failing one request in ten, is an incident. Each service
is compared with itself, in fixed bins: its normal is the median of its per-bin p99 (and
error ratio) over the whole record read, so an incident shorter than half the record
cannot become its own baseline.

Thresholds (``thresholds.latency_regression``): see ``THRESHOLDS``. A bin fires when it has
``min_requests`` and either at least ``min_slow_requests`` requests (so its p99 too) at or
above both ``ratio_min`` x the service's normal p99 and ``min_latency_s``, or an error
ratio at least ``error_ratio_min`` and ``ratio_min`` x normal. Consecutive firing bins of
one service are one symptom.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rca.entities import app_requests, nodes_for_services, pods_for_services
from rca.incidents.base import Detector, Inputs, Symptom, Threshold
from rca.record import status_codes

__all__ = ["DETECTOR"]

THRESHOLDS = {
    "bin_s": Threshold(300.0, "five minutes: the SLO burn windows alerting uses, long enough "
                       "for a p99 over tens of requests, short enough to place a 1–5 minute "
                       "alarm"),
    "min_requests": Threshold(10, "a p99 or ratio over fewer requests is one slow request, "
                              "not a regression"),
    "ratio_min": Threshold(4.0, "load moves a p99 by tens of percent, a busy hour doubles it; "
                           "four times its normal is a service in trouble"),
    "min_latency_s": Threshold(1.0, "below a second a p99 rise hurts nobody with a sane "
                               "timeout (and probes default to 1 s)"),
    "min_slow_requests": Threshold(3, "a bin's p99 over a few dozen requests is its slowest "
                                   "request: one GC pause or one huge upload makes it; three "
                                   "requests over the edge in five minutes are a pattern"),
    "error_ratio_min": Threshold(0.1, "one request in ten failing breaks any SLO above 90 %; "
                                 "below it, 5xx noise (a deploy, one bad client) is common"),
}

_SERVER_ERROR = 500


def detect(inputs: Inputs, th: dict[str, Any]) -> list[Symptom]:
    requests = app_requests(inputs.table("requests"))
    if requests.empty:
        return []
    bin_s = float(th["bin_s"])
    keys = _Keys(requests, bin_s)
    bins = _bins(requests, keys)
    enough = bins["n"].to_numpy() >= int(th["min_requests"])
    normal = bins[enough].groupby(level="service")[["p99", "errors"]].median() \
        .reindex(keys.services)
    edge = np.maximum(float(th["ratio_min"]) * normal["p99"].to_numpy(),
                      float(th["min_latency_s"]))
    over = requests["latency_s"].to_numpy() >= edge[keys.service]
    slow = np.bincount(keys.group, weights=over, minlength=keys.groups)[bins["key"].to_numpy()]
    of = bins.index.get_level_values("service").map(
        {s: k for k, s in enumerate(keys.services)}).to_numpy()
    hot = enough & (((bins["p99"].to_numpy() >= edge[of])
                     & (slow >= int(th["min_slow_requests"])))
                    | ((bins["errors"].to_numpy() >= float(th["error_ratio_min"]))
                       & (bins["errors"].to_numpy()
                          >= float(th["ratio_min"]) * normal["errors"].to_numpy()[of])))
    start = bins.index.get_level_values("bin") >= inputs.since - pd.Timedelta(seconds=bin_s)
    hot_bins = bins[hot & start]
    objects = inputs.table("objects")
    out = []
    for service, rows in hot_bins.groupby(level="service"):
        times = pd.Series(True, index=rows.index.get_level_values("bin"))
        mine = requests[requests["service"] == service]
        out += [_symptom(str(service), run, mine, float(normal.at[service, "p99"]),
                         float(normal.at[service, "errors"]), objects, bin_s)
                for run in _runs(times, bin_s)]
    return out


class _Keys:
    """Each request's service and bin as small integers: millions of string and time keys
    are grouped once, as numbers."""

    def __init__(self, requests: pd.DataFrame, bin_s: float) -> None:
        self.service, self.services = pd.factorize(requests["service"], sort=True)
        step = round(bin_s * 1e9)
        self.bin = requests.index.as_unit("ns").asi8 // step
        self.first, self.step = int(self.bin.min()), step
        self.bins = int(self.bin.max()) - self.first + 1
        self.group = self.service.astype(np.int64) * self.bins + (self.bin - self.first)
        self.groups = len(self.services) * self.bins

    def index(self, keys: np.ndarray) -> pd.MultiIndex:
        service = self.services[keys // self.bins]
        start = pd.to_datetime((keys % self.bins + self.first) * self.step, utc=True)
        return pd.MultiIndex.from_arrays([service, start], names=["service", "bin"])


def _server_errors(status: pd.Series) -> np.ndarray:
    """5xx answers. Statuses are a handful of distinct strings in millions of rows, so each
    distinct one is parsed once."""
    return (status_codes(status) >= _SERVER_ERROR).to_numpy()  # NaN (missing): no error


def _bins(requests: pd.DataFrame, keys: _Keys) -> pd.DataFrame:
    """Per (service, bin) that has requests: their count, p99 latency and 5xx share."""
    frame = pd.DataFrame({"key": keys.group, "latency": requests["latency_s"].to_numpy(),
                          "error": _server_errors(requests["status"])})
    grouped = frame.groupby("key", sort=True)
    out = pd.DataFrame({"n": grouped.size(), "p99": grouped["latency"].quantile(0.99),
                        "errors": grouped["error"].mean()})
    out["key"] = out.index.to_numpy()
    return out.set_axis(keys.index(out.index.to_numpy()))


def _runs(hot: pd.Series, bin_s: float) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Consecutive firing bins as (start, end) spans."""
    step = pd.Timedelta(seconds=bin_s)
    spans: list[list[pd.Timestamp]] = []
    for t in hot[hot].index:
        if spans and t - spans[-1][1] <= pd.Timedelta(0):
            spans[-1][1] = t + step
        else:
            spans.append([t, t + step])
    return [(a, b) for a, b in spans]


def _symptom(service: str, span: tuple[pd.Timestamp, pd.Timestamp], rows: pd.DataFrame,
             normal_p99: float, normal_err: float, objects: pd.DataFrame,
             bin_s: float) -> Symptom:
    during = rows[(rows.index >= span[0]) & (rows.index < span[1])]
    code = status_codes(during["status"])
    slow = during[(during["latency_s"] >= normal_p99 * 2) | (code >= _SERVER_ERROR)]
    start = slow.index.min() if len(slow) else span[0]
    end = slow.index.max() + pd.Timedelta(seconds=1) if len(slow) else span[1]
    scope = {"services": [service], "nodes": nodes_for_services(objects, [service]),
             "pods": pods_for_services(objects, [service])}
    figures = {
        "regressed_services": 1,
        "service_p99_s": round(float(during["latency_s"].quantile(0.99)), 3),
        "service_normal_p99_s": round(float(normal_p99), 3),
        "service_error_ratio": round(float((code >= _SERVER_ERROR).mean()), 3),
        "service_normal_error_ratio": round(float(normal_err), 3),
        "slo_bin_s": bin_s,
    }
    return Symptom("latency_regression", start, end, scope, figures)


DETECTOR = Detector("latency_regression", detect, reads=("requests", "objects"),
                    thresholds=THRESHOLDS)
