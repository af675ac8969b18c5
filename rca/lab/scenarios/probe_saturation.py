"""probe-saturation — seed 001's RGW: a 10 MB/s link filled by artifact transfers makes the
1 s liveness probe time out, and the kubelet kills a storage server that was working.

The real fault: Argo workflows moved large artifacts to and from Ceph RGW over a 10 MB/s
LAN; the link saturated, everything to and from RGW (its probes too) queued behind the
transfers, the ``http-get :80/ timeout=1s period=10s #failure=3`` probe failed three
times in a row and kubelet restarted RGW 65 times, breaking every transfer mid-object
(uploads: ``failed to save outputs: timed out waiting for the condition``).

Here the svc node's link is a tbf token bucket at ``RATE_BYTES`` with ``QUEUE_MS`` of
buffer on the bridge side of its veth — the switch port towards the node, where the
probe's SYN and GET queue. Linux' TCP small queues hold each local flow to a few queued
packets (even across veths), so it takes many flows to fill that queue as senders on
other hosts would. At injection ``PARALLEL`` uploads of ``OBJECT_BYTES`` run back to
back from the client node into ``rgw``, a storage-like service (``--storage``) under
the lab's kubelet with kubelet's default liveness probe; each probe's SYN and GET wait
behind them. The svc node's exporter reports the link's emulated speed (a veth claims 10 Gbit/s; see
``rca.lab.cadvisor``). Lifting the fault stops the transfers.
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
#: (SYN, GET) take longer than the 1 s timeoutSeconds.
QUEUE_MS = 1000
#: The storage server's default TCP receive buffer (``net.ipv4.tcp_rmem`` in its
#: namespace): a window big enough that a few uploads fill the switch queue.
RCVBUF = 4 << 20
#: Artifact size and transfers at once (a fan-out of workflow steps): TCP small queues let
#: each local flow keep only a few packets queued, so it takes a few hundred flows to fill
#: the switch queue the way senders on other hosts would.
OBJECT_BYTES = 4_000_000
PARALLEL = 256
APP = "rgw"
DEVICE = "eth0"  # the svc namespace's end of its veth (rca.lab.host): its speed


def build(lab, plan) -> None:
    exporter = cadvisor(lab, plan, speeds={DEVICE: RATE_BYTES})
    svc = lab.ns("svc")
    inference_platform(lab, plan)
    liveness = HttpGetProbe(svc.ip, MANAGED_PORT)
    container, _ = managed_service(lab, plan, svc, APP, exporter, ["--storage"],
                                   liveness=liveness.spec())
    # a storage server's receive buffers (RGW's, tuned for big objects): without them the
    # kernel's autotuned window, not the link, would cap each upload (namespace-local)
    svc.exec(["sysctl", "-q", "-w", f"net.ipv4.tcp_rmem=4096 {RCVBUF} {4 * RCVBUF}"])
    shaper = Shaper(svc.host_if, None, RATE_BYTES, QUEUE_MS)
    shaper.apply()
    lab.on_cleanup(f"tbf on {svc.host_if}", shaper.remove)
    probe(container, svc.ip, MANAGED_PORT, liveness)
    plan.options["rgw"] = f"http://{svc.ip}:{MANAGED_PORT}/storage/artifacts.tgz"


def inject(lab, plan):
    downloads = lab.ns("client").popen(
        [sys.executable, "-m", "rca.lab.bulk", "--url", plan.options["rgw"], "--service", APP,
         "--workflow", "argo-wf", "--duration", f"{plan.durations.fault_s + 30:g}",
         "--parallel", str(PARALLEL), "--method", "PUT", "--bytes", str(OBJECT_BYTES),
         "--log", str(plan.logs / "client-argo-wf.jsonl")],
        log=plan.workdir / "bulk.log")
    return lambda: stop(downloads)


SCENARIO = Scenario(
    name="probe-saturation",
    cause="probe.timeout_too_tight",
    describe=f"{PARALLEL} artifact uploads fill the svc node's {RATE_BYTES // 10**6} MB/s "
             f"link; {APP}'s 1 s liveness probe times out and the kubelet kills it",
    seed="001",
    build=build,
    inject=inject,
    also=("network.saturation",),
    quick=Durations(baseline_s=25, fault_s=75, recovery_s=5),
    full=Durations(baseline_s=90, fault_s=180, recovery_s=30),
    tools=("dnsmasq", "tc"),
)
