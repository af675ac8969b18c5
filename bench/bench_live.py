"""Live collection against a real Prometheus: queries, wall time and peak memory for a day.

Why this shape: the promise of the live collector is that a day of a large cluster costs a
bounded number of aggregated queries, not a download of raw series. A synthetic 500-node
day (15 node_exporter series per node = 7,500 series at 60 s, plus CoreDNS) is written as
OpenMetrics, backfilled into Debian's ``prometheus`` with ``promtool``, and collected with
``rca collect --since 24h --prometheus URL``. Queries are counted by Prometheus itself
(``prometheus_http_requests_total`` of its query API handlers); the same file collected
in file mode gives the ratio of live to file collection.

Targets (issue 6): at most 60 queries and 30 s wall on a 2-core machine.

    python bench/bench_live.py            # BENCH_NODES=500 to change the cluster size
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "build" / "bench-live"
NODES = int(os.environ.get("BENCH_NODES", "500"))
DAY0 = 1629648000  # 2021-08-22T16:00:00Z = 2021-08-23 00:00 +08:00
STEPS = 1440  # a day at 60 s
SINCE, UNTIL = "2021-08-23T00:00:00+08:00", "2021-08-24T00:00:00+08:00"
DEVICES = ("eth0", "eth1", "lo", "veth1a2b", "veth3c4d", "cali5e6f")
MAX_QUERIES, MAX_WALL_S = 60, 30.0


def write_day(path: Path, nodes: int) -> int:
    """The synthetic day as OpenMetrics; returns the number of series."""
    rng = np.random.default_rng(500)
    stamps = [str(DAY0 + 60 * k) for k in range(STEPS)]
    count = 0
    with open(path, "w", encoding="utf-8") as fh:

        def family(name, kind, series):
            nonlocal count
            fh.write(f"# HELP {name} synthetic\n# TYPE {name} {kind}\n")
            for sample, labels, values in series:
                count += 1
                head = f"{sample}{{{labels}}} "
                fh.write("".join(f"{head}{v:.6g} {t}\n"
                                 for v, t in zip(values.tolist(), stamps, strict=True)))

        def node(i):
            return f'instance="10.1.{i // 250}.{i % 250}:9100",job="node-exporter"'

        def counter(lam):
            return np.cumsum(rng.poisson(lam, STEPS)).astype(float)

        family("node_nf_conntrack_stat_insert_failed", "gauge",
               ((("node_nf_conntrack_stat_insert_failed", node(i), counter(0.2)))
                for i in range(nodes)))
        family("node_nf_conntrack_stat_drop", "gauge",
               (("node_nf_conntrack_stat_drop", node(i), counter(0.01)) for i in range(nodes)))
        family("node_load1", "gauge",
               (("node_load1", node(i), rng.gamma(2.0, 2.0, STEPS)) for i in range(nodes)))
        family("node_network_receive_bytes", "counter",
               (("node_network_receive_bytes_total", f'device="{d}",{node(i)}',
                 1e9 + counter(3e6)) for i in range(nodes) for d in DEVICES))
        family("node_network_speed_bytes", "gauge",
               (("node_network_speed_bytes", f'device="{d}",{node(i)}', np.full(STEPS, 1.25e8))
                for i in range(nodes) for d in DEVICES))
        pods = [f'instance="10.244.0.{p}:9153",job="coredns",pod="coredns-{p}"' for p in (5, 6)]
        family("coredns_dns_requests", "counter",
               (("coredns_dns_requests_total", f'{pod},type="A"', counter(600)) for pod in pods))
        bounds = [0.00025 * 2**k for k in range(16)]
        family("coredns_dns_request_duration_seconds", "histogram", (
            ("coredns_dns_request_duration_seconds_bucket", f'{pod},le="{le}"',
             np.floor(counter(600) * min(1.0, 0.5 + k / 20))) for pod in pods
            for k, le in enumerate([*map(repr, bounds), "+Inf"])))
        fh.write("# EOF\n")
    return count


def count_series(path: Path) -> int:
    """Series in a day file written by ``write_day`` (each has one sample per step)."""
    with open(path, "rb") as fh:
        lines = sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 24), b""))
    families = 7
    return (lines - 2 * families - 1) // STEPS


def queries_served(url: str) -> float:
    """Requests Prometheus has answered on its query API, from its own counter."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    pattern = re.compile(r'^prometheus_http_requests_total\{[^}]*handler="/api/v1/query[^"]*"'
                         r'[^}]*\} (\S+)$', re.M)
    return sum(float(v) for v in pattern.findall(text))


def child(mode: str, arg: str) -> dict:
    """One collection in its own process, so its peak RSS is its own."""
    if mode == "fetch":
        return fetch_only(arg)
    from rca.cli import main

    store = OUT / f"store-{mode}"
    shutil.rmtree(store, ignore_errors=True)
    source = ["--prometheus", arg] if mode == "live" else ["--metrics-file", arg]
    t0 = time.perf_counter()
    code = main(["collect", "--store", str(store), "--since", "24h", "--until", UNTIL,
                 "--tz", "Asia/Shanghai", "-o", "json", *source])
    seconds = time.perf_counter() - t0
    assert code == 0, f"rca collect exited {code}"
    from rca.store import Store

    peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    rows = Store(store).tables()["metrics"]  # from the manifest: loading them is not collecting
    return {"mode": mode, "seconds": round(seconds, 2), "rows": rows, "peak_mb": peak_mb}


def fetch_only(url: str) -> dict:
    """The Prometheus collector alone (queries, decoding, shaping; no store): what the
    live source costs apart from the store it writes into."""
    import pandas as pd

    from collectors.base import ParseContext
    from collectors.prometheus import PrometheusSource, Settings
    from rca.timeutil import get_zone

    until = pd.Timestamp(UNTIL).tz_convert("UTC")
    t0 = time.perf_counter()
    batches = list(PrometheusSource(Settings(url)).fetch(
        until - pd.Timedelta(hours=24), until, ParseContext("bench", get_zone("UTC"))))
    seconds = time.perf_counter() - t0
    # the synthetic day has node_exporter and CoreDNS families only: signals of cAdvisor,
    # disks and the NIC's speed are "no series" gaps; any other gap is a failure
    failed = [g for b in batches for g in b.gaps if not g.reason.startswith("no series")]
    assert not failed, failed
    return {"mode": "fetch", "seconds": round(seconds, 2),
            "rows": sum(len(b.frames["metrics"]) for b in batches),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def run_child(mode: str, arg: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, arg],
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{mode} collection failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    from tests.integration.servers import backfilled_prometheus

    OUT.mkdir(parents=True, exist_ok=True)
    om = OUT / f"day-{NODES}.om"
    t0 = time.perf_counter()
    series = count_series(om) if om.exists() else write_day(om, NODES)  # seeded: reusable
    print(f"input: {NODES} nodes, {series:,} series at 60 s, {series * STEPS:,} samples, "
          f"{om.stat().st_size / 1e6:.0f} MB OpenMetrics ({time.perf_counter() - t0:.0f} s)")
    tsdb_dir = OUT / "prometheus"
    shutil.rmtree(tsdb_dir, ignore_errors=True)
    tsdb_dir.mkdir()
    t0 = time.perf_counter()
    with backfilled_prometheus([om], tsdb_dir) as url:
        print(f"prometheus: backfilled and ready in {time.perf_counter() - t0:.0f} s at {url}")
        before = queries_served(url)
        live = run_child("live", url)
        time.sleep(0.5)
        queries = queries_served(url) - before
        fetch = run_child("fetch", url)
    files = run_child("file", str(om))
    print(f"live  rca collect --since 24h --prometheus: {queries:.0f} queries, "
          f"{live['seconds']:.2f} s wall, peak {live['peak_mb']} MB, "
          f"{live['rows']:,} signal rows stored")
    print(f"      of which the collector alone (queries, decoding, shaping; no store): "
          f"{fetch['seconds']:.2f} s, peak {fetch['peak_mb']} MB")
    print(f"file  rca collect --metrics-file (same day): {files['seconds']:.2f} s wall, "
          f"peak {files['peak_mb']} MB, {files['rows']:,} raw samples stored")
    print(f"live / file wall: {live['seconds'] / files['seconds']:.3f} "
          f"(file / live: x{files['seconds'] / live['seconds']:.1f})")
    ok = queries <= MAX_QUERIES and live["seconds"] <= MAX_WALL_S
    print(f"targets: <= {MAX_QUERIES} queries, <= {MAX_WALL_S:.0f} s: "
          f"{'met' if ok else 'NOT MET'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
    else:
        main()
