"""The platform's nodes as a scenario asked for them: a real node_exporter in a real lab
namespace, scraped through the lab bridge (root; takes the lab's lock)."""

import os
import urllib.request

import pytest

from rca.lab.host import Lab
from rca.lab.metrics import NODE_EXPORTER_PORT
from rca.lab.platform import node_up, wait_listening
from rca.lab.scenario import Durations, Plan
from rca.lab.workload import cadvisor

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


def _scrape(ip: str) -> str:
    with urllib.request.urlopen(f"http://{ip}:{NODE_EXPORTER_PORT}/metrics", timeout=5) as r:
        return r.read().decode()


def test_a_node_serves_the_textfile_figures_a_scenario_set_up_before_it(tmp_path):
    """The cAdvisor figures and a shaped link's speed reach Prometheus only through the
    node's node_exporter: when the options a scenario sets are not passed on, cpu.throttling
    and network.saturation have nothing to judge (a merge once lost them)."""
    with Lab(tmp_path / "lab") as lab:
        plan = Plan("t", tmp_path / "run", Durations(1, 1, 1))
        cadvisor(lab, plan, "svc", speeds={"eth0": 1.0e7})
        svc = node_up(lab, plan, "svc")
        dns = node_up(lab, plan, "dns")  # asked for nothing: the defaults
        for ns in (svc, dns):
            wait_listening(ns.ip, NODE_EXPORTER_PORT, 10, ns)
        shaped, plain = _scrape(svc.ip), _scrape(dns.ip)
    speeds = [x for x in shaped.splitlines() if x.startswith("node_network_speed_bytes")]
    assert speeds == ['node_network_speed_bytes{device="eth0"} 1e+07']  # netclass off
    assert "node_textfile_scrape_error 0" in shaped
    assert "node_textfile" not in plain and "node_network_info{" in plain  # netclass on
