"""A full conntrack table, made on purpose and undone for sure (the conntrack-full scenario).

Why it is delicate: ``net.netfilter.nf_conntrack_max`` is one global sysctl, while the
kernel compares it with each network namespace's own entry count. Lowering it starves
*every* namespace that tracks connections, so the lab

- checks first that no other namespace on the machine tracks anything (:func:`tracked`
  reads the ``entries`` column of ``/proc/<pid>/net/stat/nf_conntrack`` once per distinct
  network namespace, so namespaces without a name are seen too) and refuses otherwise;
- writes the original value to ``SAVED`` before lowering it, so a run killed with SIGKILL
  is repaired by the next one (:func:`recover`), and restores it from the lab's cleanup
  stack on every exit (normal, exception, Ctrl-C, SIGTERM);
- turns tracking on only in the client namespace: conntrack runs in a namespace only once
  a rule there needs it, and :func:`tracking_rules` is one nft table whose ``ct state``
  match does that (it also counts new connections, for the run log).

When the table is full the kernel first evicts entries that never saw a reply both ways
(``early_drop``); once every entry is an established or TIME_WAIT connection (kept 120 s),
a new connection's first packet is dropped and ``drop`` in ``/proc/net/stat/nf_conntrack``
rises: node_exporter's ``node_nf_conntrack_stat_drop``. Callers see SYN retransmits (1 s,
3 s, …) and, for lookups, the resolver's 5 s timeout.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MAX_PATH", "SAVED", "ConntrackError", "ConntrackLimit", "recover", "tracked",
           "tracking_rules"]

MAX_PATH = Path("/proc/sys/net/netfilter/nf_conntrack_max")
#: The original ``nf_conntrack_max`` while the lab has it lowered (see module doc).
SAVED = Path("/run/rca-lab-conntrack-max.saved")
TABLE = "rcalab_conntrack"


class ConntrackError(RuntimeError):
    """The table cannot be lowered safely, or a write failed; the message says which."""


def tracked(proc: Path = Path("/proc")) -> dict[int, tuple[int, int]]:
    """Conntrack entries per network namespace: ``{netns inode: (entries, a pid in it)}``.

    Read through ``/proc/<pid>/net``, which shows the namespace of that process, so every
    namespace with a process in it is seen, named or not. A namespace where conntrack was
    never loaded has no stat file and counts 0."""
    out: dict[int, tuple[int, int]] = {}
    for entry in sorted((e for e in proc.iterdir() if e.name.isdigit()),
                        key=lambda e: int(e.name)):
        try:
            inode = os.stat(entry / "ns" / "net").st_ino
            if inode in out:
                continue
            out[inode] = (_entries(entry / "net" / "stat" / "nf_conntrack"), int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return out


def _entries(stat: Path) -> int:
    """The ``entries`` column (hex, the namespace's count, the same on every CPU row)."""
    try:
        lines = stat.read_text().splitlines()
    except FileNotFoundError:
        return 0
    return int(lines[1].split()[0], 16) if len(lines) > 1 else 0


def netns_inode(netns: str) -> int:
    """The inode of a named namespace (``ip netns`` bind-mounts it in /run/netns)."""
    return os.stat(Path("/run/netns") / netns).st_ino


def tracking_rules(table: str = TABLE) -> str:
    """An nft script that makes the namespace track its connections and counts new ones."""
    return (f"table inet {table} {{\n"
            "  chain output {\n"
            "    type filter hook output priority 0; policy accept;\n"
            "    ct state new counter\n"
            "  }\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            "    ct state new counter\n"
            "  }\n"
            "}\n")


def _nft(netns: str, *args: str, script: str | None = None) -> subprocess.CompletedProcess:
    cmd = ["ip", "netns", "exec", netns, "nft", *args]
    return subprocess.run(cmd, input=script, capture_output=True, text=True, timeout=10)


def add_tracking(netns: str) -> None:
    done = _nft(netns, "-f", "-", script=tracking_rules())
    if done.returncode != 0:
        raise ConntrackError(f"nft in {netns}: {done.stderr.strip()}")


def remove_tracking(netns: str) -> None:
    """Delete the table (nothing to do when the namespace or table is already gone)."""
    _nft(netns, "delete", "table", "inet", TABLE)


def new_connections(netns: str) -> int:
    """Packets counted by the output chain's ``ct state new`` rule (for the run log)."""
    out = _nft(netns, "list", "chain", "inet", TABLE, "output").stdout
    for line in out.splitlines():
        words = line.split()
        if "packets" in words:
            return int(words[words.index("packets") + 1])
    return 0


def recover(max_path: Path = MAX_PATH, saved: Path = SAVED) -> int | None:
    """Restore a maximum a killed run left lowered; returns the value restored, if any."""
    if not saved.exists():
        return None
    value = int(saved.read_text().strip())
    max_path.write_text(f"{value}\n")
    saved.unlink()
    return value


@dataclass
class ConntrackLimit:
    """``nf_conntrack_max`` lowered for the lab and put back (idempotent both ways)."""

    max_path: Path = MAX_PATH
    saved: Path = SAVED
    original: int | None = None
    lowered_to: int | None = field(default=None)

    def lower(self, to: int, allowed: set[int], census: dict | None = None) -> None:
        """Set the maximum to ``to`` after checking that only the namespaces in
        ``allowed`` (inodes) track anything; ``census`` defaults to :func:`tracked`."""
        if to < 1:
            raise ConntrackError("nf_conntrack_max must stay ≥ 1 (0 means unlimited)")
        others = {ino: v for ino, v in (census if census is not None else tracked()).items()
                  if v[0] > 0 and ino not in allowed}
        if others:
            where = ", ".join(f"netns {ino} (pid {pid}): {n} entries"
                              for ino, (n, pid) in sorted(others.items()))
            raise ConntrackError("refusing to lower nf_conntrack_max: other network "
                                 f"namespaces track connections ({where})")
        recover(self.max_path, self.saved)
        self.original = int(self.max_path.read_text().strip())
        tmp = self.saved.with_suffix(".tmp")
        tmp.write_text(f"{self.original}\n")
        tmp.replace(self.saved)
        self.max_path.write_text(f"{to}\n")
        self.lowered_to = to

    def restore(self) -> None:
        if self.original is None:
            return
        self.max_path.write_text(f"{self.original}\n")
        self.saved.unlink(missing_ok=True)
        self.original = self.lowered_to = None
