"""rca.lab.cgroups: layout detection and file writes in a temp tree, then real cgroups.

The real tests need root and a writable memory + cpu controller (v1 or v2); they create a
cgroup under the test process's own cgroup and check it is gone afterwards.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rca.lab.cgroups import Cgroup, CgroupError, Layout, detect

V1_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
V1_SELF = "4:memory:/process_api/abc\n1:cpu:/\n0::/\n"
V2_MOUNTS = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"


def _files(tmp_path, mounts, own):
    (tmp_path / "mounts").write_text(mounts)
    (tmp_path / "cgroup").write_text(own)
    return tmp_path / "mounts", tmp_path / "cgroup"


def test_detect_v1_hybrid_uses_the_v1_controllers_under_the_own_cgroup(tmp_path):
    mounts, own = _files(tmp_path, V1_MOUNTS, V1_SELF)
    layout = detect(Path("/sys/fs/cgroup"), mounts, own)
    assert layout.version == 1
    assert layout.parent("memory") == Path("/sys/fs/cgroup/memory/process_api/abc")
    assert layout.parent("cpu") == Path("/sys/fs/cgroup/cpu")


def test_detect_combined_v1_controllers(tmp_path):
    mounts, own = _files(tmp_path, "cgroup /c/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n"
                         "cgroup /c/memory cgroup rw,memory 0 0\n",
                         "3:cpu,cpuacct:/lab\n2:memory:/lab\n")
    layout = detect(Path("/c"), mounts, own)
    assert layout.parent("cpu") == Path("/c/cpu,cpuacct/lab")


def test_detect_v2(tmp_path):
    mounts, own = _files(tmp_path, V2_MOUNTS, "0::/user.slice/session-1.scope\n")
    layout = detect(Path("/sys/fs/cgroup"), mounts, own)
    assert layout.version == 2
    assert layout.parent("memory") == Path("/sys/fs/cgroup/user.slice/session-1.scope")


def test_detect_without_controllers_names_what_is_missing(tmp_path):
    mounts, own = _files(tmp_path, "cgroup /c/cpu cgroup rw,cpu 0 0\n", "1:cpu:/\n")
    with pytest.raises(CgroupError, match="'memory'"):
        detect(Path("/c"), mounts, own)


def _fake_v1(tmp_path) -> Layout:
    parents = {}
    for c in ("memory", "cpu"):
        parents[c] = tmp_path / c
        parents[c].mkdir()
    return Layout(1, parents)


def test_v1_limits_are_written_where_a_runtime_writes_them(tmp_path):
    group = Cgroup.create("svc", _fake_v1(tmp_path))
    mem, cpu = group.dir("memory"), group.dir("cpu")
    group.set_memory_limit(64 << 20)
    group.set_cpu_limit(0.2)
    assert (mem / "memory.limit_in_bytes").read_text() == str(64 << 20)
    assert (cpu / "cpu.cfs_quota_us").read_text() == "20000"
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000"


def test_v1_stats_read_as_cadvisor_does(tmp_path):
    group = Cgroup.create("svc", _fake_v1(tmp_path))
    mem, cpu = group.dir("memory"), group.dir("cpu")
    (mem / "memory.usage_in_bytes").write_text("1000000\n")
    (mem / "memory.stat").write_text("cache 5\ntotal_inactive_file 250000\n")
    (mem / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (mem / "memory.failcnt").write_text("7\n")
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (cpu / "cpu.stat").write_text("nr_periods 40\nnr_throttled 30\nthrottled_time 2500000000\n")
    s = group.stats()
    assert s.memory_working_set_bytes == 750000
    assert s.memory_limit_bytes == 0  # unlimited, as cAdvisor reports it
    assert (s.memory_failcnt, s.oom_kills) == (7, 2)
    assert (s.cpu_periods, s.cpu_throttled_periods, s.cpu_throttled_seconds) == (40, 30, 2.5)


def test_v2_limits_and_stats(tmp_path):
    group = Cgroup("svc", Layout(2, {"": tmp_path}))
    d = group.dir("memory")
    d.mkdir()
    group.set_memory_limit(1 << 20)
    group.set_cpu_limit(0.5)
    assert (d / "memory.max").read_text() == str(1 << 20)
    assert (d / "cpu.max").read_text() == "50000 100000"
    (d / "memory.current").write_text("300\n")
    (d / "memory.stat").write_text("anon 200\ninactive_file 100\n")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    (d / "cpu.stat").write_text("usage_usec 2000000\nnr_periods 10\nnr_throttled 9\n"
                                "throttled_usec 500000\n")
    s = group.stats()
    assert (s.memory_working_set_bytes, s.memory_limit_bytes) == (200, 1 << 20)
    assert (s.memory_failcnt, s.oom_kills, s.cpu_throttled_periods) == (4, 1, 9)
    assert s.cpu_throttled_seconds == 0.5 and s.cpu_usage_seconds == 2.0


def test_bad_names_are_refused(tmp_path):
    layout = _fake_v1(tmp_path)
    for name in ("", "a/b", ".."):
        with pytest.raises(CgroupError):
            Cgroup(name, layout)


# -- real cgroups -------------------------------------------------------------------------
def _real_layout() -> Layout:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    try:
        layout = detect()
    except CgroupError as e:
        pytest.skip(str(e))
    if not all(os.access(p, os.W_OK) for p in layout.parents.values()):
        pytest.skip("cgroup controllers are not writable")
    return layout


@pytest.fixture
def real_group():
    layout = _real_layout()
    group = Cgroup.create(f"rca-test-{os.getpid()}", layout)
    try:
        yield group
    finally:
        group.remove()
        assert not any(d.exists() for d in group.dirs.values())


def _spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)


def test_real_memory_limit_ends_in_an_oom_kill(real_group):
    real_group.set_memory_limit(48 << 20)
    proc = _spawn("import sys; sys.stdin.read(1); b = []\n"
                  "while True: b.append(bytearray(4 << 20))")
    real_group.attach(proc.pid)
    assert proc.pid in real_group.pids()
    proc.stdin.write(b"g")
    proc.stdin.flush()
    assert proc.wait(timeout=20) == -signal.SIGKILL
    s = real_group.stats()
    assert s.oom_kills >= 1  # failcnt is not kept by every kernel's v1 memcg: not asserted
    assert s.memory_limit_bytes == 48 << 20


def test_real_cpu_quota_throttles_a_busy_loop_and_not_an_idle_one(real_group):
    real_group.set_cpu_limit(0.05)
    idle = subprocess.Popen([sys.executable, "-c", "import sys; print('up', flush=True); "
                             "sys.stdin.read()"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    real_group.attach(idle.pid)
    assert idle.stdout.readline().strip() == "up"  # the interpreter's start-up is over
    time.sleep(0.3)  # and the few instructions after the print, throttled or not
    before = real_group.stats().cpu_throttled_periods
    time.sleep(0.6)  # blocked on stdin: no CPU wanted, none throttled
    assert real_group.stats().cpu_throttled_periods == before
    idle.stdin.close()
    idle.wait(timeout=10)
    before = real_group.stats().cpu_throttled_periods
    busy = _spawn("import time\nend = time.time() + 0.6\nwhile time.time() < end: pass")
    real_group.attach(busy.pid)
    busy.wait(timeout=20)
    s = real_group.stats()
    assert s.cpu_throttled_periods >= before + 3
    assert s.cpu_throttled_periods <= s.cpu_periods


def test_real_remove_moves_a_leftover_process_out(real_group):
    proc = _spawn("import time; time.sleep(30)")
    try:
        real_group.attach(proc.pid)
        real_group.remove()
        assert not real_group.dir("memory").exists()
        assert proc.poll() is None  # still running, in the parent
    finally:
        proc.kill()
        proc.wait()
