"""conntrack-full — the service node's conntrack table is full: new connections to its
pods are dropped as they arrive.

The real fault: ``nf_conntrack_max`` reached (a busy node, short-lived connections each
kept 120 s in TIME_WAIT); the kernel drops the first packet of every new connection it
cannot track ("nf_conntrack: table full, dropping packet"): SYNs and DNS questions vanish,
clients wait for retransmits and the resolver's 5 s timeout, and
``node_nf_conntrack_stat_drop`` rises. Here: an nft rule makes the svc namespace (the
node the services' pods run on) track its connections (from build on), and at injection
the global ``nf_conntrack_max`` is lowered to ``FILL_SHARE`` of the entries it holds,
after checking that no other namespace on the machine tracks anything
(``rca.lab.conntrack``). Why the service node and not the stations': a packet the table
cannot take is dropped silently when it arrives from elsewhere (a pod's traffic crossing
its node, a caller's SYN), but a locally generated one fails its ``connect``/``sendto``
at once with EPERM — the first lab run tracked in the client namespace and the stations
logged instant errors, not the stalls a node's full table causes. Lifting the
fault restores the maximum (also on Ctrl-C or failure, from the cleanup stack; a killed
run's maximum is restored by the next run from the saved copy).

Where rca files it: ``dns.resolver_timeout`` — the catalogue's cause for requests that
stall on the path before the app while the apps stay fast, whose conntrack evidence now
counts table-full drops (``conntrack_drop_per_second``) as well as insert races
(docs/lab.md says why not ``network.saturation``: no link is anywhere near capacity).
"""

from __future__ import annotations

from rca.lab import conntrack
from rca.lab.host import LabError
from rca.lab.platform import inference_platform
from rca.lab.scenario import Durations, Scenario

#: The maximum as a share of the client namespace's entries at injection: the table is
#: over-full at once and stays full while TIME_WAIT entries (120 s) age out.
FILL_SHARE = 0.5
MIN_MAX = 16
#: The lab node whose table fills: the services' (see the module docstring).
ROLE = "svc"


def build(lab, plan) -> None:
    restored = conntrack.recover()
    if restored is not None:
        plan.options["recovered_conntrack_max"] = restored
    inference_platform(lab, plan)
    node = lab.ns(ROLE)
    conntrack.add_tracking(node.name)
    lab.on_cleanup(f"nft table {conntrack.TABLE} in {node.name}",
                   lambda: conntrack.remove_tracking(node.name))


def inject(lab, plan):
    inode = conntrack.netns_inode(lab.ns(ROLE).name)
    census = conntrack.tracked()
    held = census.get(inode, (0, 0))[0]
    limit = conntrack.ConntrackLimit()
    lab.on_cleanup("nf_conntrack_max", limit.restore)
    try:
        limit.lower(max(MIN_MAX, int(held * FILL_SHARE)), allowed={inode}, census=census)
    except conntrack.ConntrackError as exc:
        raise LabError(str(exc)) from exc
    plan.options["conntrack"] = {"entries": held, "max": limit.lowered_to,
                                 "original": limit.original}
    return limit.restore


SCENARIO = Scenario(
    name="conntrack-full",
    cause="dns.resolver_timeout",
    describe="nf_conntrack_max lowered below the service node's tracked entries: new "
             "connections to its pods dropped",
    seed="000",
    build=build,
    inject=inject,
    quick=Durations(baseline_s=20, fault_s=35, recovery_s=5),
    tools=("dnsmasq", "nft"),
)
