"""oom_kills — containers the kernel killed at their memory limit.

Why its own symptom: an OOM-killed server drops every request it was holding and
restarts, so callers see connection resets and timeouts that look like a slow app, while
the only direct trace is ``OOMKilled`` in the pod's termination state (kept until the next
restart, when the Event announcing it has long expired) or a node's ``SystemOOM`` /
``OOMKilling`` event. Every kill counts: the kernel kills only at the limit, so unlike
a timeout there is no background of harmless OOM kills.

Thresholds (``thresholds.oom_kills``): see ``THRESHOLDS``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rca.incidents.base import Detector, Inputs, Symptom, Threshold
from rca.kubefacts import oom_events, pod_facts

__all__ = ["DETECTOR"]

THRESHOLDS = {
    "min_kills": Threshold(1, "each kill loses the process and its in-flight requests; "
                           "there is no harmless background of OOM kills to rise above"),
    "gap_s": Threshold(900.0, "a container in an OOM loop is killed, restarted with a "
                       "back-off of up to five minutes, and killed again: kills within a "
                       "quarter of an hour are one loop"),
}

def detect(inputs: Inputs, th: dict[str, Any]) -> list[Symptom]:
    kills = oom_events(inputs.window("events")).sort_index(kind="stable")
    if kills.empty:
        return []
    gaps = (kills.index.to_series().diff().dt.total_seconds().fillna(0) > float(th["gap_s"]))
    pods = pod_facts(inputs.table("objects"))
    return [_symptom(group, pods) for _, group in kills.groupby(gaps.cumsum().to_numpy())
            if int(group["count"].sum()) >= int(th["min_kills"])]


def _symptom(group: pd.DataFrame, pods: pd.DataFrame) -> Symptom:
    names = sorted({o for o in group["object"] if o.startswith("pod/")})
    mine = pods[pods["object"].isin(names)]
    scope = {"pods": names, "nodes": sorted({n for n in group["node"] if n}),
             "services": sorted({a for a in mine["app"] if a})}
    figures = {"oom_kills": int(group["count"].sum()),
               "restarts": int(mine["restarts"].max()) if mine["restarts"].notna().any() else 0}
    start = min(group["first_seen"].min(), group.index.min())
    end = max(group.index.max(), start + pd.Timedelta(seconds=1))
    return Symptom("oom_kills", start, end, scope, figures)


DETECTOR = Detector("oom_kills", detect, reads=("events", "objects"), thresholds=THRESHOLDS)
