"""Days that look like 2021-08-23 but must get a different answer.

Why: a DNS rule that fires on every multi-request timeout burst would be right on the
replay and wrong in production. ``decoy-app-slow`` has client timeouts as loud as the
replay's, but the one service is slow itself (ingress ``request_time`` 6-15 s) while DNS
and conntrack are quiet and CoreDNS has two replicas: the answer is the app. ``quiet``
is an ordinary day (400s, a reboot, a crash-looping cronjob) with nothing to find.
"""

from __future__ import annotations

from dataclasses import replace

from rca.replay import day_20210823
from rca.replay.spec import Burst, ScenarioSpec

__all__ = ["decoy_app_slow", "quiet"]


def decoy_app_slow(seed: int = 20210823) -> ScenarioSpec:
    base = day_20210823.spec(seed)
    slow = Burst("2021-08-23T10:17:38", ("dingbu-luosi",), 11, 240.0,
                 mechanism="slow_app", label="app.slow_response")
    return replace(base, name="decoy-app-slow", bursts=(slow,),
                   dns=replace(base.dns, coredns_replicas=2))


def quiet(seed: int = 20210823) -> ScenarioSpec:
    base = day_20210823.spec(seed)
    return replace(base, name="quiet", bursts=(),
                   noise=replace(base.noise, isolated_timeouts=0))
