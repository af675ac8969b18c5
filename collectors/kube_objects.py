"""Kubernetes items that describe *state* → rows of the ``objects`` table.

Pods give one row per container (restarts, last termination, probe settings), workloads
one row each (desired and ready replicas), nodes one row each (capacity, conditions).
Every row is stamped with the collection time: these are facts as seen then.

What is copied is chosen field by field, never by copying a sub-tree: container ``env``,
annotations (``kubectl.kubernetes.io/last-applied-configuration`` holds whole manifests,
Secrets included), ``managedFields`` and probe headers can carry credentials and must
not reach the store.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import pandas as pd

from collectors.base import LineError
from collectors.kube_events import identify, instant, mapping, object_name, sequence, whole
from rca import record

__all__ = ["WORKLOAD_KINDS", "node_row", "pod_rows", "workload_row"]

#: Controllers that keep N replicas of a pod template running.
WORKLOAD_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})

#: What the API server fills in when a probe omits them. Files written by hand (or by
#: older tools) omit them, and a missing timeout still means one second.
_PROBE_DEFAULTS = {
    "initialDelaySeconds": 0,
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}
_APP_LABELS = ("app.kubernetes.io/name", "app", "k8s-app")
_NODE_RESOURCES = ("cpu", "memory", "nvidia.com/gpu")
_ROLE_PREFIX = "node-role.kubernetes.io/"
_NAN = math.nan


# -- pods ----------------------------------------------------------------------------------
def pod_rows(pod: Mapping, at: str, zone: tzinfo, collected_at: pd.Timestamp) -> list[dict]:
    """One row per regular container; init containers are skipped (they ran once)."""
    namespace, name = identify(pod, at)
    obj = object_name("Pod", namespace, name)
    spec = mapping(pod.get("spec"), f"{at}spec")
    status = mapping(pod.get("status"), f"{at}status")
    statuses = _container_statuses(status, at, zone)
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise LineError(f"{at}spec.containers", "missing")
    meta = mapping(pod.get("metadata"), f"{at}metadata")
    app = _app(meta.get("labels"))
    placement = _placement(meta, status)
    rows = []
    for i, container in enumerate(containers):
        path = f"{at}spec.containers[{i}]"
        container = mapping(container, path)
        cname = container.get("name")
        if not cname or not isinstance(cname, str):
            raise LineError(f"{path}.name", "missing or not text")
        probes = {
            kind: _probe(container.get(f"{kind}Probe"), f"{path}.{kind}Probe")
            for kind in ("liveness", "readiness", "startup")
        }
        liveness, readiness = probes["liveness"] or {}, probes["readiness"] or {}
        st = statuses.get(cname, {})
        detail = {
            "image": str(container.get("image") or ""),
            "resources": _resources(container.get("resources"), f"{path}.resources"),
            "probes": {k: p for k, p in probes.items() if p},
            "phase": str(status.get("phase") or ""),
            **placement,
            **_unscheduled(status, at),
            **st.get("detail", {}),
            **_resolver(spec),
        }
        rows.append({
            "time": collected_at,
            "row_id": record.row_id("object", "Pod", obj, cname),
            "kind": "Pod",
            "object": obj,
            "namespace": namespace,
            "node": str(spec.get("nodeName") or ""),
            "app": app,
            "container": str(cname),
            "restarts": st.get("restarts", _NAN),
            "last_termination_reason": st.get("reason", ""),
            "last_termination_at": st.get("finished"),
            "liveness_timeout_s": liveness.get("timeoutSeconds", _NAN),
            "liveness_period_s": liveness.get("periodSeconds", _NAN),
            "liveness_failure_threshold": liveness.get("failureThreshold", _NAN),
            "readiness_timeout_s": readiness.get("timeoutSeconds", _NAN),
            "detail": _json(detail),
        })
    return rows


def _placement(meta: Mapping, status: Mapping) -> dict:
    """Where the pod sits and why it may not: its IP (what a balancer's ``upstream_addr``
    names), its controller's kind (a Job's crash is the Job's result, a Deployment's is an
    outage) and whether it is being deleted (drained on purpose). Why it is not placed is
    ``_unscheduled``'s."""
    out: dict[str, Any] = {}
    if status.get("podIP"):
        out["podIP"] = str(status["podIP"])
    owners = meta.get("ownerReferences")
    if isinstance(owners, list) and owners and isinstance(owners[0], Mapping):
        out["owner"] = f"{owners[0].get('kind', '')}/{owners[0].get('name', '')}"
    if meta.get("deletionTimestamp"):
        out["deleting"] = True
    return out


def _unscheduled(status: Mapping, at: str) -> dict:
    """``{"unschedulable": {reason, message, since}}`` for a pod the scheduler cannot place
    (``PodScheduled=False``), else ``{}``; the same fact as ``kube_events.condition_rows``,
    kept with the pod's facts too."""
    for i, cond in enumerate(sequence(status.get("conditions"), f"{at}status.conditions")):
        cond = mapping(cond, f"{at}status.conditions[{i}]")
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return {"unschedulable": {
                "reason": str(cond.get("reason") or ""),
                "message": str(cond.get("message") or ""),
                "since": str(cond.get("lastTransitionTime") or ""),
            }}
    return {}


def _container_statuses(status: Mapping, at: str, zone: tzinfo) -> dict[str, dict]:
    """Per container name: restarts, last termination and current state, validated."""
    out = {}
    css = sequence(status.get("containerStatuses"), f"{at}status.containerStatuses")
    for j, cs in enumerate(css):
        path = f"{at}status.containerStatuses[{j}]"
        cs = mapping(cs, path)
        restarts = whole(cs.get("restartCount"), f"{path}.restartCount")
        state = mapping(cs.get("state"), f"{path}.state")
        # A container that is down right now has its latest termination in ``state``;
        # the one before it (or, once restarted, the same one) in ``lastState``.
        key = "state" if "terminated" in state else "lastState"
        tpath = f"{path}.{key}.terminated"
        term = mapping(mapping(cs.get(key), f"{path}.{key}").get("terminated"), tpath)
        current = next(iter(state), "")
        out[str(cs.get("name") or "")] = {
            "restarts": _NAN if restarts is None else float(restarts),
            "reason": str(term.get("reason") or ""),
            "finished": instant(term.get("finishedAt"), f"{tpath}.finishedAt", zone),
            "detail": {
                "state": current.capitalize(),
                "state_reason": str(
                    mapping(state.get(current), f"{path}.state.{current}").get("reason") or ""
                ),
                "ready": bool(cs.get("ready")),
                **({"last_exit_code": term["exitCode"]} if "exitCode" in term else {}),
            },
        }
    return out


def _probe(probe: Any, path: str) -> dict | None:
    """Probe settings with the API defaults applied, plus the handler as kubectl shows it."""
    if probe is None:
        return None
    probe = mapping(probe, path)
    settings = {}
    for key, default in _PROBE_DEFAULTS.items():
        value = whole(probe.get(key), f"{path}.{key}")
        settings[key] = default if value is None else value
    return {"handler": _handler(probe), **settings}


def _handler(probe: Mapping) -> str:
    """The probe action in ``kubectl describe`` wording: ``http-get http://:80/`` etc.

    HTTP headers are left out on purpose: they are where probe credentials live.
    """
    if isinstance(http := probe.get("httpGet"), Mapping):
        scheme = str(http.get("scheme") or "HTTP").lower()
        path = str(http.get("path") or "")
        if path and not path.startswith("/"):
            path = "/" + path
        return f"http-get {scheme}://{_host_port(http)}{path}"
    if isinstance(tcp := probe.get("tcpSocket"), Mapping):
        return f"tcp-socket {_host_port(tcp)}"
    if isinstance(exec_ := probe.get("exec"), Mapping):
        # the program only: arguments carry passwords (curl -u user:pass, mysql -p…)
        argv = [str(a) for a in sequence(exec_.get("command"), "exec.command")]
        return f"exec [{argv[0]} …{len(argv) - 1} args]" if argv else "exec []"
    if isinstance(grpc := probe.get("grpc"), Mapping):
        return f"grpc <pod>:{grpc.get('port', '')} {grpc.get('service') or ''}".rstrip()
    return "unknown"


def _host_port(action: Mapping) -> str:
    host, port = str(action.get("host") or ""), str(action.get("port", ""))
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _resources(value: Any, path: str) -> dict:
    resources = mapping(value, path)
    return {k: dict(mapping(resources.get(k), f"{path}.{k}")) for k in ("requests", "limits")
            if resources.get(k)}


def _resolver(pod_spec: Mapping) -> dict:
    """DNS policy and resolver options: a 5 s resolver timeout looks like an app timeout."""
    out = {}
    if pod_spec.get("dnsPolicy"):
        out["dnsPolicy"] = str(pod_spec["dnsPolicy"])
    config = pod_spec.get("dnsConfig")
    if isinstance(config, Mapping):
        out["dnsConfig"] = {k: config[k] for k in ("nameservers", "searches", "options")
                            if k in config}
    return out


def _app(labels: Any) -> str:
    labels = labels if isinstance(labels, Mapping) else {}
    return next((str(labels[k]) for k in _APP_LABELS if labels.get(k)), "")


# -- workloads -----------------------------------------------------------------------------
def workload_row(item: Mapping, kind: str, at: str, collected_at: pd.Timestamp) -> dict:
    """A Deployment, ReplicaSet, StatefulSet or DaemonSet: desired vs ready replicas."""
    namespace, name = identify(item, at)
    obj = object_name(kind, namespace, name)
    spec = mapping(item.get("spec"), f"{at}spec")
    status = mapping(item.get("status"), f"{at}status")
    if kind == "DaemonSet":  # one pod per eligible node: the desired count is in status
        desired = whole(status.get("desiredNumberScheduled"), f"{at}status.desiredNumberScheduled")
        ready = whole(status.get("numberReady"), f"{at}status.numberReady")
        replicas = desired or 0
    else:
        replicas = whole(spec.get("replicas"), f"{at}spec.replicas")
        ready = whole(status.get("readyReplicas"), f"{at}status.readyReplicas")
        replicas = 1 if replicas is None else replicas
    selector = mapping(spec.get("selector"), f"{at}spec.selector").get("matchLabels")
    template = mapping(spec.get("template"), f"{at}spec.template")
    pod_spec = mapping(template.get("spec"), f"{at}spec.template.spec")
    containers = []
    specs = sequence(pod_spec.get("containers"), f"{at}spec.template.spec.containers")
    for i, c in enumerate(specs):
        path = f"{at}spec.template.spec.containers[{i}]"
        c = mapping(c, path)
        containers.append({
            "name": str(c.get("name") or ""),
            "image": str(c.get("image") or ""),
            "resources": _resources(c.get("resources"), f"{path}.resources"),
        })
    return {
        "time": collected_at,
        "row_id": record.row_id("object", kind, obj, ""),
        "kind": kind,
        "object": obj,
        "namespace": namespace,
        "app": _app(selector) or _app(mapping(item.get("metadata"), f"{at}metadata").get("labels")),
        "replicas": float(replicas),
        "ready_replicas": float(ready or 0),
        "detail": _json({"containers": containers, **_resolver(pod_spec)}),
    }


# -- nodes ---------------------------------------------------------------------------------
def node_row(item: Mapping, at: str, collected_at: pd.Timestamp) -> dict:
    """A Node: what it can hold, whether it is healthy, what it runs."""
    _, name = identify(item, at)
    status = mapping(item.get("status"), f"{at}status")
    labels = mapping(mapping(item.get("metadata"), f"{at}metadata").get("labels"),
                     f"{at}metadata.labels")
    info = mapping(status.get("nodeInfo"), f"{at}status.nodeInfo")
    conditions = {}
    for i, cond in enumerate(sequence(status.get("conditions"), f"{at}status.conditions")):
        cond = mapping(cond, f"{at}status.conditions[{i}]")
        conditions[str(cond.get("type"))] = str(cond.get("status"))
    detail = {
        **{
            key: {r: str(v[r]) for r in _NODE_RESOURCES if r in v}
            for key in ("capacity", "allocatable")
            if (v := mapping(status.get(key), f"{at}status.{key}"))
        },
        "conditions": conditions,
        "kubeletVersion": str(info.get("kubeletVersion") or ""),
        "kernelVersion": str(info.get("kernelVersion") or ""),
        "roles": sorted(k.removeprefix(_ROLE_PREFIX) for k in labels
                        if k.startswith(_ROLE_PREFIX)),
    }
    obj = object_name("Node", "", name)
    return {
        "time": collected_at,
        "row_id": record.row_id("object", "Node", obj, ""),
        "kind": "Node",
        "object": obj,
        "node": name,
        "detail": _json(detail),
    }


def _json(value: Mapping) -> str:
    """Compact, key-sorted JSON: equal facts give equal strings across collections."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
