"""dead-backend — half of a balancer's pool never started; the rest cannot carry a batch (seed 004).

The real fault: ten new model servers had a broken image and never received traffic while
the shared balancer answered through the old ones; a batch job then sent its load and the
online APIs timed out. Here the ``feet`` model service has four replicas behind Debian's
nginx, two of which never start (their image cannot be pulled: ``ImagePullBackOff``, not
ready in the Endpoints, but still in nginx's static ``upstream`` pool, so nginx tries
them, is refused at once, and fails over). Each live replica processes one request at a
time (one GPU). The baseline load fits the two live ones; at injection a batch station
adds more than they can carry (but less than the four would), and callers time out.
"""

from __future__ import annotations

from rca.lab.host import stop
from rca.lab.platform import inference_platform, start_station
from rca.lab.scenario import Scenario

REPLICAS, DEAD = 4, 2
#: baseline 3 req/s on two one-at-a-time replicas of 0.2-0.6 s: 60 % busy
BASELINE_QPS = 3.0
#: the batch job's rate: 3 + 6 = 9 req/s needs 3.6 replicas, the pool has 2 alive of 4
BATCH_QPS = 6.0


def build(lab, plan) -> None:
    plan.qps = BASELINE_QPS
    inference_platform(lab, plan, proxy=True, services=("feet",), replicas=REPLICAS,
                       dead=DEAD, extra=["--concurrency", "1"])


def inject(lab, plan):
    batch = start_station(lab, plan, plan.stations + 1, BATCH_QPS, plan.durations.fault_s)
    return lambda: stop(batch)


SCENARIO = Scenario(
    name="dead-backend",
    cause="lb.dead_backend",
    describe=f"{DEAD} of {REPLICAS} nginx upstream backends never started; a batch job "
             f"adds {BATCH_QPS:g} req/s",
    seed="004",
    build=build,
    inject=inject,
    tools=("dnsmasq", "nginx"),
)
