"""rca.lab.conntrack: the census and the save/restore on temp files, then a real full table
in a throw-away namespace (under the lab's machine-wide lock, refused if anything else on
the machine tracks connections)."""

import fcntl
import os
import subprocess
import sys

import pytest

from rca.lab import conntrack
from rca.lab.conntrack import ConntrackError, ConntrackLimit, recover, tracked, tracking_rules
from rca.lab.host import LOCK_PATH

STAT_HEAD = "entries  clashres found new invalid ignore delete chainlength insert " \
            "insert_failed drop early_drop\n"


def _proc(tmp_path, pid, netns_file, entries=None):
    d = tmp_path / "proc" / str(pid)
    (d / "ns").mkdir(parents=True)
    (d / "ns" / "net").symlink_to(netns_file)
    if entries is not None:
        (d / "net" / "stat").mkdir(parents=True)
        row = f"{entries:08x}  " + " ".join(["00000000"] * 11)
        (d / "net" / "stat" / "nf_conntrack").write_text(STAT_HEAD + row + "\n" + row + "\n")


def test_census_counts_each_namespace_once_and_untracked_as_zero(tmp_path):
    a, b = tmp_path / "netA", tmp_path / "netB"
    a.write_text("")
    b.write_text("")
    _proc(tmp_path, 1, a, entries=0x2a)
    _proc(tmp_path, 2, a, entries=0x2a)
    _proc(tmp_path, 3, b)  # conntrack never loaded there: no stat file
    (tmp_path / "proc" / "self").mkdir()
    census = tracked(tmp_path / "proc")
    assert census == {os.stat(a).st_ino: (42, 1), os.stat(b).st_ino: (0, 3)}


def _limit(tmp_path, value=262144):
    path = tmp_path / "nf_conntrack_max"
    path.write_text(f"{value}\n")
    return ConntrackLimit(path, tmp_path / "saved")


def test_lower_saves_first_and_restore_puts_it_back(tmp_path):
    limit = _limit(tmp_path)
    limit.lower(16, allowed={7}, census={7: (300, 1), 8: (0, 2)})
    assert limit.max_path.read_text() == "16\n"
    assert limit.saved.read_text() == "262144\n"
    limit.restore()
    assert limit.max_path.read_text() == "262144\n"
    assert not limit.saved.exists()
    limit.restore()  # idempotent
    assert limit.max_path.read_text() == "262144\n"


def test_lower_refuses_when_another_namespace_tracks(tmp_path):
    limit = _limit(tmp_path)
    with pytest.raises(ConntrackError, match="netns 8 \\(pid 2\\): 1 entries"):
        limit.lower(16, allowed={7}, census={7: (0, 1), 8: (1, 2)})
    assert limit.max_path.read_text() == "262144\n"
    with pytest.raises(ConntrackError, match="unlimited"):
        limit.lower(0, allowed=set(), census={})


def test_a_killed_runs_lowered_maximum_is_recovered(tmp_path):
    limit = _limit(tmp_path)
    limit.lower(16, allowed=set(), census={})
    # the process dies here: nothing restores; the next run recovers first
    assert recover(limit.max_path, limit.saved) == 262144
    assert limit.max_path.read_text() == "262144\n"
    assert recover(limit.max_path, limit.saved) is None
    again = ConntrackLimit(limit.max_path, limit.saved)
    again.lower(8, allowed=set(), census={})
    assert again.original == 262144  # not the 16 a killed run left


def test_tracking_rules_match_new_connections():
    rules = tracking_rules("t")
    assert rules.startswith("table inet t {") and rules.count("ct state new counter") == 2


# -- a real full table ----------------------------------------------------------------------
_HOLD = ("import socket, time\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
         "socket.SO_REUSEADDR, 1)\ns.bind(('{ip}', 5002)); s.listen(64); print('up', "
         "flush=True)\nkept = []\nwhile True: kept.append(s.accept())\n")


@pytest.fixture
def lab_lock():
    """The lab's own lock, taken as a run takes it (its pid inside, for whoever waits)."""
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _connect(ip: str, timeout: float) -> str:
    code = (f"import socket\ntry:\n    socket.create_connection(('{ip}', 5002), "
            f"timeout={timeout}); print('ok')\nexcept OSError as e: print(type(e).__name__)\n")
    return code


def test_real_full_table_drops_new_connections_and_is_restored(netns_pair, lab_lock):
    if not conntrack.MAX_PATH.exists():
        pytest.skip("nf_conntrack not loaded")
    original = conntrack.MAX_PATH.read_text()
    conntrack.add_tracking(netns_pair.a)
    server = subprocess.Popen(["ip", "netns", "exec", netns_pair.b, sys.executable, "-c",
                               _HOLD.format(ip=netns_pair.ip_b)], stdout=subprocess.PIPE,
                              text=True)
    limit = ConntrackLimit()
    clients = []
    try:
        assert server.stdout.readline().strip() == "up"
        mine = {conntrack.netns_inode(netns_pair.a)}
        try:
            limit.lower(3, allowed=mine)
        except ConntrackError as e:
            pytest.skip(f"machine not quiet: {e}")
        hold = ("import socket, sys, time\nc = [socket.create_connection(('{ip}', 5002), "
                "timeout=2) for _ in range(3)]\nprint('held', flush=True)\ntime.sleep(30)\n")
        clients.append(subprocess.Popen(["ip", "netns", "exec", netns_pair.a, sys.executable,
                                         "-c", hold.format(ip=netns_pair.ip_b)],
                                        stdout=subprocess.PIPE, text=True))
        assert clients[0].stdout.readline().strip() == "held"
        out = netns_pair.run(netns_pair.a, sys.executable, "-c",
                             _connect(netns_pair.ip_b, 1.5)).stdout.strip()
        assert out == "TimeoutError"
        stat = netns_pair.run(netns_pair.a, "cat", "/proc/net/stat/nf_conntrack").stdout
        # one row per CPU: the drop is counted on whichever CPU handled the SYN
        column = STAT_HEAD.split().index("drop")
        drop = sum(int(row.split()[column], 16) for row in stat.splitlines()[1:])
        assert drop >= 1
        assert conntrack.new_connections(netns_pair.a) >= 3
    finally:
        limit.restore()
        for c in clients:
            c.kill()
            c.wait()
        server.kill()
        server.wait()
        conntrack.remove_tracking(netns_pair.a)
    assert conntrack.MAX_PATH.read_text() == original
    assert not conntrack.SAVED.exists()
    ok = netns_pair.run(netns_pair.a, sys.executable, "-c", _connect(netns_pair.ip_b, 2))
    assert ok.stdout.strip() == "ConnectionRefusedError"  # the server is gone; no drop
