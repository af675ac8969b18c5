"""memory.oom_kill — containers killed by the kernel at their memory limit.

Meaning: a container's working set reached its ``limits.memory``; the kernel's OOM killer
ended it (``OOMKilled``, exit code 137) and kubelet restarted it, dropping whatever it was
serving. In a loop the service flaps between starting and dying, and callers time out.

What decides it (``thresholds.memory_oom_kill``):

- ``OOMKilled`` terminations (pod status, kept until the next restart) or a node's
  ``SystemOOM``/``OOMKilling`` event in the incident window, on the incident's pods when
  it names any: without one it is not this cause, however high memory looked;
- the working set (cAdvisor ``container_memory_working_set_bytes``, what the kubelet and
  the OOM killer compare with the limit) peaking at least ``at_limit_ratio`` of the
  container's limit: the limit, not a leak elsewhere, is what killed it.

Score: 0.6 for a kill in the window, up to 0.1 more as kills repeat (three make a loop),
0.3 for the working set measured at the limit; a working set measured far below the limit
is said against (a node-level OOM, not the container's limit).
"""

from __future__ import annotations

import pandas as pd

from rca.causes._evidence import during_evidence, per_minute, rows_of
from rca.causes.base import Cause, Threshold, any_of, table
from rca.finding import Chart, Evidence, Finding, Window
from rca.kubefacts import oom_events, window_pods

ID = "memory.oom_kill"
SIGNAL = "cadvisor_memory_working_set_bytes"
FIX = ("Raise the container's limits.memory above its peak working set (and requests to "
       "match, so the scheduler reserves it), or cap what the process holds (batch size, "
       "worker count, cache size); `kubectl describe pod` shows `Last State: Terminated, "
       "Reason: OOMKilled`.")
THRESHOLDS = {
    "at_limit_ratio": Threshold(0.9, "cAdvisor samples every 15–30 s and the allocation "
                                "that tripped the kill happens between samples, so a "
                                "working set seen within 10 % of the limit was at it"),
    "loop_kills": Threshold(3, "kills that repeat three times are a loop the restart does "
                            "not cure; the score grows up to it"),
}


def judge(window: Window, th: dict) -> Finding:
    pods = window_pods(window)
    kills = _kills(window, pods)
    if kills.empty:
        return Finding(ID, 0.0, "no container was OOM-killed in the window", fix=FIX,
                       evidence=[during_evidence(window, False, "no OOMKilled termination "
                                                 "or node OOM event in the window", "events")])
    # a kill shows as the pod's termination and as the node's OOM event: count the
    # side that saw more, never both
    on_pods = kills["object"].str.startswith("pod/")
    n = max(int(kills.loc[on_pods, "count"].sum()), int(kills.loc[~on_pods, "count"].sum()))
    names = sorted({o for o in kills["object"] if o.startswith("pod/")})
    evidence = [during_evidence(window, True, f"{n} OOM kill(s) on {', '.join(names) or 'a node'}",
                                "events[reason=OOMKilled]",
                                rows_of(kills, ["object", "node", "reason", "message"]))]
    score = 0.6 + 0.1 * min(1.0, n / float(th["loop_kills"]))
    peak = _peak_ratio(window, pods, names)
    if peak is not None:
        at_limit = peak[0] >= float(th["at_limit_ratio"])
        evidence.append(Evidence(at_limit, f"working set peaked at {peak[0]:.0%} of the "
                                 f"memory limit on {peak[1]}", window.baseline_start,
                                 window.end, f"signal:{SIGNAL}"))
        score += 0.3 if at_limit else 0.0
    entity = _entity(names[0], pods) if names else (f"node/{kills['node'].iloc[0]}"
                                                    if kills["node"].iloc[0] else "")
    summary = f"{n} OOM kill(s) on {', '.join(names) or 'the node'}"
    if peak is not None:
        summary += f"; working set at {peak[0]:.0%} of the limit"
    chart = _chart(window, pods, peak[1], kills) if peak is not None else None
    return Finding(ID, score, summary, entity=entity, evidence=evidence, fix=FIX, chart=chart)


def _chart(window: Window, pods: pd.DataFrame, pod: str, kills: pd.DataFrame) -> Chart:
    """The killed container's working set against its memory limit, kills marked."""
    sig = window.tables[f"signal:{SIGNAL}"]
    limit = float(pods.loc[pods["object"] == pod, "memory_limit"].max())
    mib = sig.loc[sig["entity"] == pod, "value"] / 1048576
    return Chart(f"{pod}: working set vs its memory limit", "MiB", line=limit / 1048576,
                 line_label=f"memory limit {limit / 1048576:g} MiB",
                 series={"working set (max per minute)": per_minute(mib)},
                 marks=[(t, "OOM kill event") for t in kills.index])


def _kills(window: Window, pods: pd.DataFrame) -> pd.DataFrame:
    """OOM events in the window, on the incident's pods when it names any."""
    kills = oom_events(window.during("events"))
    scope = set(window.scope.get("pods") or [])
    if scope and not kills.empty:
        mine = kills[kills["object"].isin(scope) | ~kills["object"].str.startswith("pod/")]
        kills = mine if not mine.empty else kills.iloc[0:0]
    return kills


def _peak_ratio(window: Window, pods: pd.DataFrame,
                names: list[str]) -> tuple[float, str] | None:
    """Highest working set over limit among the killed pods, when both are known."""
    sig = window.tables.get(f"signal:{SIGNAL}")
    if sig is None or sig.empty or not names:
        return None
    best = None
    for name in names:
        limit = pods.loc[pods["object"] == name, "memory_limit"].max()
        series = sig[sig["entity"] == name]
        if series.empty or not limit == limit or limit <= 0:
            continue
        ratio = float(series["value"].max()) / float(limit)
        if best is None or ratio > best[0]:
            best = (ratio, name)
    return best


def _entity(pod: str, pods: pd.DataFrame) -> str:
    """The Deployment to change when the pod belongs to one (``ReplicaSet/<dep>-<hash>``)."""
    owner = pods.loc[pods["object"] == pod, "owner"]
    owner = str(owner.iloc[0]) if len(owner) else ""
    if owner.startswith("ReplicaSet/"):
        namespace = pod.split("/")[1]
        return f"deployment/{namespace}/{owner.split('/', 1)[1].rsplit('-', 1)[0]}"
    return pod


CAUSE = Cause(ID, judge, FIX,
              needs=(any_of("pod terminations or events", table("events"), table("objects")),),
              wants=(SIGNAL,), thresholds=THRESHOLDS)
