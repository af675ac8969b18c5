"""The small inference platform every scenario starts from (seed 000's shape).

Three namespaces, each standing for one Kubernetes node: ``client`` (the stations'
industrial PCs), ``svc`` (the inference server running the services, seed 000's one
2×24-core box) and ``dns`` (the cluster DNS, one replica). Each runs a node_exporter;
one Prometheus scrapes them. Services are named after seed 000's (interior, feet,
top-screw) and reached by name through the lab's DNS, so every request takes the
resolver path the 2021-08-23 timeouts took.

Scenarios call ``inference_platform`` (optionally putting nginx in front) and then
``start_stations``; the Kubernetes objects for all of it go into ``plan.kube``.
"""

from __future__ import annotations

import socket
import sys
import time

from rca.lab import dns as dns_server
from rca.lab.host import Lab, LabError, Namespace
from rca.lab.metrics import NODE_EXPORTER_PORT, start_node_exporter, start_prometheus
from rca.lab.nginx import start_nginx
from rca.lab.scenario import Plan

__all__ = ["NODES", "SERVICES", "inference_platform", "start_services", "start_stations",
           "wait_listening"]

SERVICES = ("interior", "feet", "top-screw")
#: lab role -> the Kubernetes node name it stands for
NODES = {"client": "station-pc", "svc": "infer-node", "dns": "dns-node"}
SERVICE_PORT = 8080
_POD_HASH = "7d9f8c6b5"


def node_up(lab: Lab, plan: Plan, role: str) -> Namespace:
    """The namespace of ``role``, as a Node with a node_exporter."""
    ns = lab.ns(role)
    node = NODES.get(role, f"{role}-node")
    plan.kube.node(node, ns.ip)
    # a scenario's textfile directory (cAdvisor figures, a shaped link's speed) and
    # collectors, set before the platform comes up (rca.lab.workload.cadvisor)
    start_node_exporter(ns, plan.workdir / f"node-exporter-{role}.log",
                        **plan.exporter_options.get(role, {}))
    plan.exporters[node] = f"{ns.ip}:{NODE_EXPORTER_PORT}"
    return ns


def start_services(plan: Plan, svc: Namespace, names=SERVICES, port: int = SERVICE_PORT,
                   extra: list[str] | None = None, replicas: int = 1,
                   dead: int = 0) -> dict[str, list[tuple[str, int]]]:
    """For each name, ``replicas`` pods on the ``svc`` node, each with its own IP; the
    first ``dead`` of them never start (their pods wait on an image that cannot be
    pulled). Returns name -> every pod's (ip, port), dead ones included."""
    where: dict[str, list[tuple[str, int]]] = {}
    for name in names:
        plan.kube.deployment(name, replicas, replicas - dead)
        for k in range(replicas):
            ip = svc.add_ip()
            alive = k >= dead
            pod = plan.kube.pod(name, NODES["svc"], ip, port, ready=alive,
                                name=f"{name}-{_POD_HASH}-{k}" if replicas > 1 else None)
            pod_name = pod["metadata"]["name"]
            where.setdefault(name, []).append((ip, port))
            if not alive:
                plan.kube.never_started(pod_name, plan.kube.created)
                plan.kube.endpoint(name, ip, pod_name, NODES["svc"], ready=False)
                continue
            svc.popen([sys.executable, "-m", "rca.lab.service", "--listen", f"{ip}:{port}",
                       "--name", name, "--log", str(plan.logs / f"server-{pod_name}.jsonl"),
                       "--pod", pod_name, "--node", NODES["svc"], *(extra or [])],
                      log=plan.workdir / f"service-{pod_name}.log")
            plan.kube.endpoint(name, ip, pod_name, NODES["svc"], ready=True)
    for pods in where.values():
        for ip, port in pods[dead:]:
            wait_listening(ip, port, 15.0, svc)
    return where


def inference_platform(lab: Lab, plan: Plan, proxy: bool = False, services=SERVICES,
                       replicas: int = 1, dead: int = 0, extra: list[str] | None = None,
                       also: dict[str, tuple[str, int]] | None = None) -> None:
    """DNS, services, node_exporters, Prometheus. With ``proxy`` the stations' names
    resolve to an nginx in front (port 80, one upstream pool per service), else to the
    services' pods themselves. ``also``: services the scenario runs itself (name ->
    (ip, port)), named in the DNS and called by the stations like the others."""
    dns, svc = node_up(lab, plan, "dns"), node_up(lab, plan, "svc")
    client = node_up(lab, plan, "client")
    where = start_services(plan, svc, services, extra=extra, replicas=replicas, dead=dead)
    hosts = {name: f"{name}.{dns_server.DOMAIN}" for name in where}
    if proxy:
        pools = {hosts[n]: [f"{ip}:{port}" for ip, port in pods] for n, pods in where.items()}
        start_nginx(svc, plan.workdir, plan.logs / "nginx-access.log", pools)
        wait_listening(svc.ip, 80, 10.0, svc)
        for name, host in hosts.items():
            plan.names[host] = svc.ip
            plan.targets[name] = f"http://{host}/infer"
    else:
        for name, host in hosts.items():
            ip, port = where[name][-1]
            plan.names[host] = ip
            plan.targets[name] = f"http://{host}:{port}/infer"
    for name, (ip, port) in (also or {}).items():
        host = f"{name}.{dns_server.DOMAIN}"
        plan.names[host] = ip
        plan.targets[name] = f"http://{host}:{port}/infer"
    plan.kube.pod("kube-dns", NODES["dns"], dns.ip, 53, namespace="kube-system")
    plan.kube.deployment("kube-dns", 1, 1, namespace="kube-system",
                         labels={"k8s-app": "kube-dns"})
    dns_server.start_dnsmasq(dns, plan.names, plan.workdir, plan.logs / "dnsmasq.log")
    plan.dns_ip = dns.ip
    client.resolv_conf(dns_server.resolv_conf(dns.ip, bool(plan.options.get("use_vc"))))
    wait_listening(dns.ip, 53, 10.0, dns)
    plan.prometheus = start_prometheus(lab, plan.exporters, plan.workdir)
    for name in where:
        plan.kube.service_for(name, SERVICE_PORT)


def start_station(lab: Lab, plan: Plan, k: int, qps: float, duration_s: float,
                  body_bytes: tuple[int, int] | None = None):
    """Station ``station-<k>`` in the client namespace, calling every target in turn."""
    low, high = body_bytes or plan.body_bytes
    return lab.ns("client").popen(
        [sys.executable, "-m", "rca.lab.stations", "--station", f"station-{k}",
         "--qps", f"{qps:g}", "--duration", f"{duration_s:g}", "--body-bytes", f"{low}-{high}",
         "--log", str(plan.logs / f"client-station-{k}.jsonl"),
         *(f"--target={name}={url}" for name, url in plan.targets.items())],
        log=plan.workdir / f"station-{k}.log")


def start_stations(lab: Lab, plan: Plan, duration_s: float) -> list:
    """``plan.stations`` station processes sharing ``plan.qps``."""
    return [start_station(lab, plan, k, plan.qps / plan.stations, duration_s)
            for k in range(1, plan.stations + 1)]


def wait_listening(ip: str, port: int, within_s: float, ns: Namespace) -> None:
    """Until something accepts on ``ip:port`` (TCP), checked from the root namespace
    through the lab bridge."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise LabError(f"nothing listens on {ip}:{port} in {ns.name} after {within_s:.0f} s")
