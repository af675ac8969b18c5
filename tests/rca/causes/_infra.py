"""Windows for the infrastructure causes: an hour of baseline, ten minutes of incident."""

import pandas as pd

from rca import record
from rca.finding import Window
from tests.rca.frames import at, req, requests, signal

NODE, POD = "node/storage-02", "pod/rook-ceph/rook-ceph-rgw-a-7c9d8b6f5-x2k4p"


def series(before: float, during: float, entity: str = NODE) -> pd.DataFrame:
    """A signal at ``before`` every minute for an hour, then ``during`` for ten minutes."""
    return signal([(t, before) for t in range(0, 3600, 60)]
                  + [(t, during) for t in range(3600, 4200, 60)], entity)


def server_requests(before_s: float, during_s: float, service="rgw") -> pd.DataFrame:
    return requests([req(t, service, latency=before_s, side="server") for t in range(0, 3600, 30)]
                    + [req(t, service, latency=during_s, side="server")
                       for t in range(3600, 4200, 10)])


def pod_objects(timeout_s: float = 1.0) -> pd.DataFrame:
    return record.frame("objects", [
        {"time": at(4200), "row_id": "p", "kind": "Pod", "object": POD, "namespace": "rook-ceph",
         "node": NODE.split("/")[1], "app": "rook-ceph-rgw", "container": "rgw",
         "restarts": 4.0, "liveness_timeout_s": timeout_s},
        {"time": at(4200), "row_id": "d", "kind": "Deployment",
         "object": "deployment/rook-ceph/rook-ceph-rgw-a", "namespace": "rook-ceph"}])


def window(signals: dict[str, pd.DataFrame] | None = None, requests_=None, events=None,
           symptoms=None) -> Window:
    tables = {"requests": requests_ if requests_ is not None else record.empty("requests"),
              "events": events if events is not None else record.empty("events"),
              "objects": pod_objects()}
    tables.update({f"signal:{k}": v for k, v in (signals or {}).items()})
    scope = {"nodes": [NODE.split("/")[1]], "pods": [POD], "services": ["rgw"]}
    return Window(at(3600), at(4200), at(0), tables, scope, symptoms or {})
