"""config.wrong_target — a client's traffic lands on an endpoint it should not.

Meaning: a program started with the wrong configuration (seed 004: the ``dev`` config)
sends its batch load to a non-production server; that server, sized for testing,
saturates and the online API it also serves times out, while the production server the
load was meant for idles.

What decides it (``thresholds.config_wrong_target``), on the services that fail:

- one client (``station``: caller identity or address) that sent little or nothing
  before carries at least ``min_share`` of the service's requests during the incident,
  at least ``new_client_ratio`` times its own baseline rate;
- the service is a non-production one: a name part of the service (or its upstream)
  is one of ``nonprod_markers``;
- its production sibling (the same name without the marker) idles: its rate during the
  incident below ``idle_ratio`` of its baseline.

Score: 0.3 for the newcomer alone (a new job is not wrong by itself), 0.4 more when the
target is non-production, 0.2 more when the production sibling idles.
"""

from __future__ import annotations

import re

import pandas as pd

from rca.causes._evidence import during_evidence, rows_of
from rca.causes.base import Cause, Threshold, table
from rca.finding import Finding, Window
from rca.kubefacts import window_pods
from rca.record import DNS_SERVICE

ID = "config.wrong_target"
FIX = ("Point the client at the production endpoint (its config or environment), "
       "validate the target once at start-up (refuse a dev endpoint for a batch job), and "
       "give batch jobs their own balancer so they cannot starve online APIs.")
THRESHOLDS = {
    "min_share": Threshold(0.5, "the newcomer must carry most of the service's load to "
                           "explain its saturation"),
    "new_client_ratio": Threshold(5.0, "ordinary clients vary their rate by tens of "
                                  "percent; a job that was not there multiplies it"),
    "nonprod_markers": Threshold(["dev", "test", "staging", "stage", "qa", "sandbox"],
                                 "the words teams put in names of non-production "
                                 "services and namespaces"),
    "idle_ratio": Threshold(0.5, "the production sibling lost at least half its usual "
                            "traffic: the load that should be there is elsewhere"),
}
_PARTS = re.compile(r"[-_.:/]")


def judge(window: Window, th: dict) -> Finding:
    before, during = (_app(window.before("requests")), _app(window.during("requests")))
    services = [s for s in window.scope.get("services") or [] if s in set(during["service"])]
    candidates = [_newcomer(s, before, during, window, th) for s in services]
    candidates = [c for c in candidates if c is not None]
    if not candidates:
        return Finding(ID, 0.0, "no new client dominates the failing services", fix=FIX,
                       evidence=[during_evidence(window, False, "every heavy client of the "
                                                 "failing services was there before",
                                                 "requests")])
    service, client, share, rows = max(candidates, key=lambda c: c[2])
    markers = [m.lower() for m in th["nonprod_markers"]]
    nonprod = _marker(service, rows, markers)
    evidence = [during_evidence(window, True, f"{client} sent {share:.0%} of {service}'s "
                                "requests during the incident and little or none before",
                                "requests", rows_of(rows, ["station", "service", "upstream",
                                                           "status", "latency_s"]))]
    score = 0.3
    if nonprod:
        score += 0.4
        evidence.append(during_evidence(window, True, f"{service} is a non-production "
                                        f"service ('{nonprod}' in its name)", "requests"))
        sibling = _sibling(service, nonprod, before, during, window, float(th["idle_ratio"]))
        if sibling:
            score += 0.2
            evidence.append(during_evidence(window, True, sibling, "requests"))
    else:
        evidence.append(during_evidence(window, False, f"{service} has no non-production "
                                        "marker in its name: a new job, maybe not a wrong "
                                        "target", "requests"))
    summary = (f"{client} sends its load to {service}"
               + (" (a non-production service)" if nonprod else "") + f": {share:.0%} of "
               "its requests")
    return Finding(ID, score, summary, entity=_entity(client, service, window),
                   evidence=evidence, fix=FIX)


def _app(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["service"] != DNS_SERVICE) & (df["station"] != "")]


def _newcomer(service: str, before: pd.DataFrame, during: pd.DataFrame, window: Window,
              th: dict):
    """The client that took over ``service``: (service, client, share, its rows)."""
    now = during[during["service"] == service]
    side = "server" if (now["side"] == "server").any() else "client"
    now = now[now["side"] == side]
    then = before[(before["service"] == service) & (before["side"] == side)]
    if now.empty:
        return None
    counts = now["station"].value_counts()
    client, n = str(counts.index[0]), int(counts.iloc[0])
    share = n / len(now)
    span_now = max((window.end - window.start).total_seconds(), 1.0)
    span_then = window.baseline_seconds("requests")
    rate_now = n / span_now
    rate_then = max(int((then["station"] == client).sum()), 1) / span_then
    if share < float(th["min_share"]) or rate_now < float(th["new_client_ratio"]) * rate_then:
        return None
    return service, client, share, now[now["station"] == client]


def _marker(service: str, rows: pd.DataFrame, markers: list[str]) -> str:
    parts = set(_PARTS.split(service.lower()))
    for upstream in rows["upstream"].unique()[:20]:
        parts |= set(_PARTS.split(str(upstream).lower()))
    return next((m for m in markers if m in parts), "")


def _sibling(service: str, marker: str, before: pd.DataFrame, during: pd.DataFrame,
             window: Window, idle_ratio: float) -> str:
    base = "-".join(p for p in _PARTS.split(service.lower()) if p != marker)
    names = {s for s in set(before["service"]) | set(during["service"])
             if s != service and s.lower() == base}
    for name in sorted(names):
        then = (before["service"] == name).sum() / window.baseline_seconds("requests")
        now = (during["service"] == name).sum() / max(
            (window.end - window.start).total_seconds(), 1.0)
        if then > 0 and now < idle_ratio * then:
            return (f"the production sibling {name} idled: {now * 60:.1f}/min vs "
                    f"{then * 60:.1f}/min before")
    return ""


def _entity(client: str, service: str, window: Window) -> str:
    """The client's pod when its address or name is a collected pod's, else the service."""
    pods = window_pods(window)
    match = pods[(pods["ip"] == client) | pods["object"].str.endswith("/" + client)]
    return str(match["object"].iloc[0]) if not match.empty else f"service/{service}"


CAUSE = Cause(ID, judge, FIX, needs=(table("requests"),), thresholds=THRESHOLDS)
