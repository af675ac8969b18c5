"""restarts — containers killed and restarted: liveness-probe kills and crash restarts.

Why a detector of its own: on a storage or training cluster nobody logs requests (seed 001
had only kube and node data), and what woke people up was a pod restarting over and over
(`Container rgw failed liveness probe, will be restarted`, x65). A restart is seen in three
places, each kept by a different collector, and any one of them is enough:

- kubelet ``Killing`` events whose message names a probe (a rollout's ``Stopping
  container`` is deliberate and is not counted), and ``Unhealthy`` liveness failures that
  announce them (figures only: failures below the probe's threshold kill nothing);
- terminations in pod status (``lastState.terminated``) of containers that did restart
  (``restartCount`` > 0): a Job pod that completed, or a pod replaced by a rollout, never
  restarted. ``OOMKilled`` is left to the ``oom_kills`` detector;
- increases of kube-state-metrics' ``kube_pod_container_status_restarts_total``.

The same restart seen twice (an event and a counter step) is counted once: per pod, the
largest count any source gives. An aggregated event (``count`` n between first and last
seen) is spread evenly over its span: the API keeps no finer timing.

Thresholds (``thresholds.restarts``): see ``THRESHOLDS``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from rca.incidents.base import Detector, Inputs, Symptom, Threshold

__all__ = ["DETECTOR", "restart_times"]

THRESHOLDS = {
    "gap_s": Threshold(600.0, "restarts closer than ten minutes are one storm: a probe kill "
                       "takes failureThreshold x periodSeconds (30 s by default) and kubelet's "
                       "back-off grows to five minutes, so a loop's restarts come minutes "
                       "apart"),
    "min_restarts": Threshold(2, "one restart is a node blip or a single crash the pod "
                              "recovered from; two within the gap is a loop someone must look "
                              "at"),
}

RESTARTS_METRIC = "kube_pod_container_status_restarts_total"
#: kubelet's wording by version: 1.16+ "Container rgw failed liveness probe, will be
#: restarted"; 1.10-1.15 "Killing container with id docker://rgw:Container failed liveness
#: probe.. Container will be killed and recreated."; older "container is unhealthy, it will
#: be killed and re-created"
_PROBE_KILL = re.compile(r"failed (?:liveness|startup) probe|unhealthy, it will be killed",
                         re.IGNORECASE)
_LIVENESS_FAILED = re.compile(r"^(?:Liveness|Startup) probe failed", re.IGNORECASE)
_NOT_RESTARTS = {"Completed", "OOMKilled", ""}
_TERMINATED = re.compile(r"^container \S+ terminated")  # what the pod-status reader writes


def detect(inputs: Inputs, th: dict[str, Any]) -> list[Symptom]:
    """Groups of at least ``min_restarts`` restarts, no two further apart than ``gap_s``."""
    objects = inputs.table("objects")
    events = inputs.window("events")
    kills = restart_times(events, objects, inputs.table("metrics"))
    if kills.empty:
        return []
    kills = kills.sort_values("time", kind="stable")
    gaps = np.diff(pd.DatetimeIndex(kills["time"]).asi8) / 1e9
    group = np.concatenate([[0], np.cumsum(gaps > float(th["gap_s"]))])
    out = []
    for _, storm in kills.groupby(group):
        per_pod = storm.groupby(["pod", "source"]).size().groupby("pod").max()
        if per_pod.sum() >= int(th["min_restarts"]):
            out.append(_symptom(storm, per_pod, events, objects))
    return out


def restart_times(events: pd.DataFrame, objects: pd.DataFrame,
                  metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per restart seen by each source: ``time``, ``pod``, ``source``, ``why``."""
    rows = _probe_kills(events) + _terminations(events, objects) + _counter_steps(metrics)
    out = pd.DataFrame(rows, columns=["time", "pod", "source", "why"])
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out


def _spread(row: pd.Series, last: pd.Timestamp) -> list[pd.Timestamp]:
    count = max(int(row["count"]) if row["count"] == row["count"] else 1, 1)
    first = row["first_seen"] if isinstance(row["first_seen"], pd.Timestamp) \
        and not pd.isna(row["first_seen"]) else last
    if count == 1 or first >= last:
        return [last] * count
    return list(pd.date_range(first, last, periods=count))


def _probe_kills(events: pd.DataFrame) -> list[tuple]:
    if events.empty:
        return []
    kills = events[(events["reason"] == "Killing")
                   & events["message"].str.contains(_PROBE_KILL, na=False)]
    return [(t, row["object"], "probe-kill", row["message"])
            for last, row in kills.iterrows() for t in _spread(row, last)]


def _terminations(events: pd.DataFrame, objects: pd.DataFrame) -> list[tuple]:
    if events.empty or objects.empty:
        return []
    restarted = set(objects.loc[(objects["kind"] == "Pod") & (objects["restarts"] > 0),
                                "object"])
    ends = events[(events["source"] == "kube") & events["object"].isin(restarted)
                  & ~events["reason"].isin(_NOT_RESTARTS)
                  & events["message"].str.contains(_TERMINATED, na=False)]
    return [(t, row["object"], "termination", row["reason"]) for t, row in ends.iterrows()]


def _counter_steps(metrics: pd.DataFrame) -> list[tuple]:
    if metrics.empty:
        return []
    samples = metrics[metrics["name"] == RESTARTS_METRIC]
    rows = []
    for labels, series in samples.groupby("labels"):
        lab = json.loads(labels)
        pod = f"pod/{lab.get('namespace', '')}/{lab.get('pod', '')}"
        values = series["value"].sort_index()
        steps = values.diff()
        for t, step in steps[steps > 0].items():
            rows += [(t, pod, "restarts-counter", "restart counter")] * int(step)
    return rows


def _symptom(storm: pd.DataFrame, per_pod: pd.Series, events: pd.DataFrame,
             objects: pd.DataFrame) -> Symptom:
    start, end = storm["time"].min(), storm["time"].max() + pd.Timedelta(seconds=1)
    pods = sorted(per_pod.index)
    facts = objects[(objects["kind"] == "Pod") & objects["object"].isin(pods)] \
        if not objects.empty else objects
    failures = _liveness_failures(events, pods, start, end)
    scope = {
        "pods": pods,
        "nodes": sorted({n for n in facts["node"] if n}) if len(facts) else [],
        "services": sorted({a for a in facts["app"] if a}) if len(facts) else [],
    }
    figures = {
        "restarts": int(per_pod.sum()),
        "restarts_per_pod": {p: int(n) for p, n in per_pod.items()},
        "probe_kills": int((storm["source"] == "probe-kill").sum()),
        "liveness_failures": failures,
        "restart_reasons": {str(k): int(v) for k, v in storm["why"].str.slice(0, 60)
                            .value_counts().head(5).items()},
    }
    return Symptom("restarts", start, end, scope, figures)


def _liveness_failures(events: pd.DataFrame, pods: list[str], start: pd.Timestamp,
                       end: pd.Timestamp) -> int:
    if events.empty:
        return 0
    pad = pd.Timedelta(minutes=10)
    hits = events[(events["reason"] == "Unhealthy") & events["object"].isin(pods)
                  & events["message"].str.contains(_LIVENESS_FAILED, na=False)
                  & (events.index >= start - pad) & (events.index <= end + pad)]
    return int(hits["count"].fillna(1).sum())


DETECTOR = Detector("restarts", detect, reads=("events", "objects", "metrics"),
                    thresholds=THRESHOLDS)
