"""cpu.throttling — the container's CPU limit, not its work, sets its speed.

Meaning: the CFS quota of a container's limit is used up early in each 100 ms period and
its threads wait for the next one; its answers come late, its probes time out, its
DataLoader workers (more of them than the limit has cores, seed 002) starve each other.
The application looks slow, but the fix is the limit or the worker count, not the code.

What decides it (thresholds under ``thresholds.cpu_throttling``):

- on a pod the incident touches, the share of CFS periods its most throttled container
  spent throttled (``container_cpu_cfs_throttled_periods_total`` over
  ``container_cpu_cfs_periods_total``) peaks at ``ratio_min`` (25 %) or more;
- that pod's service slowed (server p95 at least ``slow_ratio_min``, 2x its baseline) or
  its containers restarted.

Score: 0.6 once a pod is throttled, +0.2 as the share grows to twice ``ratio_min``, +0.2
when the throttled pod's work visibly suffered. Throttling that was already there before
the incident is still reported (a limit set too low from the start is the seed's case),
and the evidence says whether it rose. ``app.slow_response`` defers to this cause when it
holds (see its ``explained_*`` thresholds).
When the incident's restarts are liveness kills the score is capped at ``driver_cap``
(``causes.base.capped_as_driver``).
"""

from __future__ import annotations

from rca.causes._evidence import during_evidence
from rca.causes.base import DRIVER_CAP, Cause, Threshold, capped_as_driver, signal
from rca.finding import Finding, Window
from rca.measure import scope_pods, throttled_share, work_suffered

ID = "cpu.throttling"
FIX = ("Raise or remove the container's CPU limit (keep the request), or lower its "
       "parallelism to fit it: DataLoader num_workers at most the limit's cores, worker "
       "threads (OMP_NUM_THREADS, gunicorn workers) sized to the limit.")
THRESHOLDS = {
    "ratio_min": Threshold(0.25, "a container throttled in a quarter of its periods loses "
                           "tens of milliseconds every 100 ms period, enough to push a p99 "
                           "past a timeout; a few percent is ordinary burstiness"),
    "slow_ratio_min": Threshold(2.0, "server latency doubled: the throttling reached the "
                                "callers"),
    "driver_cap": DRIVER_CAP,
}
_THROTTLED = "container_cpu_cfs_throttled_periods_per_second"
_PERIODS = "container_cpu_cfs_periods_per_second"


def judge(window: Window, th: dict) -> Finding:
    pods = set(scope_pods(window))
    shares = {p: s for p, s in throttled_share(window).items() if not pods or p in pods}
    if not shares:
        return Finding(ID, 0.0, "no CFS statistics for the incident's pods", fix=FIX,
                       evidence=[during_evidence(window, False, "no throttling series for "
                                                 f"{', '.join(sorted(pods)) or 'any pod'}",
                                                 f"signal:{_THROTTLED}")])
    worst = max(shares.values(), key=lambda p: p.during)
    ratio_min = float(th["ratio_min"])
    throttled = worst.during >= ratio_min
    base = f"{worst.before:.0%}" if worst.before == worst.before else "none"
    text = (f"{worst.entity} throttled in {worst.during:.0%} of its CFS periods "
            f"(baseline {base})")
    evidence = [during_evidence(window, throttled, text, f"signal:{_THROTTLED}/{_PERIODS}",
                                [{"time": worst.at.isoformat(), "entity": worst.entity,
                                  "throttled_share": round(worst.during, 3)}])]
    if not throttled:
        return Finding(ID, 0.0, f"CPU limits did not hold the pods back: {text}",
                       entity=worst.entity, evidence=evidence, fix=FIX)
    hurt, hurt_text = work_suffered(window, float(th["slow_ratio_min"]))
    evidence.append(during_evidence(window, hurt, hurt_text, "requests / restarts"))
    score = 0.6 + 0.2 * min(1.0, worst.during / (2 * ratio_min)) + 0.2 * hurt
    score = capped_as_driver(score, window, th)
    return Finding(ID, score, f"CPU limit throttling: {text}; {hurt_text}", entity=worst.entity,
                   evidence=evidence, fix=FIX)



CAUSE = Cause(ID, judge, FIX, needs=(signal(_THROTTLED), signal(_PERIODS)),
              thresholds=THRESHOLDS)
