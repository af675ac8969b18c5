"""dnsmasq query log (``--log-queries=extra``, or plain ``--log-queries``).

Read::

    dnsmasq[<pid>]: <serial> <client-ip>/<port> query[<type>] <name> from <client-ip>  (extra)
    dnsmasq[<pid>]: query[<type>] <name> from <client-ip>                          (plain)

Why dnsmasq: it is the DNS cache of kube-dns (the ``dnsmasq`` container), of many edge
and on-premise clusters, and of NetworkManager; a lost question shows in its log the same
way as in CoreDNS': the resolver asks the same name again from the same socket one
resolver timeout (5 s) later. Only ``extra`` logs the socket's port; plain lines carry
port 0 (as CoreDNS 0.9 does), so retries are then matched by client address alone.

Rows go to the ``dns`` table at the time the question arrived. dnsmasq logs the answer on
a separate line (``reply``/``config``/``cached``/``forwarded``): those lines are valid and
give no row, so a row's ``rcode`` is ``''`` and its latency unknown (NaN).

Time: dnsmasq logging to stderr (a container) prints none, so a line needs the runtime's
time (``kubectl logs --timestamps`` or the node's CRI log file). The syslog form
(``Dec  1 00:00:01 dnsmasq[1]: …``) has neither year nor zone and is refused with that fix.
"""

from __future__ import annotations

import re

from collectors.base import LineError, ParseContext
from collectors.logs.coredns import parse_rfc3339
from collectors.logs.wrappers import TIME_PREFIX

__all__ = ["NAME", "READS_TIME_PREFIX", "parse", "skip_reason", "sniff"]

NAME = "dnsmasq"
READS_TIME_PREFIX = True

_QUERY = re.compile(
    r"dnsmasq\[\d+\]: (?:\d+ (?P<ip>[0-9A-Fa-f.:]+)/(?P<port>\d{1,5}) )?"
    r"query\[(?P<type>[A-Za-z0-9]+)\] (?P<name>\S+) from (?P<from>[0-9A-Fa-f.:]+)\Z")
_DNSMASQ = re.compile(r"dnsmasq(?:-dhcp)?\[\d+\]: ")
_NO_TIME = ("dnsmasq prints no usable time (syslog's has no year or zone): collect with "
            "`kubectl logs --timestamps` or read the node's CRI log file")


def sniff(line: str) -> bool:
    return _DNSMASQ.match(line, _body_start(line)) is not None


def skip_reason(line: str) -> str:
    return "not a query: dnsmasq answer, cache or start-up message"


def parse(line: str, ctx: ParseContext) -> list[tuple[str, dict]]:
    prefix = TIME_PREFIX.match(line)
    start = _body_start(line)
    query = _QUERY.match(line, start)
    if query is None:
        if "query[" in line[start:]:
            raise LineError("query", "not a dnsmasq query line: expected "
                            "'dnsmasq[PID]: [SERIAL IP/PORT ]query[TYPE] NAME from IP'")
        return []
    if prefix is None:
        raise LineError("time", _NO_TIME)
    port = int(query["port"] or 0)
    if port > 65535:
        raise LineError("port", f"{port} is not a port")
    return [("dns", {
        "time": parse_rfc3339(prefix.group(1)),
        "client_ip": query["ip"] or query["from"],
        "client_port": port,
        "query_id": 0,  # dnsmasq logs its own serial, not the DNS message id
        "qtype": query["type"],
        "name": query["name"],
        "proto": "",  # not logged
        "rcode": "",
        "latency_s": float("nan"),
    })]


def _body_start(line: str) -> int:
    prefix = TIME_PREFIX.match(line)
    return prefix.end() if prefix else 0
