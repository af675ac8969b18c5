"""probe-saturation — seed 001's RGW: a 10 MB/s link filled by artifact downloads makes the
1 s liveness probe time out, and the kubelet kills a storage server that was working.

The real fault: Argo workflows downloaded large artifacts from Ceph RGW over a 10 MB/s
LAN; the link saturated, RGW's answers (its probe replies too) queued behind the transfer,
the ``http-get :80/ timeout=1s period=10s #failure=3`` probe failed three times in a row
and kubelet restarted RGW 65 times, breaking every transfer mid-object. Here the svc
node's link is a tbf token bucket at ``RATE_BYTES`` with ``QUEUE_MS`` of buffer (a deep
switch buffer: a reply waits about that long behind the transfer, twice per probe — the
SYN-ACK and the answer); ``rgw`` is a storage-like service (``--storage``) under the lab's
kubelet with kubelet's default probe; at injection ``PARALLEL`` downloads of
``OBJECT_BYTES`` run back to back from the client node. The svc node's exporter reports the
link's emulated speed (a veth claims 10 Gbit/s; see ``rca.lab.cadvisor``). Lifting the
fault stops the downloads.
"""

from __future__ import annotations

import sys

from rca.lab.host import stop
from rca.lab.platform import inference_platform
from rca.lab.prober import HttpGetProbe
from rca.lab.scenario import Durations, Scenario
from rca.lab.shaping import Shaper
from rca.lab.workload import MANAGED_PORT, cadvisor, managed_service, probe

#: Seed 001's LAN.
RATE_BYTES = 10_000_000
#: tbf's queue in time: above half the probe timeout, so a probe's two queued packets
#: (SYN-ACK, answer) take longer than the 1 s timeoutSeconds.
QUEUE_MS = 800
#: Artifact size and downloads at once: each object takes seconds on the shaped link.
OBJECT_BYTES = 40_000_000
PARALLEL = 2
APP = "rgw"
DEVICE = "eth0"  # the svc namespace's end of its veth (rca.lab.host)


def build(lab, plan) -> None:
    exporter = cadvisor(lab, plan, speeds={DEVICE: RATE_BYTES})
    svc = lab.ns("svc")
    inference_platform(lab, plan)
    liveness = HttpGetProbe(svc.ip, MANAGED_PORT)
    container, _ = managed_service(lab, plan, svc, APP, exporter, ["--storage"],
                                   liveness=liveness.spec())
    shaper = Shaper(DEVICE, svc.name, RATE_BYTES, QUEUE_MS)
    shaper.apply()
    lab.on_cleanup(f"tbf on {svc.name}/{DEVICE}", shaper.remove)
    probe(container, svc.ip, MANAGED_PORT, liveness)
    plan.options["rgw"] = f"http://{svc.ip}:{MANAGED_PORT}/storage/{OBJECT_BYTES}"


def inject(lab, plan):
    downloads = lab.ns("client").popen(
        [sys.executable, "-m", "rca.lab.bulk", "--url", plan.options["rgw"], "--service", APP,
         "--workflow", "argo-wf", "--duration", f"{plan.durations.fault_s + 30:g}",
         "--parallel", str(PARALLEL), "--log", str(plan.logs / "client-argo-wf.jsonl")],
        log=plan.workdir / "bulk.log")
    return lambda: stop(downloads)


SCENARIO = Scenario(
    name="probe-saturation",
    cause="probe.timeout_too_tight",
    describe=f"{PARALLEL} artifact downloads fill the svc node's {RATE_BYTES // 10**6} MB/s "
             f"link; {APP}'s 1 s liveness probe times out and the kubelet kills it",
    seed="001",
    build=build,
    inject=inject,
    also=("network.saturation",),
    quick=Durations(baseline_s=25, fault_s=75, recovery_s=5),
    full=Durations(baseline_s=90, fault_s=180, recovery_s=30),
    tools=("dnsmasq", "tc"),
)
