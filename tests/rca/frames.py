"""Small in-memory record frames for unit tests of rules (no files, no store)."""

from __future__ import annotations

import itertools

import pandas as pd

from rca import record

_ids = itertools.count()
T0 = pd.Timestamp("2021-08-23T03:00:00Z")


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def req(t: float, service: str, status="200", latency=0.3, side="client", station="st1",
        request_id="", upstream=""):
    return {"time": at(t), "row_id": f"r{next(_ids)}", "side": side, "station": station,
            "service": service, "status": str(status), "latency_s": latency,
            "request_id": request_id, "upstream": upstream}


def requests(rows) -> pd.DataFrame:
    return record.frame("requests", rows) if rows else record.empty("requests")


def signal(points: list[tuple[float, float]], entity="node/n1") -> pd.DataFrame:
    df = pd.DataFrame({"entity": [entity] * len(points), "value": [v for _, v in points]},
                      index=pd.DatetimeIndex([at(t) for t, _ in points], name="time"))
    return df


def deployment(name: str, replicas: float, app: str = "") -> dict:
    return {"time": at(0), "row_id": f"o{next(_ids)}", "kind": "Deployment",
            "object": name, "namespace": name.split("/")[1], "app": app, "replicas": replicas}
