"""``rca lab … --quick`` end to end, through the real command line, as root.

Real dnsmasq, glibc's resolver, iptables, nginx, node_exporter and Prometheus in network
namespaces the lab creates. Each run must name its injected cause first (dns-drop,
body-limit), find nothing on the control and on dns-drop with the ``use-vc`` fix, and
leave nothing behind: no namespace, link or /etc/netns entry of its lab id, no process
of the PIDs it started (each run also takes and releases the machine-wide lock).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.servers import require

pytestmark = pytest.mark.integration

RCA = [sys.executable, "-m", "rca.cli"]


@pytest.fixture(scope="module", autouse=True)
def _root_and_programs():
    if os.geteuid() != 0:
        pytest.fail("the fault lab needs root (network namespaces, iptables): run "
                    "`make test` as root, as CI does")
    require("ip", "iptables", "nginx", "prometheus", "prometheus-node-exporter")
    if not Path("/usr/sbin/dnsmasq").exists():
        pytest.fail("dnsmasq not found: `make test` installs it "
                    "(scripts/install-system-deps.sh)")


def lab(*args: str) -> tuple[int, list[dict], str]:
    proc = subprocess.run([*RCA, "lab", *args, "--quick", "--json"], capture_output=True,
                          text=True, timeout=600)
    results = json.loads(proc.stdout) if proc.stdout.strip() else []
    for r in results:
        assert_nothing_left(r)
    return proc.returncode, results, proc.stderr


def assert_nothing_left(result: dict) -> None:
    lab_id = result["lab_id"]
    assert lab_id and result["pids"], result
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"rcalab-{lab_id}-" not in netns
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"rl{lab_id}" not in links
    assert not list(Path("/etc/netns").glob(f"rcalab-{lab_id}-*"))
    alive = [pid for pid in result["pids"] if Path(f"/proc/{pid}").exists()
             and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]
    assert not alive, f"processes left running: {alive}"


def test_dns_drop_ranks_resolver_timeout_first_and_use_vc_removes_the_incident():
    code, results, err = lab("dns-drop")
    by_name = {r["scenario"]: r for r in results}
    assert set(by_name) == {"dns-drop", "dns-drop+use-vc"}, err
    drop = by_name["dns-drop"]
    assert drop["error"] == "", drop["error"]
    assert drop["top"] == "dns.resolver_timeout" and drop["rank"] == 1, drop
    assert drop["incidents"] >= 1
    fixed = by_name["dns-drop+use-vc"]
    assert fixed["error"] == "" and fixed["incidents"] == 0, fixed
    assert code == 0, err


def test_body_limit_ranks_body_too_large_first():
    code, (result,), err = lab("body-limit")
    assert result["error"] == "", result["error"]
    assert result["top"] == "http.body_too_large" and result["rank"] == 1, result
    assert code == 0, err


def test_control_finds_no_incident():
    code, (result,), err = lab("control")
    assert result["error"] == "", result["error"]
    assert result["incidents"] == 0 and result["passed"], result
    assert code == 0, err
