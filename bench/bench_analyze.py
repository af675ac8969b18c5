"""Analysis at scale: ``rca analyze`` on a synthetic week of a 500-node cluster.

The record: 5 million requests a week (client and server side, 100 services, 50 stations),
conntrack insert failures per node as a stored signal at 30 s (500 nodes), CoreDNS p99 per
replica, pod and node facts, and three DNS-like bursts a day. Targets (issue 5): <= 30 s
and <= 3 GB for 7 days on a 2-core machine, time roughly linear from 1 to 7 days.

Why a baseline in the same run: loading the record from the store is work any analysis
must do; the ratio of analysis to that load says what the rules cost on top of it.

Each measurement runs in its own process so its peak RSS is its own.

    python bench/bench_analyze.py            # 1 and 7 days (BENCH_DAYS="1 7" to change)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path("build/bench")
DAYS = [int(d) for d in os.environ.get("BENCH_DAYS", "1 7").split()]
NODES, SERVICES, STATIONS = 500, 100, 50
REQUESTS_PER_WEEK = 5_000_000
T0 = pd.Timestamp("2026-01-05T00:00:00Z")


def _ids(n: int, rng: np.random.Generator) -> list[str]:
    """Row ids as collectors make them (``record.row_id``: 20 hex characters): short ids
    would understate what a week of real rows holds by 0.3 GB per 10 M rows."""
    hi, lo = rng.integers(0, 2**63, n), rng.integers(0, 2**16, n)
    return [f"{a:016x}{b:04x}" for a, b in zip(hi.tolist(), lo.tolist(), strict=True)]


def _requests(days: int, rng: np.random.Generator) -> pd.DataFrame:
    n = REQUESTS_PER_WEEK * days // 7
    t = np.sort(rng.uniform(0, days * 86400, n))
    side = np.where(np.arange(n) % 2 == 0, "client", "server")
    service = rng.integers(0, SERVICES, n)
    latency = rng.uniform(0.2, 0.6, n)
    status = np.full(n, "200", dtype=object)
    for day in range(days):  # three bursts of client timeouts on four services a day
        for hour in (9.3, 13.5, 16.1):
            start = day * 86400 + hour * 3600
            idx = np.searchsorted(t, [start, start + 120])
            sel = np.arange(idx[0], idx[1])
            sel = sel[side[sel] == "client"][:14]
            status[sel] = "timeout"
            latency[sel] = rng.uniform(11, 33, len(sel))
            service[sel] = np.arange(len(sel)) % 4
    return pd.DataFrame({
        "row_id": _ids(n, rng), "side": side,
        "station": np.char.add("st-", (np.arange(n) % STATIONS).astype(str)),
        "service": np.char.add("svc-", service.astype(str)), "latency_s": latency,
        "status": status,
    }, index=pd.DatetimeIndex(T0 + pd.to_timedelta(t, unit="s"), name="time"))


def _signal(name: str, entities: list[str], days: int, rng: np.random.Generator,
            level: float) -> pd.DataFrame:
    steps = np.arange(0, days * 86400, 30)
    times = np.tile(steps, len(entities))
    ents = np.repeat(np.array(entities, dtype=object), len(steps))
    values = rng.exponential(level, len(times))
    return pd.DataFrame({
        "row_id": _ids(len(times), rng), "name": name,
        "entity": ents, "labels": "{}", "value": values,
    }, index=pd.DatetimeIndex(T0 + pd.to_timedelta(times, unit="s"), name="time"))


def _objects() -> pd.DataFrame:
    rows = [{"row_id": f"n{i}", "kind": "Node", "object": f"node/worker-{i}",
             "node": f"worker-{i}"} for i in range(NODES)]
    rows += [{"row_id": f"p{i}", "kind": "Pod", "object": f"pod/prod/svc-{i}-5d8f7c9b4-x{i}",
              "namespace": "prod", "node": f"worker-{i % NODES}", "app": f"svc-{i}",
              "restarts": 0.0} for i in range(SERVICES)]
    rows += [{"row_id": "dep-coredns", "kind": "Deployment",
              "object": "deployment/kube-system/coredns", "namespace": "kube-system",
              "app": "kube-dns", "replicas": 2.0}]
    df = pd.DataFrame(rows)
    df.index = pd.DatetimeIndex([T0] * len(df), name="time")
    return df


def build(days: int, store_dir: Path) -> dict:
    from rca.store import Store

    rng = np.random.default_rng(days)
    store = Store(store_dir)
    t0 = time.perf_counter()
    reqs = _requests(days, rng)
    store.write("requests", reqs)
    nodes = [f"node/worker-{i}" for i in range(NODES)]
    store.write("metrics", _signal("conntrack_insert_failed_per_second", nodes, days, rng, 0.01))
    pods = [f"pod/kube-system/coredns-5d78c9869d-{c}" for c in ("a1b2c", "d3e4f")]
    store.write("metrics", _signal("coredns_request_p99_seconds", pods, days, rng, 0.004))
    store.write("objects", _objects())
    return {"requests": len(reqs), "build_s": round(time.perf_counter() - t0, 1)}


def child(mode: str, store_dir: str, days: int) -> dict:
    from rca.config import load
    from rca.engine import analyze, load_record
    from rca.store import Store

    config = load(overrides={"tz": "UTC"})
    since, until = T0, T0 + pd.Timedelta(days=days)
    t0 = time.perf_counter()
    record = load_record(Store(store_dir), since, until, config)
    loaded = time.perf_counter() - t0
    incidents = -1
    if mode == "analyze":
        incidents = len(analyze(record, config).incidents)
    seconds = time.perf_counter() - t0
    peak_mb = _peak_rss_mb()
    rows = sum(len(df) for df in record.tables.values())
    return {"mode": mode, "rows": rows, "incidents": incidents, "load_s": round(loaded, 2),
            "seconds": round(seconds, 2), "peak_mb": round(peak_mb)}


def _peak_rss_mb() -> float:
    """This process's peak RSS. From ``VmHWM`` where Linux has it: ``ru_maxrss`` carries
    over the RSS of the parent it was forked from across ``exec``, so a child started right
    after the parent built a week in memory reported the parent's 3.7 GB as its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for days in DAYS:
        store = OUT / f"analyze-store-{days}d-v2"  # v2: ids of real length
        if not (store / "VERSION").exists():
            print(f"building a {days}-day record in {store} …", file=sys.stderr)
            print(f"  {build(days, store)}", file=sys.stderr)
        for mode in ("load", "analyze"):
            proc = subprocess.run([sys.executable, __file__, "--child", mode, str(store),
                                   str(days)], capture_output=True, text=True, check=True)
            rows.append((days, json.loads(proc.stdout.strip().splitlines()[-1])))
    by = {(d, r["mode"]): r for d, r in rows}
    for days in DAYS:
        load, ana = by[(days, "load")], by[(days, "analyze")]
        print(f"{days} day(s): {ana['rows']:>11,} rows  load {load['seconds']:6.2f} s "
              f"(peak {load['peak_mb']} MB)  analyze {ana['seconds']:6.2f} s "
              f"(peak {ana['peak_mb']} MB, {ana['incidents']} incidents)  "
              f"x{ana['seconds'] / max(load['seconds'], 1e-3):.2f} of the load alone  "
              f"{ana['rows'] / ana['seconds']:,.0f} rows/s")
    if len(DAYS) > 1:
        a, b = DAYS[0], DAYS[-1]
        ratio = by[(b, "analyze")]["seconds"] / by[(a, "analyze")]["seconds"]
        print(f"{b} days / {a} day(s): time x{ratio:.2f} for x{b / a:.0f} the data")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        main()
