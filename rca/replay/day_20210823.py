"""The 2021-08-23 day of MISSION 000, as a ScenarioSpec.

Facts kept from the post-mortem: one 48-core inference node, 5 stations, 6 inference
services, ~361 requests/hour (at most 6/s), 3-10 MB images, a 5 s client timeout, server
processing 0.2-0.6 s, timed-out requests logged at 11-33 s, node load 25-50 %, HTTP 400s,
one CoreDNS replica, and five bursts at 11:03, 13:29:54 (interior only), 14:35:04 (all
six), 15:54:43 (feet) and 16:03:46 (top screw and feet), local time UTC+8.

Filled in where the document is silent (and said so here, so nobody mistakes it for
evidence): the seconds of the 11:03 burst and which services it hit, the sixth service
(``waiguan``, exterior), station names and IPs, which station calls which service, each
burst's size within the stated 5-20 and its length within 1-5 minutes, and a reboot of
the training node at 03:40 as unrelated noise. Service names are the pinyin the
document's screenshots use.
"""

from __future__ import annotations

from rca.replay.spec import Burst, Node, Noise, ScenarioSpec, Service, Station

__all__ = ["NAME", "spec"]

NAME = "2021-08-23"

SERVICES = (
    Service("neishi", "10.244.1.17"),  # interior
    Service("dijiao", "10.244.1.18"),  # feet
    Service("dingbu-luosi", "10.244.1.19"),  # top screw
    Service("datiao-pingjiao", "10.244.1.20"),  # big-bar flat foot
    Service("uxingke", "10.244.1.21"),  # U-clamp
    Service("waiguan", "10.244.1.22"),  # exterior
)

STATIONS = (
    Station("gw01", "10.20.1.31", ("neishi", "waiguan")),
    Station("gw02", "10.20.1.32", ("dijiao", "dingbu-luosi")),
    Station("gw03", "10.20.1.33", ("datiao-pingjiao", "uxingke")),
    Station("gw04", "10.20.1.34", ("neishi", "dijiao", "uxingke")),
    Station("gw05", "10.20.1.35", ("dingbu-luosi", "datiao-pingjiao", "waiguan")),
)

NODES = (
    Node("k8s-master1", "10.20.0.10", 16, "master", 64),
    Node("infer-node1", "10.20.0.21", 48, "inference", 256),
    Node("train-node1", "10.20.0.22", 64, "worker", 512),
)

BURSTS = (
    Burst("2021-08-23T11:03:21", ("neishi", "datiao-pingjiao", "uxingke"), 12, 200.0),
    Burst("2021-08-23T13:29:54", ("neishi",), 7, 100.0),
    Burst("2021-08-23T14:35:04", tuple(s.name for s in SERVICES), 19, 290.0),
    Burst("2021-08-23T15:54:43", ("dijiao",), 6, 75.0),
    Burst("2021-08-23T16:03:46", ("dingbu-luosi", "dijiao"), 12, 150.0),
)


def spec(seed: int = 20210823) -> ScenarioSpec:
    return ScenarioSpec(
        name=NAME,
        seed=seed,
        zone="Asia/Shanghai",
        since="2021-08-23T00:00:00",
        until="2021-08-24T00:00:00",
        stations=STATIONS,
        services=SERVICES,
        nodes=NODES,
        bursts=BURSTS,
        noise=Noise(reboot_node="train-node1", reboot_at="2021-08-23T03:40:12"),
    )
