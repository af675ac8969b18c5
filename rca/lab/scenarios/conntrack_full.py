"""conntrack-full — the client node's conntrack table is full: new connections and lookups
are dropped before they leave it.

The real fault: ``nf_conntrack_max`` reached (a busy node, short-lived connections each
kept 120 s in TIME_WAIT); the kernel drops the first packet of every new connection it
cannot track ("nf_conntrack: table full, dropping packet"): SYNs and DNS questions vanish,
clients wait for retransmits and the resolver's 5 s timeout, and
``node_nf_conntrack_stat_drop`` rises. Here: an nft rule makes the client namespace track
its connections (from build on), and at injection the global ``nf_conntrack_max`` is
lowered to ``FILL_SHARE`` of the entries the client namespace holds, after checking that
no other namespace on the machine tracks anything (``rca.lab.conntrack``). Lifting the
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


def build(lab, plan) -> None:
    restored = conntrack.recover()
    if restored is not None:
        plan.options["recovered_conntrack_max"] = restored
    inference_platform(lab, plan)
    client = lab.ns("client")
    conntrack.add_tracking(client.name)
    lab.on_cleanup(f"nft table {conntrack.TABLE} in {client.name}",
                   lambda: conntrack.remove_tracking(client.name))


def inject(lab, plan):
    client = lab.ns("client")
    inode = conntrack.netns_inode(client.name)
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
    describe="nf_conntrack_max lowered below the client node's tracked entries: new "
             "connections and lookups dropped",
    seed="000",
    build=build,
    inject=inject,
    quick=Durations(baseline_s=20, fault_s=35, recovery_s=5),
    tools=("dnsmasq", "nft"),
)
