"""A throw-away pair of network namespaces joined by a veth, for the lab2 module tests.

Two namespaces (``rcat<pid>a``/``b``) with ``10.213.<n>.1`` and ``.2`` on a /30 that no
host route overlaps; removed (with the veth) by the fixture whatever the test did.
"""

import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    dev_a: str
    dev_b: str
    ip_a: str
    ip_b: str

    def run(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                              text=True, check=check, timeout=30)


def _free_subnet() -> ipaddress.IPv4Network:
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                            text=True, check=True).stdout
    used = []
    for line in routes.splitlines():
        word = line.split()[0] if line.split() else ""
        if word in ("local", "broadcast"):
            word = line.split()[1]
        try:
            used.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue
    for n in range(200, 250):
        net = ipaddress.ip_network(f"10.213.{n}.0/30")
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("no free 10.213.x.0/30 subnet")


@pytest.fixture
def netns_pair():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2")
    tag = f"rcat{os.getpid() % 100000}"
    a, b = f"{tag}a", f"{tag}b"
    net = _free_subnet()
    ip_a, ip_b = (str(h) for h in net.hosts())
    made = []
    try:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            made.append(ns)
        subprocess.run(["ip", "link", "add", f"{tag}x", "netns", a, "type", "veth", "peer",
                        "name", f"{tag}y", "netns", b], check=True)
        pair = Pair(a, b, f"{tag}x", f"{tag}y", ip_a, ip_b)
        for ns, dev, ip in ((a, pair.dev_a, ip_a), (b, pair.dev_b, ip_b)):
            pair.run(ns, "ip", "addr", "add", f"{ip}/30", "dev", dev)
            pair.run(ns, "ip", "link", "set", dev, "up")
            pair.run(ns, "ip", "link", "set", "lo", "up")
        yield pair
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert not any(ns in listed for ns in (a, b))
