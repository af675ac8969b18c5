"""cannot_start — pods that should run and do not: unschedulable, crash-looping, no image.

Why its own symptom: on a GPU platform (seed 003) nothing times out — work simply never
starts, and the only traces are the scheduler's ``FailedScheduling`` events and, once
those expired (events live one hour), the pod's ``PodScheduled=False`` condition. A
Deployment whose new pods cannot pull their image (seed 004) or crash-loop serves with
fewer replicas than it should.

What counts:

- a pod unschedulable for at least ``pending_min_s``: from the first to the last
  ``FailedScheduling`` event of the pod, or from the condition's transition to the
  collection when the pod is still Pending; a pod that schedules within seconds is the
  scheduler doing its job (waiting for a scale-up, a bound volume);
- ``BackOff`` / ``Failed`` events of crash loops and image pulls repeated at least
  ``min_backoffs`` times (a container *waiting* in ``CrashLoopBackOff`` at collection
  says nothing of when it began, so it places no symptom) — but only for pods a serving
  controller owns (ReplicaSet, StatefulSet, DaemonSet…, from the pod's owner or, when the
  pod was not collected, a collected workload of that name). A Job's pod failing is the
  Job's result, and a crash-looping cronjob nobody calls harms nobody.

Thresholds (``thresholds.cannot_start``): see ``THRESHOLDS``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rca.entities import same_service, workload_of
from rca.incidents.base import Detector, Inputs, Symptom, Threshold
from rca.kubefacts import pod_facts, serving_owner

__all__ = ["DETECTOR"]

THRESHOLDS = {
    "pending_min_s": Threshold(300.0, "the scheduler retries with backoff and a cluster "
                               "autoscaler adds a node in 2–4 minutes; a pod still "
                               "unschedulable after five minutes waits for something that "
                               "will not come on its own"),
    "min_backoffs": Threshold(3, "one back-off follows any single crash or a registry "
                              "hiccup; three in a row is a loop"),
    "gap_s": Threshold(600.0, "pods of one rollout or one job wave fail within minutes of "
                       "each other: one symptom, not one per pod"),
}

_LOOP_WORDS = ("restarting failed container", "pulling image", "ErrImagePull",
               "ImagePullBackOff", "CrashLoopBackOff")


def detect(inputs: Inputs, th: dict[str, Any]) -> list[Symptom]:
    objects, events = inputs.table("objects"), inputs.window("events")
    pods = pod_facts(objects)
    hits = _unschedulable_events(events, float(th["pending_min_s"]))
    hits += _unschedulable_pods(pods, float(th["pending_min_s"]), inputs)
    hits += _loops(events, pods, objects, int(th["min_backoffs"]))
    return _group(hits, float(th["gap_s"]), pods)


def _unschedulable_events(events: pd.DataFrame, pending_min_s: float) -> list[dict]:
    if events.empty:
        return []
    failed = events[events["reason"] == "FailedScheduling"]
    out = []
    for pod, rows in failed.groupby("object"):
        first, last = rows["first_seen"].min(), rows["last_seen"].max()
        if (last - first).total_seconds() >= pending_min_s:
            out.append({"pod": pod, "start": first, "end": last, "what": "unschedulable",
                        "message": str(rows["message"].iloc[-1])})
    return out


def _unschedulable_pods(pods: pd.DataFrame, pending_min_s: float, inputs: Inputs) -> list[dict]:
    out = []
    for row in pods.itertuples():
        cond = row.unschedulable
        if row.phase != "Pending" or not cond or not cond.get("since"):
            continue
        since = pd.Timestamp(cond["since"])  # RFC 3339 from the API: zone-less is UTC
        since = since.tz_localize("UTC") if since.tzinfo is None else since.tz_convert("UTC")
        end = min(row.collected_at, inputs.until)
        if (end - since).total_seconds() >= pending_min_s:
            out.append({"pod": row.object, "start": since, "end": end,
                        "what": "unschedulable", "message": cond.get("message", "")})
    return out


def _loops(events: pd.DataFrame, pods: pd.DataFrame, objects: pd.DataFrame,
           min_backoffs: int) -> list[dict]:
    out = []
    if not events.empty:
        looping = events[events["reason"].isin(["BackOff", "Failed"])
                         & events["message"].str.contains("|".join(_LOOP_WORDS))]
        for pod, rows in looping.groupby("object"):
            if rows["count"].sum() >= min_backoffs and _serving(pod, pods, objects):
                out.append({"pod": pod, "start": rows["first_seen"].min(),
                            "end": rows["last_seen"].max(), "what": "crash_or_pull_loop",
                            "message": str(rows["message"].iloc[-1])})
    return out


def _serving(pod: str, pods: pd.DataFrame, objects: pd.DataFrame) -> bool:
    known = pods[pods["object"] == pod]
    if not known.empty:
        return serving_owner(str(known["owner"].iloc[0]))
    if objects.empty:
        return False
    workloads = objects[objects["kind"].isin(["Deployment", "StatefulSet", "DaemonSet"])]
    name = workload_of(pod)
    return any(same_service(name, w.rsplit("/", 1)[-1]) for w in workloads["object"])


def _group(hits: list[dict], gap_s: float, pods: pd.DataFrame) -> list[Symptom]:
    hits = sorted(hits, key=lambda h: h["start"])
    groups: list[list[dict]] = []
    for h in hits:
        if groups and (h["start"] - max(g["end"] for g in groups[-1])).total_seconds() <= gap_s:
            groups[-1].append(h)
        else:
            groups.append([h])
    return [_symptom(g, pods) for g in groups]


def _symptom(group: list[dict], pods: pd.DataFrame) -> Symptom:
    names = sorted({h["pod"] for h in group})
    mine = pods[pods["object"].isin(names)]
    scope = {"pods": names,
             "nodes": sorted({n for n in mine["node"] if n}),
             "services": sorted({a for a in mine["app"] if a})}
    figures = {
        "pods_unschedulable": len({h["pod"] for h in group if h["what"] == "unschedulable"}),
        "pods_crash_or_pull_loop": len({h["pod"] for h in group
                                        if h["what"] == "crash_or_pull_loop"}),
        "longest_pending_s": round(max(((h["end"] - h["start"]).total_seconds()
                                        for h in group if h["what"] == "unschedulable"),
                                       default=0.0), 1),
        "messages": sorted({h["message"] for h in group})[:3],
    }
    end = max(max(h["end"] for h in group), min(h["start"] for h in group)
              + pd.Timedelta(seconds=1))
    return Symptom("cannot_start", min(h["start"] for h in group), end, scope, figures)


DETECTOR = Detector("cannot_start", detect, reads=("events", "objects"),
                    thresholds=THRESHOLDS)
