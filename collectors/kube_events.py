"""Kubernetes items that say something *happened* → rows of the ``events`` table.

Two sources: Event objects (core/v1 and events.k8s.io/v1) and container terminations found
in a pod's status. Terminations matter because Kubernetes keeps the Events that announce
them for one hour only, while the pod keeps its last termination until the next restart:
the OOMKill behind a timeout is often visible only there.

The field readers at the top are shared with ``kube_objects``: both modules must read
timestamps, counts and object names the same way, or an event and the pod it concerns
stop lining up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import pandas as pd

from collectors.base import LineError, check_time
from rca import record
from rca.timeutil import TimeError, parse_instant

__all__ = [
    "condition_rows",
    "event_row",
    "identify",
    "instant",
    "mapping",
    "object_name",
    "sequence",
    "termination_rows",
    "whole",
]

_INT64_MAX = 2**63 - 1


# -- shared field readers ------------------------------------------------------------------
def mapping(value: Any, field: str) -> Mapping:
    """``value`` as a mapping; JSON ``null`` or absence reads as empty."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LineError(field, f"expected an object, got {type(value).__name__}")
    return value


def sequence(value: Any, field: str) -> list:
    """``value`` as a list; JSON ``null`` or absence reads as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise LineError(field, f"expected a list, got {type(value).__name__}")
    return value


def instant(value: Any, field: str, zone: tzinfo) -> pd.Timestamp | None:
    """A Kubernetes timestamp as UTC, or None when absent.

    Kubernetes writes RFC 3339 with a zone; a zone-less value (a hand-edited file) is read
    in the configured zone, like every other zone-less input of the project.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LineError(field, f"not a timestamp: {value!r}")
    try:
        return check_time(parse_instant(value, zone), field)
    except TimeError as exc:
        raise LineError(field, str(exc)[:200]) from exc
    except (ValueError, OverflowError, ArithmeticError) as exc:  # 1677-2262, dateutil
        raise LineError(field, f"{value[:40]!r} is out of range: {exc}") from exc


def whole(value: Any, field: str) -> int | None:
    """A non-negative integer (count, restarts, replicas, seconds), or None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT64_MAX:
        shown = f"{value!r}"[:40] if not isinstance(value, int) or value < 10**30 else "huge"
        raise LineError(field, f"not an integer in 0..2^63-1: {shown}")
    return value


def identify(item: Mapping, at: str) -> tuple[str, str]:
    """``(namespace, name)`` of an item; without a name it cannot be told apart."""
    meta = mapping(item.get("metadata"), f"{at}metadata")
    name = meta.get("name")
    if not name or not isinstance(name, str):
        raise LineError(f"{at}metadata.name", "missing")
    return str(meta.get("namespace") or ""), name


def object_name(kind: str, namespace: str, name: str) -> str:
    """kubectl style: ``pod/<ns>/<name>``, or ``node/<name>`` for cluster-scoped objects."""
    return "/".join(p for p in (kind.lower(), namespace, name) if p)


# -- Event objects -------------------------------------------------------------------------
#: Where each fact lives in core/v1 Events and in events.k8s.io/v1 Events. The second API
#: renamed most fields and kept the old values under ``deprecated*``.
_CORE = {
    "ref": "involvedObject",
    "message": "message",
    "first": "firstTimestamp",
    "last": "lastTimestamp",
    "count": "count",
    "source": "source",
    "reporter": "reportingComponent",
    "required": "lastTimestamp",
}
_NEW = {
    "ref": "regarding",
    "message": "note",
    "first": "deprecatedFirstTimestamp",
    "last": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "source": "deprecatedSource",
    "reporter": "reportingController",
    "required": "eventTime",
}


def event_row(item: Mapping, at: str, zone: tzinfo) -> dict:
    """One Event as an ``events`` row; ``at`` prefixes field paths (``items[3].``)."""
    names = _CORE if "involvedObject" in item else _NEW
    namespace_, name = identify(item, at)
    ref = mapping(item.get(names["ref"]), f"{at}{names['ref']}")
    kind, ref_name = ref.get("kind"), ref.get("name")
    if not kind or not ref_name:
        raise LineError(f"{at}{names['ref']}.{'name' if kind else 'kind'}", "missing")
    namespace = str(ref.get("namespace") or "")
    series = mapping(item.get("series"), f"{at}series")

    event_time = instant(item.get("eventTime"), f"{at}eventTime", zone)
    first = instant(item.get(names["first"]), f"{at}{names['first']}", zone) or event_time
    last = (
        instant(item.get(names["last"]), f"{at}{names['last']}", zone)
        or instant(series.get("lastObservedTime"), f"{at}series.lastObservedTime", zone)
        or event_time
        or first
    )
    if last is None:
        raise LineError(f"{at}{names['required']}", "no timestamp at all")

    # The old counter and the series counter can both be set; the larger one has seen
    # every repetition. A zero count (unset in the new API) still means it happened once.
    counts = [
        whole(item.get(names["count"]), f"{at}{names['count']}"),
        whole(series.get("count"), f"{at}series.count"),
    ]
    count = max([c for c in counts if c] or [1])

    return {
        "time": last,
        "row_id": record.row_id("kube-event", _uid(item) or f"{namespace_}/{name}"),
        "source": "kube",
        "type": str(item.get("type") or ""),
        "kind": str(kind),
        "reason": str(item.get("reason") or ""),
        "object": object_name(str(kind), namespace, str(ref_name)),
        "namespace": namespace,
        "node": _event_node(item, names, str(kind), str(ref_name)),
        "message": str(item.get(names["message"]) or ""),
        "count": count,
        "first_seen": first or last,
        "last_seen": last,
    }


def _uid(item: Mapping) -> str:
    return str(mapping(item.get("metadata"), "metadata").get("uid") or "")


def _event_node(item: Mapping, names: dict, kind: str, ref_name: str) -> str:
    """The node the event happened on: the reporting kubelet's host, or the node itself."""
    source = item.get(names["source"])
    host = source.get("host") if isinstance(source, Mapping) else None
    if host:
        return str(host)
    if kind == "Node":
        return ref_name
    if item.get(names["reporter"]) == "kubelet" and item.get("reportingInstance"):
        return str(item["reportingInstance"])
    return ""


# -- container terminations ----------------------------------------------------------------
def termination_rows(pod: Mapping, at: str, zone: tzinfo) -> list[dict]:
    """One ``events`` row per container termination recorded in the pod's status.

    Both the current state (a container that is down right now, or a pod that will never
    restart) and the last state are read. The row id is built from the finish time, so the
    same termination seen first as current and later as last state is one row. A
    termination without a finish time (``ContainerStatusUnknown``) cannot be placed in
    time and yields no row; the pod's ``objects`` row still names its reason.
    """
    namespace, name = identify(pod, at)
    obj = object_name("Pod", namespace, name)
    node = str(mapping(pod.get("spec"), f"{at}spec").get("nodeName") or "")
    uid = _uid(pod) or f"{namespace}/{name}"
    statuses = sequence(mapping(pod.get("status"), f"{at}status").get("containerStatuses"),
                        f"{at}status.containerStatuses")
    rows = []
    for j, status in enumerate(statuses):
        path = f"{at}status.containerStatuses[{j}]"
        status = mapping(status, path)
        container = str(status.get("name") or "")
        for state_key in ("state", "lastState"):
            state = mapping(status.get(state_key), f"{path}.{state_key}")
            term = mapping(state.get("terminated"), f"{path}.{state_key}.terminated")
            tpath = f"{path}.{state_key}.terminated"
            finished = instant(term.get("finishedAt"), f"{tpath}.finishedAt", zone)
            if finished is None:
                continue
            started = instant(term.get("startedAt"), f"{tpath}.startedAt", zone)
            reason = str(term.get("reason") or "")
            rows.append({
                "time": finished,
                "row_id": record.row_id("kube-termination", uid, container, finished),
                "source": "kube",
                "type": "Normal" if reason == "Completed" else "Warning",
                "kind": "Pod",
                "reason": reason,
                "object": obj,
                "namespace": namespace,
                "node": node,
                "message": _termination_message(container, term),
                "count": 1,
                "first_seen": started or finished,
                "last_seen": finished,
            })
    return rows


def _termination_message(container: str, term: Mapping) -> str:
    message = f"container {container} terminated"
    if term.get("exitCode") is not None:
        message += f": exit code {term['exitCode']}"
    if term.get("signal"):
        message += f", signal {term['signal']}"
    return message


# -- pod conditions ------------------------------------------------------------------------
def condition_rows(pod: Mapping, at: str, zone: tzinfo, collected_at: pd.Timestamp) -> list[dict]:
    """An ``events`` row for a pod the scheduler cannot place (``PodScheduled=False``).

    Why: the ``FailedScheduling`` Events ("0/2 nodes are available: 2 Insufficient
    nvidia.com/gpu") expire after an hour, while the pod keeps the condition for as long as
    it is Pending, so it is often the only trace left. The row reads like that Event:
    ``reason`` is the condition's (``Unschedulable``), ``message`` the scheduler's,
    ``first_seen`` the condition's ``lastTransitionTime`` and ``last_seen`` (the index) the
    collection time, as the pod was still unschedulable then; ``source`` is ``kube``.
    Its row id holds the transition time, so later collections update the same row.
    """
    namespace, name = identify(pod, at)
    status = mapping(pod.get("status"), f"{at}status")
    rows = []
    for i, cond in enumerate(sequence(status.get("conditions"), f"{at}status.conditions")):
        path = f"{at}status.conditions[{i}]"
        cond = mapping(cond, path)
        if cond.get("type") != "PodScheduled" or cond.get("status") != "False":
            continue
        since = instant(cond.get("lastTransitionTime"), f"{path}.lastTransitionTime", zone)
        rows.append({
            "time": collected_at,
            "row_id": record.row_id("kube-condition", _uid(pod) or f"{namespace}/{name}",
                                    "PodScheduled", since),
            "source": "kube",
            "type": "Warning",
            "kind": "Pod",
            "reason": str(cond.get("reason") or "Unschedulable"),
            "object": object_name("Pod", namespace, name),
            "namespace": namespace,
            "node": "",
            "message": str(cond.get("message") or ""),
            "count": 1,
            "first_seen": since or collected_at,
            "last_seen": collected_at,
        })
    return rows
