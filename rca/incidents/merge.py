"""Symptoms into incidents: what overlaps in time and scope is one incident.

Why merge: one fault shows in several places at once (timeouts in station logs, 504s in
the ingress log, liveness kills in events). A person wants one incident with all of its
symptoms, not three pages. And a fault that flickers (a burst every few minutes for an hour
on the same scope) is one incident, not eight.

Thresholds (``thresholds.incidents``):

- ``merge_gap_s`` (60 s): symptoms on overlapping scope whose spans come within a minute
  are one incident (each detector groups its own symptom with its own gap).
- ``flicker_gap_s`` (600 s) and ``flicker_min_bursts`` (3): a run of at least three
  incidents on the same scope, each within ten minutes of the last, is one flickering
  fault. Two bursts nine minutes apart stay two (2021-08-23 had 15:54 and 16:03 on the
  feet service): one recurrence is a coincidence as often as a pattern, three are a pattern.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rca.entities import same_service
from rca.finding import Incident
from rca.incidents.base import Symptom

__all__ = ["merge", "overlaps"]

_KEYS = ("stations", "services", "pods", "nodes")


def overlaps(a: dict[str, list[str]], b: dict[str, list[str]]) -> bool:
    """Two scopes share a station, service, pod or node. An empty scope (a symptom that
    could not say where) overlaps everything: where it happened is unknown, not elsewhere."""
    if not any(a.get(k) for k in _KEYS) or not any(b.get(k) for k in _KEYS):
        return True
    for key in ("stations", "pods", "nodes"):
        if set(a.get(key, [])) & set(b.get(key, [])):
            return True
    return any(same_service(x, y) for x in a.get("services", []) for y in b.get("services", []))


def merge(symptoms: list[Symptom], th: dict[str, Any]) -> list[Incident]:
    gap = pd.Timedelta(seconds=float(th["merge_gap_s"]))
    groups: list[list[Symptom]] = []
    for s in sorted(symptoms, key=lambda s: (s.start, s.kind)):
        for g in reversed(groups):
            if s.start <= max(x.end for x in g) + gap and any(overlaps(s.scope, x.scope)
                                                               for x in g):
                g.append(s)
                break
        else:
            groups.append([s])
    groups = _join_flickers(groups, th)
    return [_incident(g) for g in groups]


def _join_flickers(groups: list[list[Symptom]], th: dict[str, Any]) -> list[list[Symptom]]:
    gap = pd.Timedelta(seconds=float(th["flicker_gap_s"]))
    need = int(th["flicker_min_bursts"])
    out: list[list[Symptom]] = []
    run: list[list[Symptom]] = []

    def close_run() -> None:
        if len(run) >= need:
            out.append([s for g in run for s in g])
        else:
            out.extend(run)
        run.clear()

    for g in sorted(groups, key=lambda g: min(s.start for s in g)):
        if run:
            last = run[-1]
            near = min(s.start for s in g) - max(s.end for s in last) <= gap
            if near and any(overlaps(a.scope, b.scope) for a in g for b in last):
                run.append(g)
                continue
            close_run()
        run.append(g)
    close_run()
    return sorted(out, key=lambda g: min(s.start for s in g))


def _incident(group: list[Symptom]) -> Incident:
    start = min(s.start for s in group)
    end = max(s.end for s in group)
    scope: dict[str, Any] = {}
    for s in group:
        for key, values in s.scope.items():
            scope[key] = sorted(set(scope.get(key, [])) | set(values))
    figures: dict[str, Any] = {"kinds": sorted({s.kind for s in group})}
    for s in sorted(group, key=lambda s: s.start):
        for key, value in s.figures.items():
            figures[key] = _combine(figures.get(key), value)
    for key in ("stations", "services"):  # counts of the merged scope, not sums
        if key in figures:
            figures[key] = len(scope.get(key, []))
    ident = f"INC-{start.strftime('%Y%m%d-%H%M%S')}"
    return Incident(ident, start, end, scope, figures)


def _combine(old: Any, new: Any) -> Any:
    """Counts of merged symptoms add up; for anything else the first symptom's value holds
    (a median of medians would be a number nobody measured)."""
    if old is None:
        return new
    if isinstance(old, int) and isinstance(new, int) and not isinstance(old, bool):
        return old + new
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: _combine(old.get(k), new.get(k)) if k in old and k in new
                else old.get(k, new.get(k)) for k in {**old, **new}}
    return old
