"""scheduling.gpu_fragmentation — GPU pods Pending although the free GPUs would hold them.

Meaning: the scheduler places pods one at a time where they fit first; GPUs are whole
devices, so free GPUs end up scattered across nodes in pieces too small for the pods
that wait. Seed 003: 2 nodes x 8 GPUs, pods of 5, 4, 4, 3 — placed in arrival order the
4 and the 3 share a node and neither the 5 nor the second 4 fits anywhere (1 and 4 free
of 16), yet largest-first (5+3, 4+4) holds all four.

What decides it: pods Pending with ``Insufficient nvidia.com/gpu`` (scheduler event or
``PodScheduled=False`` message) and a packing of every GPU pod — those placed and those
waiting — onto the nodes' allocatable GPUs. The evidence names the packing that fits
(first-fit decreasing, else an exact search up to ``max_search_pods``) or proves none
does: then it is a plain shortage and this cause is said against.

Score: 0.9 when a packing fits (then the free GPUs summed hold the waiting pods); 0.1 when
the free GPUs summed would hold them but no packing fits (a pod larger than any node);
0 when the cluster simply has too few GPUs.
"""

from __future__ import annotations

import pandas as pd

from rca.causes.base import Cause, Threshold, table
from rca.finding import Chart, Evidence, Finding, Window
from rca.kubefacts import GPU, node_allocatable, window_pods

ID = "scheduling.gpu_fragmentation"
FIX = ("Pack GPU pods largest-first: give larger GPU requests a higher PriorityClass (so "
       "they schedule first and may preempt), use a bin-packing scheduler profile "
       "(NodeResourcesFit with MostAllocated scoring for nvidia.com/gpu), or deschedule "
       "the small pods that split the nodes; then the waiting pods fit.")
THRESHOLDS = {
    "max_search_pods": Threshold(14, "an exact packing search is exponential: up to 14 "
                                 "pods it runs in milliseconds; beyond, only first-fit "
                                 "decreasing is tried and a failure proves nothing"),
}


def judge(window: Window, th: dict) -> Finding:
    objects = window.tables.get("objects", pd.DataFrame())
    pods = _gpu_pods(window_pods(window))
    capacity = node_allocatable(objects, GPU)
    waiting = _waiting(pods, window)
    if waiting.empty or not capacity:
        what = "no pod waits for GPUs" if capacity else "no node advertises GPUs"
        return Finding(ID, 0.0, what, fix=FIX,
                       evidence=[Evidence(False, what, window.start, window.end, "objects")])
    placed = pods[(pods["node"] != "") & pods["node"].isin(capacity)]
    used = placed.groupby("node")["gpu"].sum()
    free = {n: capacity[n] - float(used.get(n, 0.0)) for n in capacity}
    need = [float(g) for g in waiting["gpu"]]
    rows = [{"node": n, "allocatable": capacity[n], "free": free[n]} for n in sorted(free)]
    text_free = ", ".join(f"{n} {free[n]:g}/{capacity[n]:g}" for n in sorted(free))
    evidence = [Evidence(True, f"{len(need)} pod(s) wait for {'+'.join(f'{g:g}' for g in need)} "
                         f"GPUs; free per node: {text_free}", window.start, window.end,
                         "objects[kind=Pod,phase=Pending]",
                         [{"pod": p, "gpu": g} for p, g in zip(waiting["object"], need,
                                                               strict=True)])]
    sizes = [(p, float(g)) for p, g in zip(placed["object"], placed["gpu"], strict=True)]
    sizes += [(p, float(g)) for p, g in zip(waiting["object"], waiting["gpu"], strict=True)]
    packing, proven = _pack(sizes, capacity, int(th["max_search_pods"]))
    summed = sum(free.values()) >= sum(need)
    entity = str(waiting["object"].iloc[0])
    if packing is not None:
        plan = "; ".join(f"{n}: {'+'.join(f'{g:g}' for g in gs)}" for n, gs in packing.items())
        evidence.append(Evidence(True, f"a packing fits every GPU pod: {plan}", window.start,
                                 window.end, "objects", rows))
        score = 0.9
        summary = (f"{len(need)} GPU pod(s) Pending with {sum(free.values()):g} GPUs free in "
                   f"pieces ({text_free}); largest-first fits all: {plan}")
    else:
        why = ("no packing of the GPU pods onto the nodes fits" if proven
               else "first-fit decreasing fits no packing (too many pods to search)")
        evidence.append(Evidence(False, f"{why}: a shortage, not fragmentation",
                                 window.start, window.end, "objects", rows))
        score = 0.1 if summed else 0.0
        summary = f"{len(need)} GPU pod(s) Pending; {why} ({text_free})"
    chart = Chart("GPUs free per node vs the largest pending pod", "GPUs",
                  line=max(need), line_label=f"largest pending pod: {max(need):g} GPUs",
                  bars={"free": {n: free[n] for n in sorted(free)},
                        "allocatable": {n: capacity[n] for n in sorted(free)}})
    return Finding(ID, score, summary, entity=entity, evidence=evidence, fix=FIX, chart=chart)


def _gpu_pods(pods: pd.DataFrame) -> pd.DataFrame:
    """GPUs per pod (summed over its containers), of pods that hold or want GPUs."""
    live = pods[~pods["deleting"] & pods["phase"].isin(["Pending", "Running", ""])]
    per = live.groupby(["object", "node", "phase"], as_index=False).agg(
        gpu=("gpu", "sum"), unschedulable=("unschedulable", "first"))
    return per[per["gpu"] > 0]


def _waiting(pods: pd.DataFrame, window: Window) -> pd.DataFrame:
    """Pending, unplaced GPU pods the scheduler said lack GPUs (incident's pods first)."""
    events = window.tables.get("events", pd.DataFrame())
    said = set()
    if not events.empty:
        failed = events[(events["reason"] == "FailedScheduling")
                        & events["message"].str.contains(f"Insufficient {GPU}", regex=False)]
        said = set(failed["object"])
    short = pods["unschedulable"].map(lambda c: f"Insufficient {GPU}" in (c or {}).get(
        "message", ""))
    waiting = pods[(pods["node"] == "") & (short | pods["object"].isin(said))]
    scope = set(window.scope.get("pods") or [])
    mine = waiting[waiting["object"].isin(scope)]
    return (mine if not mine.empty else waiting).sort_values("object")


def _pack(sizes: list[tuple[str, float]], capacity: dict[str, float],
          max_search: int) -> tuple[dict[str, list[float]] | None, bool]:
    """A packing of every pod onto the nodes, and whether a None answer is a proof."""
    ordered = sorted((g for _, g in sizes), reverse=True)
    nodes = sorted(capacity, key=lambda n: -capacity[n])
    left = {n: capacity[n] for n in nodes}
    plan: dict[str, list[float]] = {n: [] for n in nodes}
    for g in ordered:  # first-fit decreasing
        node = next((n for n in nodes if left[n] >= g), None)
        if node is None:
            break
        left[node] -= g
        plan[node].append(g)
    else:
        return {n: gs for n, gs in plan.items() if gs}, True
    if sum(ordered) > sum(capacity.values()) or ordered[0] > max(capacity.values()):
        return None, True
    if len(ordered) > max_search:
        return None, False
    found = _search(ordered, [capacity[n] for n in nodes], [[] for _ in nodes])
    if found is None:
        return None, True
    return {n: gs for n, gs in zip(nodes, found, strict=True) if gs}, True


def _search(items: list[float], left: list[float], bins: list[list[float]]):
    if not items:
        return bins
    g, rest = items[0], items[1:]
    tried = set()
    for i, room in enumerate(left):
        if room >= g and room not in tried:  # equal rooms are symmetric: try one
            tried.add(room)
            left[i] -= g
            bins[i].append(g)
            found = _search(rest, left, bins)
            if found is not None:
                return found
            left[i] += g
            bins[i].pop()
    return None


CAUSE = Cause(ID, judge, FIX, needs=(table("objects"),), thresholds=THRESHOLDS)
