"""Issue 7, items 1-12: what real clusters print, each on a real-shaped line.

Where a line was pasted in a public bug report, the comment names it; such lines are
kept as pasted (addresses included: they are the public report's own).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import ParseContext
from collectors.kube import KubeBatch, read_kube, shape_items
from collectors.logs import coredns, detect, nginx_combined, read_log, rgw
from collectors.metrics_file import read_metrics_file
from rca import record
from rca.timeutil import get_zone

DATA = Path(__file__).resolve().parents[1] / "data"
SHANGHAI = get_zone("Asia/Shanghai")
INGRESS = (DATA / "logs" / "ingress-nginx.log").read_text().splitlines()[0]
NOW = pd.Timestamp("2021-08-23T04:00:00Z")


def ctx(path: Path | str = "x.log", **settings) -> ParseContext:
    return ParseContext(str(path), SHANGHAI, {"collected_at": NOW, **settings})


def read(tmp_path, lines: list[str], fmt: str = "auto", name: str = "x.log", **settings):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return read_log(path, fmt, ctx(path, **settings))


# -- 1. CoreDNS 1.2-1.8.0 print their own time: kubectl --timestamps gives two ------------------
# kubernetes/kubernetes#80243 (CoreDNS 1.5), with kubectl's time put in front as issue 7 gives it
TWO_TIMES = (
    '2019-07-19T08:24:57.5651234Z 2019-07-19T08:24:57.565Z [INFO] 10.244.1.3:33509 - 51831 "A IN '
    'kubernetes.default.svc.cluster.local.default.svc.cluster.local. udp 80 false 512" NXDOMAIN '
    "qr,aa,rd 173 0.0002208s"
)
# kubernetes/kubernetes#72826 (CoreDNS 1.2: the time in brackets, no [INFO])
CLF_1_2 = (
    '192.168.2.14:33615 - [11/Jan/2019:19:59:01 +0000] 14 "A IN kubernetes.default. udp 36 '
    'false 512" NXDOMAIN qr,rd,ra 112 0.001532826s'
)
# CoreDNS 0.9's default: "{remote} - [{when}] ..." (plugin/log README of that release)
CLF_0_9 = (
    '10.1.2.3 - [20/Jul/2017:12:36:01 +0000] "A IN example.org. udp 29 false 512" NOERROR '
    "qr,rd,ra 68 0.039153s"
)


def test_coredns_line_with_two_times_is_detected_and_read(tmp_path):
    batch = read(tmp_path, [TWO_TIMES] * 3)
    assert (batch.kept, batch.malformed) == (3, 0)
    row = batch.frames["dns"].iloc[0]
    assert batch.frames["dns"].index[0] == pd.Timestamp("2019-07-19T08:24:57.565123Z")
    assert (row["rcode"], row["client_port"], row["query_id"], row["latency_s"]) == (
        "NXDOMAIN", 33509, 51831, 0.0002208)


@pytest.mark.parametrize("line, when, socket, rcode", [
    (CLF_1_2, datetime(2019, 1, 11, 19, 59, 1, tzinfo=UTC), ("192.168.2.14", 33615, 14),
     "NXDOMAIN"),
    (CLF_0_9, datetime(2017, 7, 20, 12, 36, 1, tzinfo=UTC), ("10.1.2.3", 0, 0), "NOERROR"),
])
def test_older_coredns_formats_are_read_with_their_own_time(line, when, socket, rcode):
    assert coredns.sniff(line)
    ((table, row),) = coredns.parse(line, ctx())
    assert (table, row["time"], row["rcode"], row["qtype"]) == ("dns", when, rcode, "A")
    assert (row["client_ip"], row["client_port"], row["query_id"]) == socket


# -- 2. zone-less container logs are UTC unless the source says otherwise ---------------------
NAUTILUS = ("debug 2019-10-25 02:35:14.549 7f4880b98700  1 ====== req done req=0x55aa678c48e0 "
            "op status=0 http_status=200 latency=1.076s ======")


def test_zoneless_rgw_is_utc_by_default_and_per_source_on_request(tmp_path):
    ((_, row),) = rgw.parse(NAUTILUS, ctx())  # --tz is Asia/Shanghai: not used
    assert row["time"] == datetime(2019, 10, 25, 2, 35, 14, 549000, tzinfo=UTC)
    batch = read(tmp_path, [NAUTILUS], "rgw", name="rgw-a.log",
                 log_zones={"*/rgw-a.log": "Asia/Shanghai"})
    assert batch.frames["requests"].index[0] == pd.Timestamp("2019-10-24T18:35:14.549Z")


# -- 3. detection past a long controller preamble; klog and banners are "not requests" --------
# the banner as pasted in kubernetes/ingress-nginx#9656; klog lines as the controller prints
BANNER = [
    "-------------------------------------------------------------------------------",
    "NGINX Ingress controller",
    "  Release:       v1.6.4",
    "  Build:         69e8833858fb6bda12a44990f1d5eaa7b13f4b75",
    "  Repository:    https://github.com/kubernetes/ingress-nginx",
    "  nginx version: nginx/1.21.6",
    "-------------------------------------------------------------------------------",
]
KLOG = ('I0823 03:02:57.123456       7 main.go:104] "SSL fake certificate created" '
        'file="/etc/ingress-controller/ssl/default-fake-certificate.pem"')
ERROR_LOG = ("2021/08/23 03:03:05 [error] 31#31: *1127 upstream timed out (110: Operation timed "
             "out) while reading response header from upstream, client: 10.20.1.31")


def test_controller_log_with_56_preamble_lines_yields_its_access_lines(tmp_path):
    lines = BANNER + [KLOG] * 49 + [INGRESS, ERROR_LOG, KLOG, INGRESS]
    assert len(BANNER + [KLOG] * 49) == 56
    path = tmp_path / "controller.log"
    path.write_text("\n".join(lines) + "\n")
    assert detect(path) == "ingress-nginx"
    batch = read_log(path, "auto", ctx(path))
    assert (batch.kept, batch.malformed) == (2, 0)
    assert batch.skipped == {"not a request: startup banner": 7, "not a request: klog line": 50,
                             "not a request: nginx error log": 1}
    assert batch.unaccounted() == 0


# -- 4. nginx's stock `main` format, $request_time and $upstream_response_time endings --------
COMBINED = ('10.20.1.32 - - [23/Aug/2021:11:02:58 +0800] "GET /neishi/v1 HTTP/1.1" 504 167 "-" '
            '"python-requests/2.25.1"')


@pytest.mark.parametrize("ending, latency", [
    (' "10.0.0.7"', math.nan),  # main
    (' "-" 15.004', 15.004),  # main + $request_time
    (" 15.004 15.001", 15.004),  # $request_time $upstream_response_time
    (' "10.0.0.7, 10.0.0.8" 15.004 10.001, 5.003', 15.004),  # retried upstream
    (" 15.004 -", 15.004),  # no upstream answered
])
def test_nginx_main_and_timed_endings_are_read(ending, latency):
    line = COMBINED + ending
    assert nginx_combined.sniff(line)
    ((_, row),) = nginx_combined.parse(line, ctx())
    assert row["status"] == "504"
    assert row["latency_s"] == latency or (math.isnan(latency) and math.isnan(row["latency_s"]))


def test_no_wrong_hint_for_main_format(tmp_path):
    batch = read(tmp_path, [COMBINED + ' "-" 0.2'] * 2 + [COMBINED + ' "-" 0.2 junk junk'])
    assert (batch.kept, batch.malformed) == (2, 1)
    assert "$request_time" not in batch.samples[0].message


# -- 5. requests are logged at their end: the start is derivable ------------------------------
def test_request_start_is_time_minus_latency(tmp_path):
    lines = [COMBINED.replace("11:02:58", "11:01:00") + " 15", COMBINED.replace("11:02:58",
             "11:01:00").replace(" 504 ", " 413 ")]
    df = read(tmp_path, lines, "nginx-combined").frames["requests"]
    assert list(df.index) == [pd.Timestamp("2021-08-23T03:01:00Z")] * 2  # as logged
    start = record.request_start(df)
    assert list(start) == [pd.Timestamp("2021-08-23T03:00:45Z"),  # 15 s earlier
                           pd.Timestamp("2021-08-23T03:01:00Z")]  # plain combined: unknown
    assert df["status"].tolist() == ["504", "413"]  # the 413 is still evidence


# -- 6. RGW op status: a client abort behind 206 is a failure; RESTFUL_IO errors are events ----
ABORT = ("2021-08-23T03:03:15.512+0000 7f4882b9c700  1 ====== req done req=0x55aa67b01320 op "
         "status=-104 http_status=206 latency=10.012s ======")
# the message of src/rgw/rgw_rest.cc end_header(), level 0, with e.what()
RESTFUL = ("2021-08-23T03:03:15.511+0000 7f4882b9c700  0 ERROR: RESTFUL_IO(s)->complete_header() "
           "returned err=Connection reset by peer")


def test_rgw_client_abort_is_a_failure_and_keeps_its_op_status():
    ((_, row),) = rgw.parse(ABORT, ctx())
    assert row["status"] == "499"
    assert row["upstream"] == "op status=-104 http_status=206"
    ((_, ok),) = rgw.parse(ABORT.replace("-104", "0"), ctx())
    assert ok["status"] == "206"  # the same line with a good op status stays a success
    ((_, event),) = rgw.parse(RESTFUL, ctx())
    assert (event["reason"], event["type"]) == ("CompleteHeaderFailed", "Warning")


# -- 7. metrics without timestamps are refused, never placed at the window's end --------------
def test_untimestamped_metrics_are_refused_with_the_fix(tmp_path):
    path = tmp_path / "scrape.prom"
    path.write_text('node_load1{instance="10.0.0.13:9100"} 0.75\n')
    batch = read_metrics_file(path, ctx(path))  # collected_at is set: it is not used
    assert (batch.kept, batch.malformed) == (0, 1)
    assert "metrics.time" in batch.samples[0].message
    given = read_metrics_file(path, ctx(path, metrics_time="2021-08-23T03:00:00Z"))
    assert given.frames["metrics"].index[0] == pd.Timestamp("2021-08-23T03:00:00Z")


# -- 8. node_exporter's NUMA `node` label is not a Kubernetes node ----------------------------
def test_numa_node_label_does_not_place_the_sample(tmp_path):
    path = tmp_path / "numa.om"
    path.write_text(
        'node_memory_numa_Active{instance="10.0.0.12:9100",node="1"} 1.5e9 1629676800\n'
        'kube_pod_info{node="worknode2",pod="a",namespace="b"} 1 1629676800\n# EOF\n')
    df = read_metrics_file(path, ctx(path)).frames["metrics"]
    assert df["entity"].tolist() == ["node/10.0.0.12", "node/worknode2"]
    assert json.loads(df["labels"].iloc[0])["node"] == "1"  # the label itself is kept


# -- 9. a Pending pod's PodScheduled=False condition is kept ----------------------------------
def _pending_pod():
    pod = json.loads((DATA / "kube" / "pods.json").read_text())["items"][0]
    pod["status"] = {
        "phase": "Pending",
        "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "lastTransitionTime": "2021-08-23T02:51:00Z",
            "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
        }],
    }
    return pod


def test_unschedulable_pending_pod_gives_an_event_row_and_a_detail():
    batch = KubeBatch(source="test")
    shape_items([_pending_pod()], ctx("pods.json"), batch, default_kind="Pod")
    (event,) = batch.frames["events"].itertuples()
    assert (event.reason, event.kind, event.source) == ("Unschedulable", "Pod", "kube")
    assert event.message == "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    assert event.first_seen == pd.Timestamp("2021-08-23T02:51:00Z")
    assert event.Index == event.last_seen == NOW
    detail = json.loads(batch.frames["objects"]["detail"].iloc[0])
    assert detail["unschedulable"]["message"].startswith("0/2 nodes are available")
    scheduled = _pending_pod()
    scheduled["status"]["conditions"][0]["status"] = "True"
    batch = KubeBatch(source="test")
    shape_items([scheduled], ctx("pods.json"), batch, default_kind="Pod")
    assert "events" not in batch.frames  # decoy: a scheduled pod has no such row


# -- 10. real line counts, reloads not malformed ----------------------------------------------
def test_rejected_file_reports_its_real_line_count(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("starting\n" * 12_000)
    with pytest.raises(ValueError, match=r"12000 non-blank lines"):
        detect(path)


def test_coredns_reload_lines_are_skipped_not_malformed(tmp_path):
    # as pasted in coredns/coredns#4804
    lines = ["[INFO] Reloading", "2021-08-12T08:49:09.660Z [INFO] plugin/reload: Running "
             "configuration MD5 = 2c2678d613dda4d5669dd465792642bd", "[INFO] Reloading complete",
             TWO_TIMES]
    batch = read(tmp_path, lines, "coredns")
    assert (batch.kept, batch.malformed, sum(batch.skipped.values())) == (1, 0, 3)


# -- 11. CoreDNS failures: no response, and upstream timeouts from the errors plugin ----------
NO_ANSWER = ('2021-08-23T03:03:08.411Z [INFO] 10.244.3.4:60001 - 55817 "AAAA IN '
             'oss-cn-hangzhou.aliyuncs.com. udp 46 false 512" - - 0 6.002435968s')
# kubernetes/kubernetes#91518 (CoreDNS 1.6.9), with kubectl's time in front
UPSTREAM_TIMEOUT = ("2020-05-28T03:03:08.002Z [ERROR] plugin/errors: 2 "
                    "accountant-server-http-provider-6b8756994f-zzf49. A: read udp "
                    "172.30.57.16:53039->119.29.29.29:53: i/o timeout")


def test_coredns_no_response_is_an_unanswered_query_with_its_latency():
    ((table, row),) = coredns.parse(NO_ANSWER, ctx())
    assert (table, row["rcode"], row["latency_s"]) == ("dns", "", 6.002435968)
    ((_, answered),) = coredns.parse(NO_ANSWER.replace(" - - 0 ", " NOERROR qr,rd 46 "), ctx())
    assert answered["rcode"] == "NOERROR"  # decoy: the same query answered


def test_coredns_upstream_timeout_is_a_dns_error_row_and_an_event():
    ((dns, query), (events, event)) = coredns.parse(UPSTREAM_TIMEOUT, ctx())
    assert (dns, events) == ("dns", "events")
    assert (query["client_ip"], query["client_port"], query["proto"]) == (
        "172.30.57.16", 53039, "udp")  # CoreDNS itself asked the upstream
    assert (query["qtype"], query["name"], query["rcode"]) == (
        "A", "accountant-server-http-provider-6b8756994f-zzf49.", "SERVFAIL")
    assert math.isnan(query["latency_s"])
    assert event["reason"] == "UpstreamTimeout"
    assert "119.29.29.29:53" in event["message"]
    other = UPSTREAM_TIMEOUT.replace("i/o timeout", "connection refused")
    assert coredns.parse(other, ctx())[1][1]["reason"] == "UpstreamError"


# -- 12. Docker json-file and CRI wrappers around any format; event-exporter output -----------
def _docker(line: str, time: str = "2021-08-23T03:02:58.123456789Z") -> str:
    return json.dumps({"log": line + "\n", "stream": "stdout", "time": time})


@pytest.mark.parametrize("fmt, line", [
    ("ingress-nginx", INGRESS),
    ("nginx-combined", COMBINED + " 0.2"),
    ("jsonl", '{"ts": "2021-08-23T03:02:58.120Z", "latency_ms": 402, "status": 200}'),
])
def test_wrapped_lines_of_every_format(tmp_path, fmt, line):
    lines = [_docker(line), f"2021-08-23T03:02:58.123456789Z stdout F {line}",
             f"2021-08-23T03:02:58.123456789Z {line}", line]
    batch = read(tmp_path, lines)
    assert (batch.kept, batch.malformed) == (4, 0)
    df = batch.frames["requests"]
    assert df.index.nunique() == 1  # the line's own time, not the wrapper's


def test_coredns_in_docker_json_takes_the_runtime_time(tmp_path):
    query = NO_ANSWER.split(" ", 1)[1]  # as CoreDNS 1.8.1+ prints it: no time
    batch = read(tmp_path, [_docker(query)] * 2)
    assert batch.kept == 2
    assert batch.frames["dns"].index[0] == pd.Timestamp("2021-08-23T03:02:58.123456Z")


def test_kubernetes_event_exporter_output(tmp_path):
    # the exporter's own log line as in thingsboard/thingsboard-ce-k8s#158; events as its
    # stdout sink writes them (corev1.Event inline, no kind/apiVersion, involvedObject
    # enriched with labels), e.g. resmoio/kubernetes-event-exporter
    event = json.loads((DATA / "kube" / "events-rook-ceph.json").read_text())["items"][0]
    event.pop("kind"), event.pop("apiVersion")
    event["involvedObject"]["labels"] = {"app": "rook-ceph-rgw"}
    event["clusterName"] = ""
    lines = ['{"level":"info","time":"2025-08-15T09:30:26Z","message":"Reading config file '
             '/data/config.yaml"}', json.dumps(event),
             "2021-08-23T02:41:08.000000001Z stdout F " + json.dumps(event).replace(
                 event["metadata"]["uid"], "another-uid"), "{not json"]
    path = tmp_path / "exporter.log"
    path.write_text("\n".join(lines) + "\n")
    batch = read_kube(path, ctx(path))
    assert (batch.lines, batch.kept, batch.malformed) == (4, 2, 1)
    assert batch.skipped == {"not an Event: event exporter's own log line": 1}
    events = batch.frames["events"]
    assert events["reason"].tolist() == ["Unhealthy", "Unhealthy"]
    assert events["count"].tolist() == [249, 249]
    assert events["object"].iloc[0] == (
        "pod/rook-ceph/rook-ceph-rgw-my-store-a-66b7d8cc9d-vrhkm")


def test_two_kubectl_dumps_appended_to_one_file_are_both_read(tmp_path):
    events = (DATA / "kube" / "events-rook-ceph.json").read_text()
    pods = (DATA / "kube" / "pods.json").read_text()
    path = tmp_path / "both.json"
    path.write_text(events + "\n" + pods)
    alone = [read_kube(DATA / "kube" / n, ctx(DATA / "kube" / n)).lines
             for n in ("events-rook-ceph.json", "pods.json")]
    batch = read_kube(path, ctx(path))
    assert batch.lines == sum(alone) and batch.malformed == 0
    assert {"events", "objects"} <= set(batch.frames)
