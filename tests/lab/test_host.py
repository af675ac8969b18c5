"""The lab's hold on the machine: subnet choice, preflight, the LIFO cleanup stack, stop."""

import os
import subprocess
import sys

import pytest

from rca.lab import host
from rca.lab.host import Lab, LabError, missing_tools, pick_subnet, stop

ROUTES = """default via 192.0.2.1 dev eth0
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
10.213.1.0/24 dev rl1234br proto kernel scope link src 10.213.1.1
10.213.0.0/23 dev other scope link
"""


def test_pick_subnet_skips_routed_and_overlapping_subnets_but_not_default():
    # 10.213.1.0/24 is routed; 10.213.0.0/23 overlaps 10.213.1.x too; default overlaps all
    # but says nothing about a private /24 being in use
    assert str(pick_subnet(ROUTES)) == "10.213.2.0/24"


def test_pick_subnet_with_nothing_routed_takes_the_first():
    assert str(pick_subnet("")) == "10.213.1.0/24"


def test_pick_subnet_fails_when_everything_is_taken():
    with pytest.raises(LabError, match="no free"):
        pick_subnet("10.213.0.0/16 dev x scope link\n")


def test_missing_tools_names_only_the_missing_ones():
    assert missing_tools(["sh", "no-such-program-rca-lab"]) == ["no-such-program-rca-lab"]


def test_preflight_names_a_missing_program(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(LabError, match="missing: no-such-program-rca-lab"):
        host.preflight(("sh", "no-such-program-rca-lab"))


def test_preflight_refuses_without_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        host.preflight(("sh",))


def test_cleanup_runs_newest_first_and_survives_a_failing_undo(tmp_path):
    lab = Lab(tmp_path)
    done = []
    lab.on_cleanup("first", lambda: done.append("first"))

    def broken():
        raise RuntimeError("veth already gone")
    lab.on_cleanup("broken", broken)
    lab.on_cleanup("last", lambda: done.append("last"))
    errors = lab.close()
    assert done == ["last", "first"]
    assert errors == ["broken: veth already gone"] == lab.cleanup_errors
    assert lab.close() == []  # nothing left to undo


def test_stop_terminates_by_pid_and_kills_what_ignores_term():
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, "
         "signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, start_new_session=True)
    assert stubborn.stdout.readline() == b"ready\n"
    stop(stubborn, wait_s=0.5)
    assert stubborn.poll() == -9  # TERM ignored, then KILL


def test_program_names_the_command_inside_ip_netns_exec():
    assert host._program(["ip", "netns", "exec", "rcalab-ab12-dns", "/usr/sbin/dnsmasq"]) \
        == "dnsmasq"
    assert host._program(["prometheus", "--config.file=x"]) == "prometheus"
