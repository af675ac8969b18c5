"""lb.dead_backend — backends in a balancer's pool that serve nothing while others serve.

Meaning: a Service or balancer pool has N backends but only some of them answer; the
rest never receive traffic (not Ready, so left out of the endpoints; an image that cannot
be pulled; a crash loop) or fail at once. The live ones carry everything, so callers see
less throughput and timeouts. Seed 004: ten new servers with a broken image never
received traffic while the shared balancer answered through the old ones.

What decides it: the backend addresses the balancer logged (ingress-nginx
``$upstream_addr``, every attempt of a retry) against the backends of the same service in
``objects``: its pods (their ``podIP``) and the addresses its Endpoints / EndpointSlices
list (a backend the Service lists as not ready is why it gets nothing). A pod that is
being deleted, or an endpoint marked terminating, is drained on purpose and not counted.
A backend is dead when it got no request over the window and its baseline, or only
failures faster than ``fast_fail_s``.
The pool must have carried enough requests (``min_expected`` per backend on average) for
silence to mean something.

Score: 0.6 for a dead backend beside live ones, up to 0.3 more as the dead share of the
pool grows, 0.1 when every dead backend has a reason in its pod status.
"""

from __future__ import annotations

import re

import pandas as pd

from rca.causes._evidence import during_evidence
from rca.causes.base import Cause, Threshold, rows_where
from rca.entities import app_requests, same_service, workload_of
from rca.finding import Chart, Finding, Window
from rca.kubefacts import endpoint_backends, window_pods

ID = "lb.dead_backend"
FIX = ("Fix or remove the dead backends: `kubectl describe pod` on each says why it is "
       "not serving (image pull, crash, readiness); roll back the broken image, and "
       "alert on endpoints not ready / replicas unavailable so a half-dead pool is seen.")
THRESHOLDS = {
    "fast_fail_s": Threshold(0.05, "a refused or reset connection is answered in "
                             "milliseconds; a real answer from a model server never is"),
    "min_expected": Threshold(5.0, "with fewer than five requests per backend on average, "
                              "a backend without any can be chance of the balancing"),
}
_SPLIT = re.compile(r", | : ")


def judge(window: Window, th: dict) -> Finding:
    requests = app_requests(window.tables["requests"])
    requests = requests[requests["upstream"] != ""]
    objects = window.tables.get("objects", pd.DataFrame())
    pools = _pools(requests, window_pods(window), endpoint_backends(objects), window)
    if not pools:
        return Finding(ID, 0.0, "no balancer pool with known backends carried the traffic",
                       fix=FIX, evidence=[during_evidence(window, False, "no logged upstream "
                                                          "matches a collected pod", "objects")])
    return max((_finding(p, window, th) for p in pools), key=lambda f: f.score)


def _pools(requests: pd.DataFrame, pods: pd.DataFrame, endpoints: pd.DataFrame,
           window: Window) -> list[dict]:
    """Per service with logged upstreams: its backends (pods, and endpoint addresses of
    pods not collected) and the requests it carried."""
    out = []
    services = window.scope.get("services") or sorted(set(requests["service"]))
    for service in sorted(set(requests["service"])):
        if not any(same_service(service, s) for s in services):
            continue
        rows = requests[requests["service"] == service]
        mine = pods[pd.Series([same_service(a, service) or same_service(workload_of(o), service)
                               for a, o in zip(pods["app"], pods["object"], strict=True)],
                              index=pods.index, dtype=bool)]
        mine = _with_endpoints(mine[mine["ip"] != ""], endpoints, service)
        mine = mine[~mine["deleting"].astype(bool)].drop_duplicates("ip")
        if len(mine) < 2:
            continue
        out.append({"service": service, "rows": rows, "pods": mine, "size": len(mine)})
    return out


def _with_endpoints(pods: pd.DataFrame, endpoints: pd.DataFrame, service: str) -> pd.DataFrame:
    """The service's pods, marked not ready / terminating as its endpoints list them, plus
    endpoint addresses whose pod was not collected."""
    listed = endpoints[pd.Series([same_service(s, service) for s in endpoints["service"]],
                                 index=endpoints.index, dtype=bool)]
    if listed.empty:
        return pods
    pods = pods.copy()
    by_ip = listed.set_index("ip")
    known = pods["ip"].isin(by_ip.index)
    pods.loc[known, "ready"] = [bool(r) and bool(by_ip.at[ip, "ready"])
                                for ip, r in zip(pods.loc[known, "ip"], pods.loc[known, "ready"],
                                                 strict=True)]
    pods.loc[known, "deleting"] = [bool(d) or bool(by_ip.at[ip, "terminating"])
                                   for ip, d in zip(pods.loc[known, "ip"],
                                                    pods.loc[known, "deleting"], strict=True)]
    extra = listed[~listed["ip"].isin(pods["ip"])]
    rows = pd.DataFrame({"object": [t or f"endpoint/{n}/{ip}" for t, n, ip in
                                    zip(extra["target"], extra["namespace"], extra["ip"],
                                        strict=True)],
                         "namespace": extra["namespace"].to_numpy(), "ip": extra["ip"].to_numpy(),
                         "ready": extra["ready"].to_numpy(),
                         "deleting": extra["terminating"].to_numpy(), "owner": "",
                         "state_reason": "", "image": "", "restarts": float("nan")})
    return pd.concat([pods, rows], ignore_index=True) if len(rows) else pods


def _finding(pool: dict, window: Window, th: dict) -> Finding:
    rows, pods = pool["rows"], pool["pods"]
    served, failed_fast = _per_address(rows, float(th["fast_fail_s"]))
    expected = len(rows) / pool["size"]
    dead = pods[pods["ip"].map(lambda ip: served.get(ip, 0) == 0).astype(bool)]
    live = len(pods) - len(dead)
    if expected < float(th["min_expected"]) or dead.empty or live == 0:
        why = ("too little traffic to tell" if expected < float(th["min_expected"]) else
               "every backend served" if dead.empty else "no backend served at all")
        return Finding(ID, 0.0, f"pool {pool['service']}: {why} ({len(rows)} requests, "
                       f"{pool['size']} backends)", fix=FIX, entity=f"service/{pool['service']}",
                       evidence=[during_evidence(window, False, why, "requests[upstream]")])
    reasons = [_reason(r) for r in dead.itertuples()]
    detail = [{"pod": o, "ip": ip, "requests": int(failed_fast.get(ip, 0)), "why": w}
              for o, ip, w in zip(dead["object"], dead["ip"], reasons, strict=True)]
    share = len(dead) / pool["size"]
    score = 0.6 + 0.3 * share + (0.1 if all(reasons) else 0.0)
    whys = sorted({w for w in reasons if w})
    text = (f"{len(dead)} of {pool['size']} backends of {pool['service']} served no request "
            f"while {live} served {len(rows)}" + (f" ({'; '.join(whys)})" if whys else ""))
    owner = str(dead["owner"].iloc[0])
    namespace = str(dead["namespace"].iloc[0])
    entity = (f"deployment/{namespace}/{owner.split('/', 1)[1].rsplit('-', 1)[0]}"
              if owner.startswith("ReplicaSet/") else str(dead["object"].iloc[0]))
    return Finding(ID, score, text, entity=entity, fix=FIX,
                   evidence=[during_evidence(window, True, text, "requests[upstream] + "
                                             "objects[kind=Pod]", detail)],
                   chart=_chart(pool["service"], pods, served, failed_fast, expected))


def _chart(service: str, pods: pd.DataFrame, served: dict, failed_fast: dict,
           expected: float) -> Chart:
    """Requests each backend answered (and failed fast) against an even share of the
    pool's traffic: the dead ones are the bars missing beside the line."""
    label = {ip: f"{str(o).rsplit('/', 1)[-1]} ({ip})"
             for o, ip in zip(pods["object"], pods["ip"], strict=True)}
    return Chart(f"requests per backend of {service}", "requests", line=expected,
                 line_label=f"even share: {expected:.0f} per backend",
                 bars={"served": {label[ip]: float(served.get(ip, 0)) for ip in label},
                       "failed fast": {label[ip]: float(failed_fast.get(ip, 0))
                                       for ip in label}})


def _per_address(rows: pd.DataFrame, fast_fail_s: float) -> tuple[dict, dict]:
    """Requests each backend IP answered (a final attempt not failing fast), and those it
    failed fast."""
    served: dict[str, int] = {}
    fast: dict[str, int] = {}
    for upstream, status, latency in zip(rows["upstream"], rows["status"], rows["latency_s"],
                                         strict=True):
        attempts = [a.rsplit(":", 1)[0].strip("[]") for a in _SPLIT.split(upstream)]
        quick_fail = str(status).startswith("5") and latency == latency and latency < fast_fail_s
        for i, ip in enumerate(attempts):
            if i < len(attempts) - 1 or quick_fail:
                fast[ip] = fast.get(ip, 0) + 1
            else:
                served[ip] = served.get(ip, 0) + 1
    return served, fast


def _reason(pod) -> str:
    """Why a pod does not serve, from its status."""
    if pod.state_reason:
        return f"{pod.state_reason} ({pod.image})" if "Image" in pod.state_reason \
            else pod.state_reason
    if pod.restarts == pod.restarts and pod.restarts >= 3:
        return f"restarting ({int(pod.restarts)} restarts)"
    if not pod.ready:
        return "not Ready (left out of the Service's endpoints)"
    return ""


CAUSE = Cause(ID, judge, FIX,
              needs=(rows_where("requests", "balancer logs with upstream addresses",
                                lambda df: df["upstream"] != ""),),
              thresholds=THRESHOLDS)
