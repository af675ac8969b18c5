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
from rca.lab.scenario import Plan

__all__ = ["NODES", "SERVICES", "inference_platform", "start_services", "start_stations",
           "wait_listening"]

SERVICES = ("interior", "feet", "top-screw")
#: lab role -> the Kubernetes node name it stands for
NODES = {"client": "station-pc", "svc": "infer-node", "dns": "dns-node"}
FIRST_PORT = 8081


def node_up(lab: Lab, plan: Plan, role: str) -> Namespace:
    """The namespace of ``role``, as a Node with a node_exporter."""
    ns = lab.ns(role)
    node = NODES.get(role, f"{role}-node")
    plan.kube.node(node, ns.ip)
    start_node_exporter(ns, plan.workdir / f"node-exporter-{role}.log",
                        **plan.exporter_options.get(role, {}))
    plan.exporters[node] = f"{ns.ip}:{NODE_EXPORTER_PORT}"
    return ns


def start_services(plan: Plan, svc: Namespace, names=SERVICES, first_port: int = FIRST_PORT,
                   extra: list[str] | None = None) -> dict[str, tuple[str, int]]:
    """One service process per name in ``svc`` (one pod each); name -> (ip, port)."""
    where = {}
    for i, name in enumerate(names):
        port = first_port + i
        pod = plan.kube.pod(name, NODES["svc"], svc.ip, port)
        pod_name = pod["metadata"]["name"]
        svc.popen([sys.executable, "-m", "rca.lab.service", "--listen", f"{svc.ip}:{port}",
                   "--name", name, "--log", str(plan.logs / f"server-{name}.jsonl"),
                   "--pod", pod_name, "--node", NODES["svc"], *(extra or [])],
                  log=plan.workdir / f"service-{name}.log")
        plan.kube.deployment(name, 1, 1)
        where[name] = (svc.ip, port)
    for ip, port in where.values():
        wait_listening(ip, port, 15.0, svc)
    return where


def inference_platform(lab: Lab, plan: Plan, front: dict[str, tuple[str, int]] | None = None,
                       services=SERVICES, also: dict[str, tuple[str, int]] | None = None) -> None:
    """DNS, services, node_exporters, Prometheus; stations' names resolve to ``front``
    (service -> (ip, port) of a proxy) when given, else to the services themselves.
    ``also``: services the scenario runs itself (name -> (ip, port)), named and called
    like the others."""
    dns, svc = node_up(lab, plan, "dns"), node_up(lab, plan, "svc")
    client = node_up(lab, plan, "client")
    where = start_services(plan, svc, services)
    for name, (ip, port) in {**(front or where), **(also or {})}.items():
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


def start_stations(lab: Lab, plan: Plan, duration_s: float) -> list:
    """``plan.stations`` station processes sharing ``plan.qps``, in the client namespace."""
    client = lab.ns("client")
    targets = [f"--target={name}={url}" for name, url in plan.targets.items()]
    low, high = plan.body_bytes
    return [client.popen([sys.executable, "-m", "rca.lab.stations",
                          "--station", f"station-{k}", "--qps", f"{plan.qps / plan.stations}",
                          "--duration", f"{duration_s}", "--body-bytes", f"{low}-{high}",
                          "--log", str(plan.logs / f"client-station-{k}.jsonl"), *targets],
                         log=plan.workdir / f"station-{k}.log")
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
