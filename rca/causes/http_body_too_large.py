"""http.body_too_large — a proxy answers 413 because the request body exceeds its limit.

Meaning: nginx refuses a body larger than ``client_max_body_size`` (1 MB by default)
with ``413 Request Entity Too Large`` before the application sees it. Seed 002: uploads
went to the front-end port, whose nginx kept the default limit, instead of the back end.

What decides it (``thresholds.http_body_too_large``):

- 413 answers in the window, at least ``min_count`` and at least ``min_share`` of the
  window's failed answers (4xx, 5xx, timeouts) on the incident's services;
- the size of the rejected requests where a client log records it (``bytes`` of client
  rows answered 413) against ``body_limit_bytes``: above it supports, below it says the
  limit was set lower than the default (still this cause, weaker);
- a proxy answered itself: server-side 413 rows with no upstream address, in a log that
  records upstreams for its other requests (plain ``combined`` records none, and then
  this says nothing).

Score: 0.6 once the 413s dominate, 0.2 for request sizes above the limit, 0.2 for the
proxy answering without an upstream.
"""

from __future__ import annotations

import pandas as pd

from rca.causes._evidence import during_evidence, per_minute, rows_of
from rca.causes.base import Cause, Threshold, table
from rca.finding import Chart, Finding, Window
from rca.record import DNS_SERVICE

ID = "http.body_too_large"
FIX = ("Send the uploads to the service that accepts them (check the client's URL and "
       "port: a front-end server is not the upload API), or raise `client_max_body_size` "
       "on that proxy (ingress-nginx: annotation `nginx.ingress.kubernetes.io/"
       "proxy-body-size`) to the largest body the API must take.")
THRESHOLDS = {
    "body_limit_bytes": Threshold(1048576, "nginx's default client_max_body_size is 1m"),
    "min_count": Threshold(5, "one or two 413s are a user pasting a huge file; five is a "
                           "client whose every upload fails"),
    "min_share": Threshold(0.5, "the 413s must be most of what failed, or they are a side "
                           "show of another fault"),
}


def judge(window: Window, th: dict) -> Finding:
    during = window.during("requests")
    during = during[during["service"] != DNS_SERVICE]
    services = window.scope.get("services") or []
    if services:
        during = during[during["service"].isin(services)] if during["service"].isin(
            services).any() else during
    failed = during[during["status"].str.fullmatch(r"[45]\d\d|timeout|error")
                    & (during["status"] != "499")]
    rejected = failed[failed["status"] == "413"]
    # a client log and the proxy's log see the same requests: count the side that saw most
    side = rejected["side"].value_counts().idxmax() if not rejected.empty else "server"
    seen = failed[failed["side"] == side]
    n = int((seen["status"] == "413").sum())
    share = n / max(len(seen), 1)
    dominant = n >= int(th["min_count"]) and share >= float(th["min_share"])
    clients = rejected.loc[rejected["side"] == side, "station"].value_counts().head(3)
    who = ", ".join(f"{c} ({k})" for c, k in clients.items())
    where = ", ".join(sorted({s for s in rejected["service"] if s})) or "?"
    evidence = [during_evidence(window, dominant, f"{n} answers were 413 ({share:.0%} of "
                                f"{len(seen)} failed) from {who or 'no client'} on {where}",
                                "requests[status=413]",
                                rows_of(rejected, ["side", "station", "service", "upstream",
                                                   "bytes"]))]
    if not dominant:
        return Finding(ID, 0.0, f"413s do not dominate the failures ({n}, {share:.0%})",
                       evidence=evidence, fix=FIX)
    score = 0.6
    sizes = rejected.loc[rejected["side"] == "client", "bytes"].dropna()
    limit = float(th["body_limit_bytes"])
    if not sizes.empty:
        over = float(sizes.median()) > limit
        evidence.append(during_evidence(window, over, f"rejected request bodies: median "
                                        f"{sizes.median() / 1e6:.1f} MB vs a limit of "
                                        f"{limit / 1048576:g} MiB", "requests[side=client]"))
        score += 0.2 if over else 0.0
    server = rejected[rejected["side"] == "server"]
    logs_upstreams = (during.loc[during["side"] == "server", "upstream"] != "").any()
    if logs_upstreams and not server.empty and (server["upstream"] == "").all():
        evidence.append(during_evidence(window, True, "the proxy answered every 413 itself: "
                                        "no upstream was contacted", "requests[side=server]"))
        score += 0.2
    summary = f"{n} uploads rejected with 413 on {where} from {who}"
    return Finding(ID, score, summary, entity=f"service/{where.split(', ')[0]}",
                   evidence=evidence, fix=FIX, chart=_chart(window, rejected, limit))


def _chart(window: Window, rejected: pd.DataFrame, limit: float) -> Chart:
    """Body sizes the clients sent, rejected and accepted, against the proxy's limit; the
    413s per minute when no client logged its sizes (a proxy-only day)."""
    services = set(rejected["service"])
    calls = window.tables["requests"]
    calls = calls[(calls["side"] == "client") & calls["service"].isin(services)
                  & calls["bytes"].notna()]
    if calls.empty:
        return Chart("413 answers per minute (no client logged its body sizes)", "413s",
                     series={"413": per_minute(pd.Series(1.0, index=rejected.index), "sum")})
    mib = calls["bytes"] / 1048576
    is_413 = (calls["status"] == "413").to_numpy()
    return Chart("request body sizes vs the proxy's body limit", "MiB",
                 line=limit / 1048576, line_label=f"body limit {limit / 1048576:g} MiB",
                 series={"rejected 413 (largest per minute)": per_minute(mib[is_413]),
                         "accepted (largest per minute)": per_minute(mib[~is_413])})


CAUSE = Cause(ID, judge, FIX, needs=(table("requests"),), thresholds=THRESHOLDS)
