"""Entities: how the names in different sources point at the same thing.

Why a base module: client logs, ingress logs, pod facts and metrics name one service, pod
or node differently (``neishi`` vs ``inference-neishi``; a pod ``<deployment>-<rs>-<id>``).
Detectors, causes and the report all need the same answer to "is this the same service"
and "which nodes run it", so it is decided once here. It imports only the record.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from rca.record import DNS_SERVICE

__all__ = ["app_requests", "entity_of", "nodes_for_services", "pods_for_services", "same_service",
           "workload_of"]


def same_service(a: str, b: str) -> bool:
    """Client and server logs name services differently (``neishi`` vs
    ``inference-neishi``, ingress's namespace-service): treat a suffix after a dash as
    the same service."""
    if not a or not b:
        return False
    return a == b or a.endswith("-" + b) or b.endswith("-" + a)


def workload_of(pod_object: str) -> str:
    """The workload a pod belongs to by name: a Deployment's pod is ``<deployment>-<replicaset
    hash>-<pod hash>``. Only a prefix, so it is matched with ``same_service``, never
    compared for equality."""
    return pod_object.rsplit("/", 1)[-1].rsplit("-", 2)[0]


def _pods_of(objects: pd.DataFrame, services: list[str]) -> pd.DataFrame:
    if objects.empty or not services:
        return objects.iloc[0:0]
    pods = objects[objects["kind"] == "Pod"]
    mask = [any(same_service(app, s) or same_service(workload_of(obj), s) for s in services)
            for app, obj in zip(pods["app"], pods["object"], strict=True)]
    return pods[mask] if len(pods) else pods


def nodes_for_services(objects: pd.DataFrame, services: list[str]) -> list[str]:
    """Nodes running pods of the given services, from the collected pod facts."""
    pods = _pods_of(objects, services)
    return sorted({n for n in pods["node"] if n}) if len(pods) else []


def pods_for_services(objects: pd.DataFrame, services: list[str]) -> list[str]:
    """Pods (``pod/<ns>/<name>``) of the given services, from the collected pod facts."""
    pods = _pods_of(objects, services)
    return sorted(set(pods["object"])) if len(pods) else []


def app_requests(df: pd.DataFrame, services: list[str] | None = None) -> pd.DataFrame:
    """Server-side application requests (not DNS lookups), optionally of ``services``."""
    out = df[(df["side"] == "server") & (df["service"] != DNS_SERVICE)]
    if services:
        # matched once per distinct name, not per row: a day holds millions of rows
        # and a few dozen services
        names = [s for s in out["service"].unique()
                 if any(same_service(s, x) for x in services)]
        out = out[out["service"].isin(names)]
    return out


def entity_of(labels: Mapping[str, str]) -> str:
    """Where a sample (or a grouped signal) sits, kubectl style, from its labels.

    ``node`` wins (set by relabeling, the most specific), then ``pod`` + ``namespace``,
    then the ``instance`` host without its port (node_exporter's target address), else
    ``""`` (cluster-wide). Raw samples and signals use the same rule so they line up.
    """
    if labels.get("node"):
        return f"node/{labels['node']}"
    if labels.get("pod") and labels.get("namespace"):
        return f"pod/{labels['namespace']}/{labels['pod']}"
    if labels.get("instance"):
        return f"node/{_host(labels['instance'])}"
    return ""


def _host(instance: str) -> str:
    """``10.0.0.5:9100`` -> ``10.0.0.5``; ``[fe80::1]:9100`` -> ``fe80::1``."""
    if instance.startswith("[") and "]" in instance:
        return instance[1:instance.index("]")]
    host, sep, port = instance.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else instance
