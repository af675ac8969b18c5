"""rca.lab.shaping: tbf parameters, then a real token bucket on a throw-away veth."""

import subprocess
import sys
import time

import pytest

from rca.lab.shaping import Shaper, ShapingError, tbf_args

_SINK = ("import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
         "socket.SO_REUSEADDR, 1)\ns.bind(('{ip}', 5001)); s.listen(1); print('up', flush=True)\n"
         "c, _ = s.accept()\nwhile c.recv(65536): pass\n")
_SEND = ("import socket, time\nc = socket.create_connection(('{ip}', 5001))\n"
         "t = time.monotonic(); c.sendall(b'x' * {n}); c.shutdown(socket.SHUT_WR)\n"
         "c.recv(1); print(time.monotonic() - t)\n")


def test_tbf_args_give_bits_a_burst_of_at_least_one_tick_and_the_latency():
    args = tbf_args(10_000_000, 400)
    assert args[:3] == ["tbf", "rate", "80000000bit"]
    assert int(args[args.index("burst") + 1]) >= 10_000_000 // 250
    assert args[-2:] == ["latency", "400ms"]
    assert int(tbf_args(100_000, 50)[4]) >= 4 * 1514  # a slow link still bursts a few MTUs


def _transfer_seconds(pair, n: int) -> float:
    sink = subprocess.Popen(["ip", "netns", "exec", pair.b, sys.executable, "-c",
                             _SINK.format(ip=pair.ip_b)], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout.readline().strip() == "up"
        out = pair.run(pair.a, sys.executable, "-c", _SEND.format(ip=pair.ip_b, n=n))
        return float(out.stdout)
    finally:
        sink.kill()
        sink.wait()


def test_real_tbf_caps_the_link_and_removal_restores_it(netns_pair):
    shaper = Shaper(netns_pair.dev_a, netns_pair.a, rate_bytes=1_000_000, latency_ms=200)
    n = 1_500_000
    shaper.apply()
    start = time.monotonic()
    shaped = _transfer_seconds(netns_pair, n)
    assert "tbf" in shaper.stats()
    assert shaped >= 1.2, f"1.5 MB at 1 MB/s took {shaped:.2f} s"
    shaper.remove()
    shown = netns_pair.run(netns_pair.a, "tc", "qdisc", "show", "dev", netns_pair.dev_a).stdout
    assert "tbf" not in shown
    free = _transfer_seconds(netns_pair, n)
    assert free < shaped / 3, (free, shaped, time.monotonic() - start)
    shaper.remove()  # idempotent


def test_tc_errors_name_the_device(netns_pair):
    with pytest.raises(ShapingError, match="nosuchdev"):
        Shaper("nosuchdev", netns_pair.a).apply()
