"""Seed 001 as a built-in day: Ceph RGW restarted by its liveness probe on a saturated LAN.

What the cluster recorded, and nothing more (the seed had only kube and node data): a big
artifact transfer fills the RGW node's 100 Mbit/s (about 10 MB/s) link; RGW's answers,
probe replies included, queue behind it; the 1 s liveness probe (`http-get :80/ delay=10s
timeout=1s period=10s #failure=3`) times out three times in a row and kubelet kills RGW
mid-transfer, again and again (`Container rgw failed liveness probe, will be restarted`).
"""

from __future__ import annotations

from rca.replay.platform import Fault, PlatformDay, PlatformNode, Workload

NAME = "rgw-probe-storm"


def spec(seed: int = 1) -> PlatformDay:
    day = "2021-03-17"
    nodes = (PlatformNode("k8s-master-01", "10.42.0.10", 12.5e6, 8),
             PlatformNode("k8s-storage-02", "10.42.2.10", 12.5e6, 16),
             PlatformNode("k8s-worker-03", "10.42.3.10", 12.5e6, 32))
    workloads = (
        Workload("rook-ceph-rgw-my-store-a", "rook-ceph", "k8s-storage-02", "10.42.2.44",
                 app="rook-ceph-rgw", container="rgw", image="ceph/ceph:v15.2.8", port=80,
                 probe_path="/", probe_timeout_s=1, cpu_limit="2", server_log=""),
        Workload("argo-server", "argo", "k8s-worker-03", "10.42.3.21",
                 image="argoproj/argocli:v2.12.10", port=2746, probe_timeout_s=5,
                 server_log=""),
    )
    faults = (Fault("probe_storm", f"{day}T14:05:00", 42, node="k8s-storage-02",
                    workload="rook-ceph-rgw-my-store-a", label="probe.timeout_too_tight",
                    driver="saturation"),)
    return PlatformDay(NAME, seed, "Asia/Shanghai", f"{day}T12:00:00", f"{day}T17:00:00",
                       nodes, workloads, faults, kube_state_metrics=False, cadvisor=False)
