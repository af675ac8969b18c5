"""dns-drop — lost DNS questions make glibc wait its 5 s timeout (seed 000, 2021-08-23).

The real fault: glibc sends A and AAAA in parallel from one UDP socket; a conntrack race
on the DNAT to the cluster DNS drops one, and the resolver waits ``timeout:5`` before it
asks again. Here the loss is made directly: ``iptables -m statistic --mode random
--probability P -j DROP`` on UDP port 53 in the DNS namespace. Every service called by
name stalls at once while the services' own processing stays 0.2–0.6 s.

Variant ``+use-vc``: the same loss with ``options use-vc`` in the clients' resolv.conf
(lookups over TCP, which the rule does not touch): the fix the seed names, and the lab
checks that no incident is found.
"""

from __future__ import annotations

from rca.lab import dns
from rca.lab.platform import inference_platform
from rca.lab.scenario import Scenario, Variant

#: Share of UDP DNS questions lost. With two questions per lookup about one lookup in five
#: stalls: at 6 requests/s a burst of timeouts within seconds, as on 2021-08-23.
DROP_PROBABILITY = 0.1


def build(lab, plan) -> None:
    inference_platform(lab, plan)


def inject(lab, plan):
    ns = lab.ns("dns")
    dns.drop_udp(ns, DROP_PROBABILITY)
    return lambda: dns.undrop_udp(ns, DROP_PROBABILITY)


SCENARIO = Scenario(
    name="dns-drop",
    cause="dns.resolver_timeout",
    describe=f"iptables drops {DROP_PROBABILITY:.0%} of UDP DNS questions; glibc waits 5 s",
    seed="000",
    build=build,
    inject=inject,
    tools=("dnsmasq",),
    variants=(Variant("+use-vc", {"use_vc": True}, expect_incident=False,
                      describe="same loss, resolv.conf `options use-vc`: lookups over TCP"),),
)
