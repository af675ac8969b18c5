"""Services and their backends (Endpoints, EndpointSlices) → rows of the ``objects`` table.

Why: in seed 004, ten new model servers never received traffic while the shared balancer
kept answering through the old ones. Whether a service's backends are *ready* is what the
load-balancer causes (``lb.dead_backend``) read, so every backend row names its service,
and the ``detail`` JSON lists each backend with its readiness:

``{"service": "<name>", "backends": [{"ip", "target", "node", "ready", …}], "ports": […]}``

``replicas`` is the number of backends, ``ready_replicas`` the ready ones, the same
columns a Deployment uses, so "desired vs serving" reads alike for both.

Only addresses, target pod names and readiness are copied; annotations and labels other
than the service name stay out (see ``kube_objects`` on what can hold credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from collectors.base import LineError
from collectors.kube_events import identify, mapping, object_name
from collectors.kube_objects import _app, _json
from rca import record

__all__ = ["SERVICE_KINDS", "service_rows"]

SERVICE_KINDS = frozenset({"Service", "Endpoints", "EndpointSlice"})

#: The label the endpointslice controller puts on every slice it makes for a service.
_SLICE_SERVICE_LABEL = "kubernetes.io/service-name"


def service_rows(item: Mapping, kind: str, at: str, collected_at: pd.Timestamp) -> dict:
    """One ``objects`` row for a Service, an Endpoints or an EndpointSlice."""
    namespace, name = identify(item, at)
    if kind == "Service":
        return _service(item, namespace, name, at, collected_at)
    if kind == "Endpoints":
        service, backends, ports = name, _endpoints_backends(item, at), _endpoints_ports(item, at)
    else:
        labels = mapping(mapping(item.get("metadata"), f"{at}metadata").get("labels"),
                         f"{at}metadata.labels")
        service = str(labels.get(_SLICE_SERVICE_LABEL) or "")
        backends, ports = _slice_backends(item, at), _ports(item.get("ports"), f"{at}ports")
    obj = object_name(kind, namespace, name)
    ready = sum(1 for b in backends if b["ready"])
    return {
        "time": collected_at,
        "row_id": record.row_id("object", kind, obj, ""),
        "kind": kind,
        "object": obj,
        "namespace": namespace,
        "app": service,
        "replicas": float(len(backends)),
        "ready_replicas": float(ready),
        "detail": _json({"service": service, "backends": backends, "ports": ports}),
    }


def _service(item: Mapping, namespace: str, name: str, at: str,
             collected_at: pd.Timestamp) -> dict:
    spec = mapping(item.get("spec"), f"{at}spec")
    selector = mapping(spec.get("selector"), f"{at}spec.selector")
    obj = object_name("Service", namespace, name)
    detail = {
        "type": str(spec.get("type") or "ClusterIP"),
        "clusterIP": str(spec.get("clusterIP") or ""),
        "selector": {str(k): str(v) for k, v in selector.items()},
        "ports": _ports(spec.get("ports"), f"{at}spec.ports"),
    }
    return {
        "time": collected_at,
        "row_id": record.row_id("object", "Service", obj, ""),
        "kind": "Service",
        "object": obj,
        "namespace": namespace,
        "app": _app(selector) or name,
        "detail": _json(detail),
    }


def _ports(value: Any, path: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise LineError(path, "expected a list")
    out = []
    for i, port in enumerate(value):
        port = mapping(port, f"{path}[{i}]")
        out.append({k: port[k] for k in ("name", "port", "targetPort", "protocol")
                    if port.get(k) is not None})
    return out


def _endpoints_backends(item: Mapping, at: str) -> list[dict]:
    """core/v1 Endpoints: ``addresses`` are ready, ``notReadyAddresses`` are not."""
    out = []
    for i, subset in enumerate(item.get("subsets") or []):
        path = f"{at}subsets[{i}]"
        subset = mapping(subset, path)
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for j, addr in enumerate(subset.get(key) or []):
                addr = mapping(addr, f"{path}.{key}[{j}]")
                out.append(_backend(addr.get("ip"), addr, f"{path}.{key}[{j}]", ready))
    return out


def _endpoints_ports(item: Mapping, at: str) -> list[dict]:
    ports: list[dict] = []
    for i, subset in enumerate(item.get("subsets") or []):
        for p in _ports(mapping(subset, f"{at}subsets[{i}]").get("ports"),
                        f"{at}subsets[{i}].ports"):
            if p not in ports:
                ports.append(p)
    return ports


def _slice_backends(item: Mapping, at: str) -> list[dict]:
    """discovery.k8s.io/v1: an unset ``conditions.ready`` means ready (the API's rule)."""
    out = []
    for i, ep in enumerate(item.get("endpoints") or []):
        path = f"{at}endpoints[{i}]"
        ep = mapping(ep, path)
        conditions = mapping(ep.get("conditions"), f"{path}.conditions")
        addresses = ep.get("addresses") or []
        ready = conditions.get("ready") is not False
        backend = _backend(addresses[0] if addresses else None, ep, path, ready)
        if conditions.get("terminating"):
            backend["terminating"] = True
        out.append(backend)
    return out


def _backend(ip: Any, holder: Mapping, path: str, ready: bool) -> dict:
    if not ip or not isinstance(ip, str):
        raise LineError(f"{path}.ip" if "addresses" in path else f"{path}.addresses",
                        "missing")
    ref = mapping(holder.get("targetRef"), f"{path}.targetRef")
    target = (object_name(str(ref.get("kind")), str(ref.get("namespace") or ""),
                          str(ref.get("name"))) if ref.get("kind") and ref.get("name") else "")
    return {"ip": ip, "target": target, "node": str(holder.get("nodeName") or ""),
            "ready": ready}
