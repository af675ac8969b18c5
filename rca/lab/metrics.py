"""Real metrics for the lab: node_exporter in each namespace, one Prometheus scraping them.

Why node_exporter inside each namespace: network counters (``node_network_*``, conntrack
``node_nf_conntrack_*``) are per network namespace, and each lab namespace stands for one
Kubernetes node; an exporter listening on the namespace's lab address sees exactly that
node's network. Host-wide collectors (CPU, memory, load, disks) read the same machine in
every namespace; that is honest for a one-machine lab and says so in docs/lab.md.

Why a ``node`` label on every target: rca's signals name a node by the ``node`` label
when relabeling set one (``rca.entities.entity_of``), as kube-prometheus does; the lab
sets it to the lab node name its Kubernetes objects use, so metrics and pods line up.

Prometheus listens on 127.0.0.1 (a free port) in the root namespace, scrapes every
``SCRAPE_S`` seconds (short runs need several points per minute), and keeps its TSDB in
the run directory.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

from rca.lab.host import Lab, LabError, Namespace

__all__ = ["NODE_EXPORTER_PORT", "SCRAPE_S", "prometheus_config", "start_node_exporter",
           "start_prometheus"]

NODE_EXPORTER_PORT = 9100
#: The lab's servers are on this machine: a proxy from the environment must not be used.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SCRAPE_S = 2
#: Collectors the signals read (network, conntrack, load, processes, disks, memory, CPU).
COLLECTORS = ("netdev", "netclass", "conntrack", "loadavg", "stat", "diskstats",
              "meminfo", "cpu")


def node_exporter_command(listen: str, collectors: tuple[str, ...] = COLLECTORS,
                          textfile_dir: Path | None = None) -> list[str]:
    """``textfile_dir``: also serve the ``*.prom`` files there (node_exporter's textfile
    collector), how the lab publishes cAdvisor-style container figures (rca.lab.cadvisor)."""
    cmd = ["prometheus-node-exporter", f"--web.listen-address={listen}",
           "--collector.disable-defaults", *(f"--collector.{c}" for c in collectors)]
    if textfile_dir is not None:
        cmd += ["--collector.textfile", f"--collector.textfile.directory={textfile_dir}"]
    return cmd


def start_node_exporter(ns: Namespace, log: Path, collectors: tuple[str, ...] = COLLECTORS,
                        textfile_dir: Path | None = None):
    return ns.popen(node_exporter_command(f"{ns.ip}:{NODE_EXPORTER_PORT}", collectors,
                                          textfile_dir), log=log)


def prometheus_config(targets: dict[str, str], scrape_s: int = SCRAPE_S) -> str:
    """The scrape config (JSON is YAML): one job, one static target per lab node,
    labelled ``node`` (lab node name -> ``ip:port``)."""
    config = {
        "global": {"scrape_interval": f"{scrape_s}s", "evaluation_interval": f"{scrape_s}s"},
        "scrape_configs": [{
            "job_name": "node-exporter",
            "static_configs": [{"targets": [addr], "labels": {"node": node}}
                               for node, addr in sorted(targets.items())],
        }],
    }
    return json.dumps(config, indent=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_prometheus(lab: Lab, targets: dict[str, str], workdir: Path,
                     ready_s: float = 30.0) -> str:
    """Start Prometheus; returns its URL once it answers ``/-/ready``."""
    conf = workdir / "prometheus.yml"
    conf.write_text(prometheus_config(targets), encoding="utf-8")
    port = free_port()
    lab.start(["prometheus", f"--config.file={conf}",
               f"--storage.tsdb.path={workdir / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{port}", "--web.enable-admin-api"],
              log=workdir / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/-/ready", ready_s, "prometheus")
    return url


def wait_ready(url: str, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with _NO_PROXY.open(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise LabError(f"{what} did not answer {url} within {within_s:.0f} s")


def targets_up(url: str) -> dict[str, bool]:
    """Which lab nodes Prometheus scrapes successfully (node -> up)."""
    with _NO_PROXY.open(f"{url}/api/v1/query?query=up", timeout=5) as resp:
        data = json.load(resp)
    return {r["metric"].get("node", ""): r["value"][1] == "1"
            for r in data["data"]["result"]}
