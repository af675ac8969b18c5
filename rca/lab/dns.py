"""The platform's DNS: Debian's dnsmasq in the lab's DNS namespace, and the fault on it.

Why dnsmasq: it is a real DNS server (kube-dns ran it as its cache) that answers the lab's
names from a hosts file with ``--no-resolv --no-hosts --local=/<domain>/``, so nothing is
ever forwarded off the machine and AAAA questions get a clean NODATA. It logs every query
with the asking socket (``--log-queries=extra``: ``<serial> <ip>/<port> query[A] name``),
which is what tells a resolver's re-sent question from a new one.

Its log goes to stderr (``--log-facility=-``) and the lab stamps each line with the time
it arrived, as the container runtime does (``<RFC3339Nano> stderr F <line>``, the CRI
log-file form), so the lines carry times in an explicit zone (UTC).

The fault (``drop``): ``iptables -m statistic --mode random --probability P -j DROP`` on
UDP port 53 in the DNS namespace: a lost question, as the conntrack race of seed 000 loses
one. TCP (``options use-vc``) is untouched, which is why that option is a fix.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from rca.lab.host import Namespace

__all__ = ["DOMAIN", "cri_line", "dnsmasq_command", "drop_udp", "hosts_file", "resolv_conf",
           "start_dnsmasq"]

DOMAIN = "infer.lab"


def hosts_file(names: dict[str, str]) -> str:
    """``/etc/hosts`` lines for the platform's names (name -> IPv4)."""
    return "".join(f"{ip} {name}\n" for name, ip in sorted(names.items()))


def resolv_conf(server: str, use_vc: bool = False) -> str:
    """The clients' resolver: glibc defaults (timeout 5 s, 2 attempts, A and AAAA in
    parallel over one UDP socket) unless ``use_vc`` (lookups over TCP)."""
    return f"nameserver {server}\n" + ("options use-vc\n" if use_vc else "")


def dnsmasq_command(listen: str, hosts: Path) -> list[str]:
    return ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            f"--addn-hosts={hosts}", f"--local=/{DOMAIN.split('.')[-1]}/",
            f"--listen-address={listen}", "--bind-interfaces", "--log-queries=extra",
            "--log-facility=-", "--pid-file=", "--user=root", "--cache-size=0"]


def cri_line(line: str, when: datetime | None = None, stream: str = "stderr") -> str:
    """``line`` as the CRI runtime writes it to the node's log file."""
    when = when or datetime.now(UTC)
    return f"{when.strftime('%Y-%m-%dT%H:%M:%S.%f')}000Z {stream} F {line.rstrip()}\n"


def start_dnsmasq(ns: Namespace, names: dict[str, str], workdir: Path, log: Path):
    """dnsmasq answering ``names`` on ``ns.ip``:53, its log lines stamped into ``log``."""
    hosts = workdir / "dns-hosts"
    hosts.write_text(hosts_file(names), encoding="utf-8")
    proc = ns.popen(dnsmasq_command(ns.ip, hosts), pipe=True)
    stamp_pipe(proc.stdout, log)
    return proc


def stamp_pipe(pipe, log: Path) -> threading.Thread:
    """Copy each line of ``pipe`` to ``log`` with its arrival time (a daemon thread)."""
    def copy():
        with open(log, "a", encoding="utf-8", buffering=1) as out:
            for raw in iter(pipe.readline, b""):
                out.write(cri_line(raw.decode("utf-8", "replace")))
    thread = threading.Thread(target=copy, daemon=True, name=f"stamp-{log.name}")
    thread.start()
    return thread


def _drop_rule(probability: float) -> list[str]:
    return ["INPUT", "-p", "udp", "--dport", "53", "-m", "statistic", "--mode", "random",
            "--probability", f"{probability:.3f}", "-j", "DROP"]


def drop_udp(ns: Namespace, probability: float) -> None:
    """Lose ``probability`` of the DNS questions arriving over UDP (the rule goes with
    the namespace at cleanup; ``undrop_udp`` lifts it for a recovery period)."""
    ns.exec(["iptables", "-A", *_drop_rule(probability)])
    ns.lab.on_cleanup(f"iptables drop in {ns.name}", lambda: undrop_udp(ns, probability))


def undrop_udp(ns: Namespace, probability: float) -> None:
    ns.exec(["iptables", "-D", *_drop_rule(probability)], check=False)
