"""Seed 002 as a built-in day: PyTorch training stalls, first on CPU limits, then on NFS.

Two incidents of the seed's "assorted platform failures", hours apart on different pods:
a trainer whose DataLoader runs more workers than its CPU limit has cores is throttled in
most CFS periods and its watchdog restarts it; later another trainer's reads from an NFS
mount hang, processes pile up in D state on its node and it restarts too. Nobody logs
requests: only kube objects and node / cAdvisor / kube-state-metrics series.
"""

from __future__ import annotations

from rca.replay.platform import Fault, PlatformDay, PlatformNode, Workload

NAME = "dataloader-nfs-stall"


def spec(seed: int = 2) -> PlatformDay:
    day = "2022-09-14"
    nodes = (PlatformNode("gpu-node-1", "192.168.10.11", 1.25e9, 64, node_label=True),
             PlatformNode("gpu-node-2", "192.168.10.12", 1.25e9, 64, node_label=True),
             PlatformNode("cpu-node-1", "192.168.10.21", 1.25e9, 32, node_label=True))
    workloads = (
        Workload("resnet-train", "ml-train", "gpu-node-1", "10.244.1.17",
                 image="pytorch/pytorch:1.12.1-cuda11.3-cudnn8-runtime", cpu_limit="4",
                 server_log=""),
        Workload("bert-finetune", "ml-train", "gpu-node-2", "10.244.2.33",
                 image="pytorch/pytorch:1.12.1-cuda11.3-cudnn8-runtime", cpu_limit="16",
                 server_log=""),
        Workload("label-studio", "tools", "cpu-node-1", "10.244.3.5",
                 image="heartexlabs/label-studio:1.5.0", requests_per_hour=240,
                 normal_s=0.12),
    )
    faults = (Fault("throttling", f"{day}T10:20:00", 35, workload="resnet-train",
                    severity=1.0, label="cpu.throttling", restarts=True),
              Fault("nfs_stall", f"{day}T14:40:00", 25, node="gpu-node-2",
                    workload="bert-finetune", label="storage.io_stall", restarts=True))
    return PlatformDay(NAME, seed, "Asia/Shanghai", f"{day}T09:00:00", f"{day}T16:00:00",
                       nodes, workloads, faults)
