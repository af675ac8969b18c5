"""rca.lab.kubelet: restarts and the records a kubelet writes, with real processes (and a
real cgroup OOM kill when root)."""

import os
import subprocess
import sys
import time

import pytest

from rca.lab import kubelet
from rca.lab.cgroups import Cgroup, CgroupError, detect
from rca.lab.kube import Kube
from rca.lab.kubelet import Container, termination


@pytest.mark.parametrize("returncode,oom,expected", [
    (-9, True, ("OOMKilled", 137)),
    (-9, False, ("Error", 137)),
    (-15, False, ("Error", 143)),
    (0, False, ("Completed", 0)),
    (1, False, ("Error", 1)),
])
def test_termination_reads_as_the_runtime_reports_it(returncode, oom, expected):
    assert termination(returncode, oom) == expected


def _kube():
    kube = Kube()
    kube.node("n1", "10.0.0.2")
    name = kube.pod("svc", "n1", "10.0.0.3", 8080)["metadata"]["name"]
    return kube, name


def _container(kube, name, code, spawned, cgroup=None):
    def spawn():
        proc = subprocess.Popen([sys.executable, "-c", code])
        spawned.append(proc)
        return proc
    return Container(kube, name, "svc", "n1", spawn, cgroup, grace_s=2.0)


def _wait(cond, within=10.0):
    deadline = time.monotonic() + within
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)
    return cond()


def _status(kube, name):
    return kube.pods[name]["status"]["containerStatuses"][0]


def test_a_crashing_container_is_restarted_with_back_off(monkeypatch):
    monkeypatch.setattr(kubelet, "BACKOFF_S", (0.3, 0.6))
    kube, name = _kube()
    spawned = []
    c = _container(kube, name, "import sys; sys.exit(3)", spawned).start()
    try:
        assert _wait(lambda: c.restarts >= 3)
    finally:
        c.stop()
        for p in spawned:
            p.kill()
            p.wait()
    status = _status(kube, name)
    assert status["restartCount"] >= 3
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert status["lastState"]["terminated"]["exitCode"] == 3
    backoff = [e for e in kube.events if e["reason"] == "BackOff"]
    assert len(backoff) == 1 and backoff[0]["count"] >= 2  # one event, repeated
    assert backoff[0]["message"].startswith("Back-off restarting failed container svc in pod ")


def test_kill_is_term_then_a_recorded_restart_and_no_double_count():
    kube, name = _kube()
    spawned = []
    c = _container(kube, name, "import time; time.sleep(60)", spawned).start()
    try:
        c.kill()
        assert _wait(lambda: len(spawned) == 2)
        time.sleep(0.5)  # the watcher must not count the killed process again
        assert c.restarts == 1
        assert spawned[0].returncode == -15 and spawned[1].poll() is None
    finally:
        c.stop()
        for p in spawned:
            p.kill()
            p.wait()
    last = _status(kube, name)["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("Error", 143)


def test_a_stopped_kubelet_restarts_nothing():
    kube, name = _kube()
    spawned = []
    c = _container(kube, name, "import time; time.sleep(60)", spawned).start()
    c.stop()
    spawned[0].kill()
    spawned[0].wait()
    time.sleep(0.4)
    assert len(spawned) == 1 and c.restarts == 0


def test_real_oom_kill_is_recorded_as_oomkilled_with_the_kernels_line():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    try:
        group = Cgroup.create(f"rca-test-kubelet-{os.getpid()}", detect())
    except CgroupError as e:
        pytest.skip(str(e))
    kube, name = _kube()
    spawned = []
    try:
        group.set_memory_limit(40 << 20)
        hog = "import time; b = []\nwhile True: b.append(bytearray(4 << 20)); time.sleep(0.01)"
        c = _container(kube, name, hog, spawned, group).start()
        try:
            assert _wait(lambda: c.restarts >= 1, 20)
        finally:
            c.stop()
            for p in spawned:
                p.kill()
                p.wait()
    finally:
        group.remove()
    last = _status(kube, name)["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)
    npd = [e for e in kube.events if e["reason"] == "OOMKilling"]
    assert npd and npd[0]["involvedObject"]["kind"] == "Node"
    assert npd[0]["source"] == {"component": "kernel-monitor", "host": "n1"}
    assert npd[0]["message"].startswith("Memory cgroup out of memory: Killed process "
                                        f"{spawned[0].pid} ")
