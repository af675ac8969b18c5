"""Labelled days of the platform world (seeds 001 and 002): links, probes, disks, CPU limits.

Written with the platform World's own vocabulary (a fault is what happened physically, with
a severity), never by reading what the rules check; names, zones, rates and noise differ
from the built-in days and from each other. The decoys hurt nobody: a rollout replacing
pods, a nightly batch job pinning a disk and its CPU limit, a link full of backup traffic
that no service on it notices; on the mixed day an IO stall hits one node while another's
link is full, and only the stall may be blamed.
"""

from __future__ import annotations

from rca.replay import builtin
from rca.replay.platform import Fault, PlatformDay, PlatformNode, Workload


def _nodes(prefix: str, link: float = 125e6, node_label: bool = False) -> tuple:
    return (PlatformNode(f"{prefix}-a", "10.60.0.11", link, 32, node_label),
            PlatformNode(f"{prefix}-b", "10.60.0.12", link, 32, node_label),
            PlatformNode(f"{prefix}-c", "10.60.0.13", link, 16, node_label))


def _web(name: str, ns: str, node: str, ip: str, rate: float, clients: tuple[str, ...] = (),
         **kw) -> Workload:
    return Workload(name, ns, node, ip, requests_per_hour=rate, clients=clients, **kw)


def saturation_edge_cache() -> PlatformDay:
    day, nodes = "2024-05-06", _nodes("edge")
    loads = (_web("model-cache", "serving", "edge-b", "10.61.2.7", 900, ("kiosk-7", "kiosk-9")),
             _web("catalog", "serving", "edge-c", "10.61.3.4", 300, ("kiosk-7",)))
    faults = (Fault("saturation", f"{day}T10:14:00", 18, node="edge-b",
                    label="network.saturation"),)
    return PlatformDay("saturation-edge-cache", 101, "Europe/Paris", f"{day}T08:30:00",
                       f"{day}T12:00:00", nodes, loads, faults)


def saturation_backup_window() -> PlatformDay:
    day, nodes = "2023-02-27", _nodes("sp", link=1.25e9, node_label=True)
    loads = (_web("feature-store", "ml", "sp-a", "10.62.1.9", 420, ("scorer-1",),
                  normal_s=0.2),
             _web("ranker", "ml", "sp-b", "10.62.2.3", 600, ("scorer-2",)))
    faults = (Fault("saturation", f"{day}T21:05:00", 25, node="sp-a", severity=0.8,
                    label="network.saturation"),)
    return PlatformDay("saturation-backup-window", 102, "America/Sao_Paulo",
                       f"{day}T19:00:00", f"{day}T23:00:00", nodes, loads, faults,
                       noise_slow_requests=8, aggregate_events=False)


def probe_rgw_with_logs() -> PlatformDay:
    day, nodes = "2022-11-08", _nodes("ceph", link=12.5e6)
    loads = (Workload("rook-ceph-rgw-objstore-a", "rook-ceph", "ceph-a", "10.63.1.44",
                      app="rook-ceph-rgw", container="rgw", port=8080,
                      probe_path="/swift/healthcheck",
                      requests_per_hour=500, normal_s=0.05, server_log="rgw"),
             _web("mlflow", "mlops", "ceph-c", "10.63.3.2", 120))
    faults = (Fault("probe_storm", f"{day}T15:30:00", 30, workload="rook-ceph-rgw-objstore-a",
                    label="probe.timeout_too_tight", driver="saturation"),)
    return PlatformDay("probe-rgw-with-logs", 103, "UTC", f"{day}T13:00:00", f"{day}T17:30:00",
                       nodes, loads, faults, kube_state_metrics=False)


def probe_throttled_api() -> PlatformDay:
    day, nodes = "2025-08-19", _nodes("blr")
    loads = (_web("pricing-api", "shop", "blr-c", "10.64.3.8", 700, probe_timeout_s=2,
                  cpu_limit="500m"),
             _web("search", "shop", "blr-a", "10.64.1.5", 900))
    faults = (Fault("probe_storm", f"{day}T18:45:00", 20, workload="pricing-api",
                    severity=0.9, label="probe.timeout_too_tight", driver="throttling"),)
    return PlatformDay("probe-throttled-api", 104, "Asia/Kolkata", f"{day}T16:00:00",
                       f"{day}T20:30:00", nodes, loads, faults, noise_slow_requests=5)


def io_stall_disk() -> PlatformDay:
    day, nodes = "2021-12-01", _nodes("ldn")
    loads = (_web("invoice-db-api", "billing", "ldn-a", "10.65.1.3", 800, normal_s=0.03),
             _web("pdf-render", "billing", "ldn-a", "10.65.1.4", 200, normal_s=0.3),
             _web("gateway", "billing", "ldn-b", "10.65.2.2", 1000))
    faults = (Fault("io_stall", f"{day}T09:50:00", 16, node="ldn-a", label="storage.io_stall"),)
    return PlatformDay("io-stall-disk", 105, "Europe/London", f"{day}T08:00:00",
                       f"{day}T11:30:00", nodes, loads, faults)


def io_stall_nfs_trainer() -> PlatformDay:
    day, nodes = "2023-07-10", _nodes("nyc", link=1.25e9, node_label=True)
    loads = (Workload("yolo-train", "vision", "nyc-b", "10.66.2.9", server_log="",
                      cpu_limit="24"),
             _web("annotator", "vision", "nyc-c", "10.66.3.3", 150))
    faults = (Fault("nfs_stall", f"{day}T13:25:00", 30, node="nyc-b", workload="yolo-train",
                    severity=0.8, label="storage.io_stall", restarts=True),)
    return PlatformDay("io-stall-nfs-trainer", 106, "America/New_York", f"{day}T11:00:00",
                       f"{day}T15:00:00", nodes, loads, faults)


def throttling_api() -> PlatformDay:
    day, nodes = "2024-10-03", _nodes("jnb")
    loads = (_web("quote-engine", "insure", "jnb-b", "10.67.2.6", 1100, cpu_limit="1",
                  probe_timeout_s=10),
             _web("docs", "insure", "jnb-b", "10.67.2.7", 200))
    faults = (Fault("throttling", f"{day}T12:10:00", 22, workload="quote-engine",
                    label="cpu.throttling"),)
    return PlatformDay("throttling-api", 107, "Africa/Johannesburg", f"{day}T10:30:00",
                       f"{day}T14:00:00", nodes, loads, faults, noise_slow_requests=6)


def throttling_dataloader() -> PlatformDay:
    day, nodes = "2025-03-21", _nodes("akl", link=1.25e9)
    loads = (Workload("segformer-train", "research", "akl-a", "10.68.1.12", server_log="",
                      cpu_limit="2"),
             Workload("whisper-train", "research", "akl-b", "10.68.2.12", server_log="",
                      cpu_limit="32"))
    faults = (Fault("throttling", f"{day}T07:40:00", 40, workload="segformer-train",
                    severity=0.7, label="cpu.throttling", restarts=True),)
    return PlatformDay("throttling-dataloader", 108, "Pacific/Auckland", f"{day}T06:00:00",
                       f"{day}T10:00:00", nodes, loads, faults, aggregate_events=False)


def decoy_rollout() -> PlatformDay:
    """A Deployment rollout replaces a pod: its old container is stopped, nobody restarts."""
    day, nodes = "2024-01-15", _nodes("mad")
    loads = (_web("checkout", "shop", "mad-a", "10.69.1.4", 600, ("till-3",)),
             _web("stock", "shop", "mad-b", "10.69.2.4", 300))
    faults = (Fault("rollout", f"{day}T11:02:00", 3, workload="checkout"),
              Fault("rollout", f"{day}T11:06:00", 3, workload="stock"))
    return PlatformDay("decoy-rollout", 109, "Europe/Madrid", f"{day}T09:30:00",
                       f"{day}T13:00:00", nodes, loads, faults)


def decoy_nightly_batch() -> PlatformDay:
    """A nightly ETL Job pins its node's disk and its own CPU limit, then completes."""
    day, nodes = "2022-04-05", _nodes("icn")
    loads = (Workload("etl-nightly-27481920", "data", "icn-c", "10.70.3.7", server_log="",
                      cpu_limit="2", job=True),
             _web("recommend", "data", "icn-a", "10.70.1.2", 800),
             _web("profile", "data", "icn-b", "10.70.2.2", 400))
    faults = (Fault("batch", f"{day}T02:00:00", 75, node="icn-c",
                    workload="etl-nightly-27481920"),)
    return PlatformDay("decoy-nightly-batch", 110, "Asia/Seoul", f"{day}T01:00:00",
                       f"{day}T04:30:00", nodes, loads, faults)


def decoy_idle_saturation() -> PlatformDay:
    """A backup fills one node's link for an hour; what runs there does not notice."""
    day, nodes = "2023-09-12", _nodes("den")
    loads = (_web("maps-tiles", "geo", "den-a", "10.71.1.5", 700, ("app-1",)),
             _web("geocoder", "geo", "den-b", "10.71.2.5", 500, ("app-1",)))
    faults = (Fault("idle_saturation", f"{day}T14:00:00", 60, node="den-a"),)
    return PlatformDay("decoy-idle-saturation", 111, "America/Denver", f"{day}T12:30:00",
                       f"{day}T16:30:00", nodes, loads, faults)


def mixed_stall_beside_full_link() -> PlatformDay:
    """An IO stall on one node while another node's link is full: only the stall is a cause."""
    day, nodes = "2025-06-02", _nodes("syd")
    loads = (_web("claims", "ins", "syd-a", "10.72.1.5", 900, normal_s=0.05),
             _web("uploads", "ins", "syd-b", "10.72.2.5", 600, ("portal",)))
    faults = (Fault("io_stall", f"{day}T10:30:00", 14, node="syd-a", severity=0.8,
                    label="storage.io_stall"),
              Fault("idle_saturation", f"{day}T10:00:00", 70, node="syd-b"))
    return PlatformDay("mixed-stall-beside-full-link", 112, "Australia/Sydney",
                       f"{day}T08:30:00", f"{day}T12:00:00", nodes, loads, faults)


SCENARIOS = {
    "rgw-probe-storm": lambda: builtin("rgw-probe-storm"),
    "dataloader-nfs-stall": lambda: builtin("dataloader-nfs-stall"),
    "saturation-edge-cache": saturation_edge_cache,
    "saturation-backup-window": saturation_backup_window,
    "probe-rgw-with-logs": probe_rgw_with_logs,
    "probe-throttled-api": probe_throttled_api,
    "io-stall-disk": io_stall_disk,
    "io-stall-nfs-trainer": io_stall_nfs_trainer,
    "throttling-api": throttling_api,
    "throttling-dataloader": throttling_dataloader,
    "decoy-rollout": decoy_rollout,
    "decoy-nightly-batch": decoy_nightly_batch,
    "decoy-idle-saturation": decoy_idle_saturation,
    "mixed-stall-beside-full-link": mixed_stall_beside_full_link,
}
