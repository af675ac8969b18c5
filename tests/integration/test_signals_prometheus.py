"""Every declared signal, evaluated offline, equals what a real Prometheus answers.

Why: ``rca.signals`` promises that ``evaluate(signal, …)`` on raw samples and
``promql(signal)`` on a live Prometheus are the same number. Only a real Prometheus can
hold it to that. We write two hours of realistic node_exporter / CoreDNS samples as
OpenMetrics, backfill them with ``promtool`` (so the file must be valid for the real
parser too), read the same file with ``collectors.metrics_file`` and compare every
step of every signal on two grids: one aligned with the scrape interval (window edges
fall exactly on samples, which tests the closed-window rule) and one offset and coarser.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import UTC

import numpy as np
import pandas as pd
import pytest
from prometheus_api_client import PrometheusConnect

from collectors.base import ParseContext
from collectors.metrics_file import read_metrics_file
from rca import record
from rca.signals import SIGNALS, evaluate, promql

pytestmark = pytest.mark.integration

T0 = 1704069420  # 2024-01-01T00:37:00Z: two hours from here straddle promtool's 2h blocks
SCRAPE_S = 15
N = 2 * 3600 // SCRAPE_S + 1
BOUNDS = [0.00025 * 2**k for k in range(16)]  # CoreDNS' request duration buckets
NODES = {"a": 'instance="10.0.0.11:9100",job="node-exporter"',
         "b": 'instance="10.0.0.12:9100",job="node-exporter",node="worknode2"'}
PODS = {p: f'instance="{ip}:9153",job="kube-dns",namespace="kube-system",pod="coredns-{p}"'
        for p, ip in (("7xk2p", "10.244.0.5"), ("q9m4d", "10.244.1.7"), ("z8c1v", "10.244.2.3"))}
GRIDS = {"aligned-15s": (0, 15), "offset-60s": (7, 60)}  # (start offset s, step s)


def _stamps(rng, jitter: bool, first: int = 0, count: int = N) -> list[str]:
    """OpenMetrics seconds with ms; jittered scrapes exercise promtool's ms truncation."""
    ms = (T0 + SCRAPE_S * np.arange(first, first + count)) * 1000
    if jitter:
        ms = ms + rng.integers(0, 400, count)
    return [f"{m // 1000}.{m % 1000:03d}" for m in ms]


def _counter(rng, lam, reset_at: int | None = None, count: int = N) -> np.ndarray:
    values = np.cumsum(rng.poisson(lam, count)).astype(float)
    if reset_at is not None:  # process restart: counting starts again near zero
        values[reset_at:] -= values[reset_at - 1] + rng.integers(1, 5)
        values[reset_at:] = np.maximum(values[reset_at:], 0)
    return values


def _family(out, family, kind, help_text, series, unit: str = "") -> None:
    out += [f"# HELP {family} {help_text}", f"# TYPE {family} {kind}"]
    out += [f"# UNIT {family} {unit}"] if unit else []
    for name, labels, stamps, values in series:
        out += [f"{name}{{{labels}}} {v:.17g} {t}" for t, v in zip(stamps, values, strict=True)]


def _histogram(rng, labels: str, reset_at: int | None) -> list[str]:
    """Requests per scrape with a latency median that moves from 2 ms to 40 ms."""
    lines, cum, total = [], np.zeros(len(BOUNDS) + 1), 0.0
    for k, stamp in enumerate(_stamps(rng, jitter=False)):
        if k == reset_at:
            cum, total = np.zeros_like(cum), 0.0
        median = 0.002 if k < N // 2 else 0.04
        draws = rng.lognormal(math.log(median), 1.2, rng.poisson(600))
        cum += np.cumsum(np.bincount(np.searchsorted(BOUNDS, draws), minlength=len(cum)))
        total += draws.sum()
        for le, count in zip([repr(b) for b in BOUNDS] + ["+Inf"], cum, strict=True):
            exemplar = ' # {trace_id="4bf92f35"} 0.0031' if (k, le) == (9, "0.004") else ""
            lines.append(f'coredns_dns_request_duration_seconds_bucket{{{labels},le="{le}"}} '
                         f"{count:.0f} {stamp}{exemplar}")
        family = "coredns_dns_request_duration_seconds"
        lines.append(f"{family}_sum{{{labels}}} {total:.6f} {stamp}")
        lines.append(f"{family}_count{{{labels}}} {cum[-1]:.0f} {stamp}")
    return lines


def _write_openmetrics(path) -> None:
    rng = np.random.default_rng(20210823)
    out: list[str] = []
    jit = {"a": False, "b": True}
    _family(out, "node_nf_conntrack_stat_insert_failed", "gauge", "Insertion failures.", [
        ("node_nf_conntrack_stat_insert_failed", NODES["a"], _stamps(rng, jit["a"]),
         _counter(rng, 0.5, reset_at=200) + np.r_[np.zeros(220), np.arange(N - 220) * 9.0]),
        ("node_nf_conntrack_stat_insert_failed", NODES["b"], _stamps(rng, jit["b"]),
         _counter(rng, 2.0))])
    _family(out, "node_nf_conntrack_stat_drop", "gauge", "Dropped packets.", [
        ("node_nf_conntrack_stat_drop", NODES[n], _stamps(rng, jit[n]), _counter(rng, 0.05))
        for n in NODES])
    rx, speed = [], []
    for n in NODES:
        for dev, mean in (("eth0", 6e7), ("lo", 4e8), ("veth9a8b7c", 2e7), ("cali1234ab", 1e7)):
            rate = mean * (1 + 0.8 * np.sin(np.arange(N) / 40.0)) * SCRAPE_S
            rx.append(("node_network_receive_bytes_total", f'device="{dev}",{NODES[n]}',
                       _stamps(rng, jit[n]), 1e12 + np.cumsum(rng.poisson(rate))))
        for dev, bps in (("eth0", 125e6), ("veth9a8b7c", 1.25e9)):
            speed.append(("node_network_speed_bytes", f'device="{dev}",{NODES[n]}',
                          _stamps(rng, jit[n]), np.full(N, bps)))
    _family(out, "node_network_receive_bytes", "counter", "Received bytes.", rx)
    tx, drops, io, blocked = [], [], [], []
    for n in NODES:
        for dev, mean in (("eth0", 9e7), ("lo", 3e8)):
            rate = mean * (1 + 0.9 * np.cos(np.arange(N) / 25.0)) * SCRAPE_S
            tx.append(("node_network_transmit_bytes_total", f'device="{dev}",{NODES[n]}',
                       _stamps(rng, jit[n]), 5e11 + np.cumsum(rng.poisson(rate))))
            drops.append(("node_network_receive_drop_total", f'device="{dev}",{NODES[n]}',
                          _stamps(rng, jit[n]), _counter(rng, 3.0)))
        for dev in ("sda", "nvme0n1"):
            busy = np.clip(rng.normal(0.4, 0.3, N), 0, 1) * SCRAPE_S
            io.append(("node_disk_io_time_seconds_total", f'device="{dev}",{NODES[n]}',
                       _stamps(rng, jit[n]), 1e5 + np.cumsum(busy)))
        blocked.append(("node_procs_blocked", NODES[n], _stamps(rng, jit[n]),
                        rng.poisson(2.0, N).astype(float)))
    _family(out, "node_network_transmit_bytes", "counter", "Transmitted bytes.", tx)
    _family(out, "node_network_receive_drop", "counter", "Dropped on receive.", drops)
    _family(out, "node_disk_io_time_seconds", "counter", "Time doing IO.", io)
    _family(out, "node_procs_blocked", "gauge", "Blocked processes.", blocked)
    cfs, throttled = [], []
    kubelet = 'instance="10.0.0.11:10250",job="kubelet",metrics_path="/metrics/cadvisor"'
    for pod, container in (("trainer-0", "trainer"), ("trainer-0", ""), ("trainer-0", "POD"),
                           ("rgw-a-5d9f7c-x2k4p", "rgw")):
        labels = f'container="{container}",{kubelet},namespace="ml",pod="{pod}"'
        periods = _counter(rng, 150.0, reset_at=300 if container == "rgw" else None)
        cfs.append(("container_cpu_cfs_periods_total", labels, _stamps(rng, False), periods))
        throttled.append(("container_cpu_cfs_throttled_periods_total", labels,
                          _stamps(rng, False), np.floor(periods * rng.uniform(0.1, 0.8))))
    _family(out, "container_cpu_cfs_periods", "counter", "CFS periods.", cfs)
    _family(out, "container_cpu_cfs_throttled_periods", "counter", "Throttled periods.",
            throttled)

    _family(out, "node_network_speed_bytes", "gauge", "Link speed.", speed, unit="bytes")
    _family(out, "node_load1", "gauge", "1m load average.", [
        ("node_load1", NODES["a"], _stamps(rng, False), rng.gamma(2.0, 1.5, N)),
        # node b's exporter stops 30 min early: the last value lives on for the lookback
        ("node_load1", NODES["b"], _stamps(rng, True, count=N - 120),
         rng.gamma(2.0, 1.0, N - 120))])
    # cAdvisor: two containers of one pod, the pod cgroup (container="") and the pause
    # container, which the working-set signal must leave out; the second pod restarts
    pod = 'id="/kubepods/burstable/pod1",image="",job="kubelet",namespace="ml",pod="{}"'
    ws = []
    for name, c, mean in (("trainer-0", "trainer", 6e9), ("trainer-0", "sidecar", 5e7),
                          ("trainer-0", "", 7e9), ("trainer-0", "POD", 7e5),
                          ("embedder-1", "embedder", 2e9)):
        ws.append(("container_memory_working_set_bytes",
                   f'container="{c}",' + pod.format(name), _stamps(rng, False),
                   mean * (1 + 0.2 * np.sin(np.arange(N) / 25.0))))
    _family(out, "container_memory_working_set_bytes", "gauge", "Working set.", ws,
            unit="bytes")
    dns = 'family="1",proto="udp",server="dns://:53",zone="."'
    _family(out, "coredns_dns_requests", "counter", "DNS requests.", [
        ("coredns_dns_requests_total", f'{dns},{PODS["7xk2p"]},type="A"', _stamps(rng, False),
         _counter(rng, 300)),
        ("coredns_dns_requests_total", f'{dns},{PODS["q9m4d"]},type="A"', _stamps(rng, True),
         _counter(rng, 250, reset_at=240)),
        ("coredns_dns_requests_total", f'{dns},{PODS["z8c1v"]},type="A"',
         _stamps(rng, False, first=300, count=N - 300), 7 + _counter(rng, 100, count=N - 300))])
    out += ["# HELP coredns_dns_request_duration_seconds Request duration.",
            "# TYPE coredns_dns_request_duration_seconds histogram"]
    out += _histogram(rng, f'{PODS["7xk2p"]},server="dns://:53",type="A",zone="."', None)
    out += _histogram(rng, f'{PODS["q9m4d"]},server="dns://:53",type="A",zone="."', 240)
    path.write_text("\n".join(out) + "\n# EOF\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    """(Prometheus URL, the same samples read by our collector)."""
    missing = [b for b in ("prometheus", "promtool") if shutil.which(b) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: `make test` installs them "
                    "(scripts/install-system-deps.sh, Debian packages prometheus)")
    tmp = tmp_path_factory.mktemp("prometheus")
    om, tsdb, log = tmp / "signals.om", tmp / "tsdb", tmp / "prometheus.log"
    _write_openmetrics(om)
    done = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om),
                           str(tsdb)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"promtool refused the file:\n{done.stdout}\n{done.stderr}"
    batch = read_metrics_file(om, ParseContext(file=om.name, zone=UTC))
    assert batch.malformed == 0, [str(m) for m in batch.samples]
    config = tmp / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = _free_port()
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
            stdout=log_fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, log)
        yield url, batch.frames["metrics"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen, url: str, log, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"prometheus not ready after {deadline_s:.0f}s:\n{_tail(log)}")


def _by_key(rows) -> dict[tuple[int, str], float]:
    return {(int(t), labels): float(v) for t, labels, v in rows}


@pytest.mark.parametrize("grid", sorted(GRIDS))
@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_offline_evaluation_matches_prometheus(backfilled, name, grid):
    url, samples = backfilled
    signal = SIGNALS[name]
    offset, step = GRIDS[grid]
    start = pd.Timestamp(T0 + offset, unit="s", tz="UTC")
    end = pd.Timestamp(T0 + 2 * 3600 + 600, unit="s", tz="UTC")  # 10 min past the data
    result = PrometheusConnect(url, disable_ssl=True).custom_query_range(
        promql(signal), start.to_pydatetime(), end.to_pydatetime(), f"{step}s")
    live = _by_key((round(float(t) * 1000) * 1_000_000, record.canonical_labels(r["metric"]), v)
                   for r in result for t, v in r["values"])
    entities = {record.canonical_labels(r["metric"]): signal.entity(r["metric"]) for r in result}
    offline_df = evaluate(signal, samples, start, end, step)
    offline = _by_key(zip(offline_df.index.asi8, offline_df["labels"], offline_df["value"],
                          strict=True))
    assert live and offline, f"empty: prometheus {len(live)} points, offline {len(offline)}"
    only_live, only_offline = sorted(live.keys() - offline), sorted(offline.keys() - live)
    assert not only_live and not only_offline, (
        f"{len(only_live)} points only in prometheus (first {only_live[:3]}), "
        f"{len(only_offline)} only offline (first {only_offline[:3]})")
    keys = sorted(live)
    got, want = np.array([offline[k] for k in keys]), np.array([live[k] for k in keys])
    close = np.isclose(got, want, rtol=1e-6, atol=1e-12, equal_nan=True)
    bad = [(pd.Timestamp(keys[i][0], tz="UTC"), json.loads(keys[i][1]), got[i], want[i])
           for i in np.flatnonzero(~close)[:5]]
    assert close.all(), f"{(~close).sum()} of {len(keys)} differ, e.g. {bad}"
    for labels, entity in entities.items():
        assert set(offline_df.loc[offline_df["labels"] == labels, "entity"]) == {entity}
