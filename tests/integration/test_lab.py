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


def test_dns_drop_ranks_resolver_timeout_first_and_use_vc_removes_the_incident(tmp_path):
    code, results, err = lab("dns-drop", "--keep", str(tmp_path / "kept"))
    by_name = {r["scenario"]: r for r in results}
    assert set(by_name) == {"dns-drop", "dns-drop+use-vc"}, err
    drop = by_name["dns-drop"]
    assert drop["error"] == "", drop["error"]
    assert drop["top"] == "dns.resolver_timeout" and drop["rank"] == 1, drop
    assert drop["incidents"] >= 1
    fixed = by_name["dns-drop+use-vc"]
    assert fixed["error"] == "" and fixed["incidents"] == 0, fixed
    assert code == 0, err
    assert_kept_runs_grade_with_rca_eval(tmp_path / "kept")


def assert_kept_runs_grade_with_rca_eval(kept: Path) -> None:
    """The kept raw outputs are scenario directories: ``rca eval`` (no lab, no
    Prometheus: the OpenMetrics export) finds the drop's incident with its cause first
    and nothing on the use-vc run."""
    assert sorted(p.name for p in kept.iterdir()) == ["dns-drop", "dns-drop+use-vc"]
    expected = json.loads((kept / "dns-drop" / "expected.json").read_text())
    assert [i["cause"] for i in expected["incidents"]] == ["dns.resolver_timeout"]
    assert json.loads((kept / "dns-drop+use-vc" / "expected.json").read_text())[
        "incidents"] == []
    om = (kept / "dns-drop" / "metrics" / "node-exporter.om").read_text()
    assert om.endswith("# EOF\n") and 'node="infer-node"' in om
    proc = subprocess.run([*RCA, "eval", "--config", str(kept / "dns-drop" / "rca.yaml"),
                           str(kept), "-o", "json", "--min-ac1", "1",
                           "--max-false-on-quiet", "0"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    total = json.loads(proc.stdout)["total"]
    assert total["ac1"] == 1.0 and total["recall"] == 1.0, total


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


def test_sigterm_mid_run_stops_and_removes_everything():
    """A CI runner's SIGTERM during the baseline: the cleanup stack still runs."""
    proc = subprocess.Popen([*RCA, "lab", "control", "--quick"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lab_id, seen = "", []
    try:
        for line in proc.stderr:
            seen.append(line)
            if "(lab " in line:
                lab_id = line.rsplit("(lab ", 1)[1].split(")")[0]
            if "baseline" in line:  # platform up, load running
                break
        assert lab_id, "".join(seen)
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert f"rcalab-{lab_id}-client" in netns  # it was really up
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, "".join(seen) + err
    assert "interrupted" in err
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"rcalab-{lab_id}-" not in netns and f"rl{lab_id}" not in links
    assert not list(Path("/etc/netns").glob(f"rcalab-{lab_id}-*"))
